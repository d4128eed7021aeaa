"""The stream's public status: the synchronizer's, except "stale" while in sync but no depth event
arrived for STALE_AFTER_S (read on the watchdog's injected clock). Each change is logged and pushed
as kind "status"."""

from __future__ import annotations

import logging

from apps.book.domain.sync import PUBLIC_STATUS, DepthSynchronizer
from apps.book.services.cycle import DeltaSink
from apps.book.services.lifetime import Lifetime
from apps.book.services.watchdog import Watchdog

log = logging.getLogger("apps.book.streamer")


class StreamStatus:
    def __init__(
        self,
        sync: DepthSynchronizer,
        watchdog: Watchdog,
        *,
        stale_after_s: float,
        symbol: str,
        broadcaster: DeltaSink | None,
        lifetime: Lifetime,
    ) -> None:
        self.sync = sync
        self.watchdog = watchdog
        self.stale_after_s = stale_after_s
        self.symbol = symbol
        self.broadcaster = broadcaster
        self.lifetime = lifetime
        self._last = ""

    @property
    def current(self) -> str:
        status = PUBLIC_STATUS[self.sync.state]
        if status == "live" and self.watchdog.age() > self.stale_after_s:
            return "stale"
        return status

    def note(self, status: str | None = None) -> None:
        """Log and push the status if it changed (`status`: the current one, when already read)."""
        status = status or self.current
        if status != self._last:
            log.info("status %s -> %s", self._last or "-", status)
            self._last = status
            if self.broadcaster is not None:
                self.lifetime.spawn(self.broadcaster.send("status", {"symbol": self.symbol, "status": status}))
