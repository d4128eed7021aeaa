"""The streamer's parts on their own: the watchdog and the public status on a hand-moved clock."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.book.domain.events import DepthEvent, DepthSnapshot
from apps.book.domain.sync import DepthSynchronizer
from apps.book.services.lifetime import Lifetime
from apps.book.services.status import StreamStatus
from apps.book.services.watchdog import Watchdog


class ManualClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def live_sync() -> DepthSynchronizer:
    sync = DepthSynchronizer(snapshot_limit=5)
    sync.connected()
    sync.on_event(DepthEvent(11, 12, 1, ((D(99), D(1)),), ()))
    sync.on_snapshot(DepthSnapshot(11, ((D(99), D(2)), (D(98), D(1))), ((D(101), D(3)),)))
    assert sync.ready
    return sync


def test_the_watchdog_decides_on_its_clock_only():
    clock = ManualClock()
    watchdog = Watchdog(10.0, clock)
    clock.now += 9.5
    assert watchdog.remaining() == pytest.approx(0.5) and watchdog.age() == pytest.approx(9.5)
    watchdog.feed(event_time_ms=123)
    assert watchdog.remaining() == pytest.approx(10.0) and watchdog.last_event_ms == 123
    clock.now += 10.0
    assert watchdog.remaining() <= 0
    assert watchdog.reason == "watchdog: no depth event for 10s"
    watchdog.feed()  # a new connection: the silence is counted from now, the last event time stays
    assert watchdog.remaining() == pytest.approx(10.0) and watchdog.last_event_ms == 123


def test_status_reads_stale_after_stale_after_s_on_the_injected_clock():
    clock = ManualClock()
    sync = live_sync()
    status = StreamStatus(
        sync,
        Watchdog(10.0, clock),
        stale_after_s=5.0,
        symbol="BTCEUR",
        broadcaster=None,
        lifetime=Lifetime(),
        clock=clock,
    )
    assert status.current == "live"
    clock.now += 5.01
    assert status.current == "stale"
    sync.disconnected()
    assert status.current == "backoff"  # only a live book can be stale


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def send(self, kind: str, data: dict) -> None:
        self.sent.append((kind, data))


async def test_status_tells_since_when_why_which_attempt_and_the_last_error():
    """What the page's headline and /api/health need: pushed on a new status, reason or attempt."""
    import asyncio

    wall = ManualClock(1_700_000_000.0)
    sync, sink, lifetime = live_sync(), Sink(), Lifetime()
    status = StreamStatus(
        sync,
        Watchdog(10.0, ManualClock()),
        stale_after_s=5.0,
        symbol="BTCEUR",
        broadcaster=sink,
        lifetime=lifetime,
        clock=wall,
    )
    status.note()
    sync.disconnected()
    wall.now += 3
    status.error("connect failed: OSError: refused")
    status.note(reason="connect failed: OSError: refused", attempt=1)
    wall.now += 2
    status.note(reason="connect failed: OSError: refused", attempt=2)  # same status, next attempt: pushed
    status.note(reason="connect failed: OSError: refused", attempt=2)  # nothing new: not pushed
    await asyncio.sleep(0)
    assert [data["status"] for _, data in sink.sent] == ["live", "backoff", "backoff"]
    retry = sink.sent[-1][1]
    assert retry["since_ms"] == 1_700_000_003_000  # when backoff began, not the latest attempt
    assert (retry["reason"], retry["attempt"]) == ("connect failed: OSError: refused", 2)
    assert retry["last_error"] == {"text": "connect failed: OSError: refused", "ts_ms": 1_700_000_003_000}
    live_again = StreamStatus(
        live_sync(),
        Watchdog(10.0, ManualClock()),
        stale_after_s=5.0,
        symbol="BTCEUR",
        broadcaster=None,
        lifetime=lifetime,
        clock=wall,
    )
    live_again.note(reason="gap", attempt=3)
    assert (live_again.reason, live_again.attempt) == ("", 0)  # live: nothing to explain
