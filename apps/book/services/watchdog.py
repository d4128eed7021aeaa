"""The depth-data watchdog: when the last depth event arrived, on an injected monotonic clock.

The connection loop reconnects once `remaining()` reaches 0 (no depth event for WATCHDOG_S); the
public status reads "stale" once `age()` passes STALE_AFTER_S. Every decision reads the injected
clock, so tests can move time forward instead of waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Watchdog:
    def __init__(self, timeout_s: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._monotonic = monotonic
        self.fed_at = monotonic()
        self.last_event_ms: int | None = None  # exchange time of the last depth event

    def feed(self, event_time_ms: int | None = None) -> None:
        """A depth event arrived (or a connection opened: the silence is counted from now)."""
        self.fed_at = self._monotonic()
        if event_time_ms is not None:
            self.last_event_ms = event_time_ms

    def age(self) -> float:
        """Seconds since the last feed."""
        return self._monotonic() - self.fed_at

    def remaining(self) -> float:
        """Seconds until the watchdog trips (<= 0: tripped)."""
        return self.fed_at + self.timeout_s - self._monotonic()

    @property
    def reason(self) -> str:
        return f"watchdog: no depth event for {self.timeout_s:g}s"
