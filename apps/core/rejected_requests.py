"""One log line per request Django refuses as suspicious, not a traceback and a second line.

Django logs a SuspiciousOperation (a Host not in ALLOWED_HOSTS, over 1000 query parameters...) on
`django.security.<name>` with the exception's traceback (~2 KB of frames inside Django that say
nothing about the request), then `django.request` logs "Bad Request: <path>" for the same answer.
Anyone can send such requests as fast as they like, so each costs one line here: the security
record without its traceback, with the method and the path (quoted, so no control character from
the path reaches the log), and the request's `django.request` line dropped.

Relies on what Django documents for both loggers: their records carry `request` and
`status_code` as extra attributes.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

SECURITY_LOGGER = "django.security."
REQUEST_LOGGER = "django.request"


class OneLinePerRejectedRequest(logging.Filter):
    """A handler filter (settings.LOGGING) that keeps the first line about a refused request only."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._logged: weakref.WeakSet[Any] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if record.name.startswith(SECURITY_LOGGER):
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
            if request is not None:
                record.msg = f"{record.getMessage()} ({getattr(request, 'method', '?')} {request.path!r})"
                record.args = None
                self._logged.add(request)
            return True
        if record.name == REQUEST_LOGGER and request is not None and request in self._logged:
            return False
        return True
