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
    status = StreamStatus(sync, Watchdog(10.0, clock), stale_after_s=5.0, symbol="BTCEUR", broadcaster=None,
                          lifetime=Lifetime())
    assert status.current == "live"
    clock.now += 5.01
    assert status.current == "stale"
    sync.disconnected()
    assert status.current == "backoff"  # only a live book can be stale
