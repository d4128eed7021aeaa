"""The `orderbook` worker channel: control messages for the streamer running in this process."""

from __future__ import annotations

import logging
from typing import Any

from channels.consumer import AsyncConsumer

from apps.book.services.runtime import current_streamer

log = logging.getLogger("apps.book.worker")


class OrderBookWorkerConsumer(AsyncConsumer):
    """Accepts {"type": "orderbook.resync", "reason": "..."} (forced resync)."""

    async def orderbook_resync(self, message: dict[str, Any]) -> None:
        streamer = current_streamer()
        reason = str(message.get("reason") or "control message")[:80]
        if streamer is None:
            log.warning("resync requested (%s) but no streamer runs in this process", reason)
            return
        log.info("resync requested via channel: %s", reason)
        streamer.request_resync(reason)
