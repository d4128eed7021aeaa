"""The stream's public status: the synchronizer's, except "stale" while in sync but no depth event
arrived for STALE_AFTER_S (read on the watchdog's injected clock). Each change is logged and pushed
as kind "status", with what a person needs to judge it: since when (`since_ms`, wall clock), why
(`reason`: the disconnect, connect failure or resync reason), which reconnect attempt (`attempt`, 0
once live) and the last error seen (`last_error`: text and time). A new reason or attempt within the
same status is pushed too (the page shows "reconnecting to Binance (reason, attempt n)"), but only a
status change is logged here: the parts that hit the error log it themselves."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
        clock: Callable[[], float],
    ) -> None:
        self.sync = sync
        self.watchdog = watchdog
        self.stale_after_s = stale_after_s
        self.symbol = symbol
        self.broadcaster = broadcaster
        self.lifetime = lifetime
        self.clock = clock
        self._last = ""
        self.since_ms = self._now_ms()
        self.reason = ""
        self.attempt = 0
        self.last_error: dict[str, Any] | None = None
        self._pushed: tuple[str, str, int] | None = None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    @property
    def current(self) -> str:
        status = PUBLIC_STATUS[self.sync.state]
        if status == "live" and self.watchdog.age() > self.stale_after_s:
            return "stale"
        return status

    def note(
        self, status: str | None = None, *, reason: str | None = None, attempt: int | None = None
    ) -> None:
        """Log and push the status if it changed (`status`: the current one, when already read);
        `reason` / `attempt` describe the state being entered or retried."""
        status = status or self.current
        if status != self._last:
            log.info("status %s -> %s", self._last or "-", status)
            self._last = status
            self.since_ms = self._now_ms()
            if reason is None:
                self.reason = ""
        if reason is not None:
            self.reason = reason[:200]
        if attempt is not None:
            self.attempt = attempt
        if status == "live":
            self.reason, self.attempt = "", 0
        if self.broadcaster is not None and self._pushed != (status, self.reason, self.attempt):
            self._pushed = (status, self.reason, self.attempt)
            self.lifetime.spawn(
                self.broadcaster.send("status", {"symbol": self.symbol, "status": status, **self.details()})
            )

    def error(self, text: str) -> None:
        """Remember the last error (a failed connect or snapshot, a lost connection)."""
        self.last_error = {"text": text[:300], "ts_ms": self._now_ms()}

    def details(self) -> dict[str, Any]:
        return {
            "since_ms": self.since_ms,
            "reason": self.reason,
            "attempt": self.attempt,
            "last_error": self.last_error,
        }
