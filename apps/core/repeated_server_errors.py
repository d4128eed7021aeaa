"""One traceback per kind of server error, not one per request.

When the database fails, every request that reads it fails the same way, and Django's
`django.request` logger writes the whole traceback for each 500 (dozens of lines, several times a
second with a few pollers). This handler filter lets the first one of a kind (exception type and
text) through with its traceback; the same error again within `interval_s` is only counted, and
the next one after that is logged as one line saying how many were not logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

REQUEST_LOGGER = "django.request"


class RepeatedServerErrors(logging.Filter):
    def __init__(
        self, name: str = "", interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(name)
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._skipped: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != REQUEST_LOGGER or not record.exc_info or record.exc_info[1] is None:
            return True
        exc = record.exc_info[1]
        key = (type(exc).__name__, str(exc)[:300])
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False
        self._last[key] = now
        skipped = self._skipped.pop(key, 0)
        if last is not None:  # seen before: one line, no traceback
            record.msg = f"{record.getMessage()}: {key[0]}: {key[1]} (again; {skipped} more not logged)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
