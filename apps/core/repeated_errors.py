"""One log line per run of identical errors, not a traceback per second.

A failing database or a broken listener fails the same way every publication cycle. The first
occurrence is logged with its traceback; the same error again (same place, type and text) is only
counted, and while it keeps repeating the count is logged once every `summary_every_s`. When that
place succeeds again, or fails differently, one line says how many times it had repeated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Run:
    key: tuple[str, str]  # exception type and text
    repeats: int = 0  # occurrences after the first
    unreported: int = 0  # repeats not in a summary line yet
    summarised_at: float = 0.0


class RepeatedErrors:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        summary_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = logger
        self.summary_every_s = summary_every_s
        self.clock = clock
        self._runs: dict[str, _Run] = {}

    def error(self, where: str, exc: BaseException) -> None:
        """Log `exc` raised at `where` (a short description) unless it repeats the last one there."""
        key = (type(exc).__name__, str(exc)[:500])
        run = self._runs.get(where)
        now = self.clock()
        if run is None or run.key != key:
            if run is not None:
                self._end(where, run, "now failing differently")
            self._runs[where] = _Run(key, summarised_at=now)
            self.log.error("%s failed; continuing", where, exc_info=exc)
            return
        run.repeats += 1
        run.unreported += 1
        if now - run.summarised_at >= self.summary_every_s:
            self.log.error(
                "%s failed again: %s: %s (%d more time(s) in the last %.0f s)",
                where,
                key[0],
                key[1],
                run.unreported,
                now - run.summarised_at,
            )
            run.unreported, run.summarised_at = 0, now

    def ok(self, where: str) -> None:
        """`where` succeeded: close its run of errors, if any, with one line."""
        run = self._runs.pop(where, None)
        if run is not None:
            self._end(where, run, "recovered")

    def _end(self, where: str, run: _Run, how: str) -> None:
        self.log.warning("%s %s after %d repeat(s) of %s: %s", where, how, run.repeats, *run.key)


class LinesPerInterval:
    """At most one log line per key per `interval_s`: a stream of bad frames (one every 100 ms from a
    broken feed) is one line a minute per kind, saying how many were not logged in between."""

    def __init__(self, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None: do not log now (counted). Otherwise log, mentioning the returned count of lines
        skipped since the last one."""
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._skipped.pop(key, 0)
