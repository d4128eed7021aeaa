"""The `orderbook` worker channel: control messages for the streamer running in this process.

The streamer reaches the consumer through the ASGI scope: `runworker orderbook` (StreamingWorker,
apps/live/management/commands/runworker.py) puts it under `scope["streamer"]`; no process-wide
lookup.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.consumer import AsyncConsumer

log = logging.getLogger("apps.live.worker")

STREAMER_SCOPE_KEY = "streamer"


class OrderBookWorkerConsumer(AsyncConsumer):
    """Accepts {"type": "orderbook.resync", "reason": "..."} (forced resync)."""

    async def orderbook_resync(self, message: dict[str, Any]) -> None:
        streamer = self.scope.get(STREAMER_SCOPE_KEY)
        reason = str(message.get("reason") or "control message")[:80]
        if streamer is None:
            log.warning("resync requested (%s) but no streamer runs in this process", reason)
            return
        log.info("resync requested via channel: %s", reason)
        streamer.request_resync(reason)
