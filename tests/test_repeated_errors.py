"""A failure repeated every cycle is one traceback, then a count, then one line when it ends."""

from __future__ import annotations

import logging

from apps.core.repeated_errors import RepeatedErrors


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_identical_errors_are_counted_not_logged_each_time(caplog):
    clock, log = Clock(), logging.getLogger("test.repeated")
    errors = RepeatedErrors(log, summary_every_s=60, clock=clock)
    with caplog.at_level(logging.WARNING, logger="test.repeated"):
        for _ in range(120):  # two minutes of a locked database, once a second
            errors.error("publication", RuntimeError("database is locked"))
            clock.now += 1
        errors.error("publication", ValueError("disk full"))
        errors.ok("publication")
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert lines[0] == ("ERROR", "publication failed; continuing", True)
    summaries = [m for _, m, _ in lines if "more time(s)" in m]
    assert summaries == [
        "publication failed again: RuntimeError: database is locked (60 more time(s) in the last 60 s)"
    ]
    assert (
        "WARNING",
        "publication now failing differently after 119 repeat(s) of RuntimeError: database is locked",
        False,
    ) in lines
    assert lines[-1] == ("WARNING", "publication recovered after 0 repeat(s) of ValueError: disk full", False)
    assert sum(1 for _, _, traced in lines if traced) == 2  # one traceback per distinct failure
    assert len(lines) == 5  # instead of 121 tracebacks


def test_lines_per_interval_logs_one_line_per_key_per_interval_with_the_count_skipped():
    from apps.core.repeated_errors import LinesPerInterval

    now = [0.0]
    lines = LinesPerInterval(60.0, clock=lambda: now[0])
    assert lines.allow("bad trade") == 0
    assert [lines.allow("bad trade") for _ in range(99)] == [None] * 99
    assert lines.allow("bad kline") == 0  # another key has its own budget
    now[0] = 59.9
    assert lines.allow("bad trade") is None
    now[0] = 60.0
    assert lines.allow("bad trade") == 100
    assert lines.allow("bad trade") is None


def test_a_server_error_repeated_by_every_request_logs_one_traceback_then_a_line_a_minute():
    import logging
    import sys

    from apps.core.repeated_server_errors import RepeatedServerErrors

    now = [0.0]
    errors = RepeatedServerErrors(clock=lambda: now[0])

    def record(text: str) -> logging.LogRecord:
        try:
            raise RuntimeError(text)
        except RuntimeError:
            exc_info = sys.exc_info()
        return logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/api/x",), exc_info
        )

    first = record("database is locked")
    assert errors.filter(first) and first.exc_info is not None
    assert [errors.filter(record("database is locked")) for _ in range(50)] == [False] * 50
    other = record("disk I/O error")  # another error: its own traceback
    assert errors.filter(other) and other.exc_info is not None
    now[0] = 61.0
    summary = record("database is locked")
    assert errors.filter(summary) and summary.exc_info is None
    assert summary.getMessage() == (
        "Internal Server Error: /api/x: RuntimeError: database is locked (again; 50 more not logged)"
    )
    plain = logging.LogRecord("apps.book", logging.ERROR, __file__, 1, "x", None, None)
    assert errors.filter(plain)
