"""The real streamer against the real simulator over loopback sockets, one fault at a time,
then every fault in one run. Every publication is compared with the simulator's truth."""

from __future__ import annotations

import gc
import math
import weakref
from decimal import Decimal

import pytest

from apps.simulator.server import BinanceSimulator
from tests.book.streaming import MovableClock, StreamHarness, start_harness

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def sim():
    simulator = BinanceSimulator(depth_interval_s=0.05, seed=3)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def harness(sim):
    h = await start_harness(sim)
    await h.live()
    yield h
    await h.stop()
    assert h.mismatches == [], h.mismatches


async def recovered(h: StreamHarness, sim: BinanceSimulator, timeout: float = 15.0) -> None:
    """Live again, at an update id the exchange reached after the fault."""
    await h.live(after_update_id=sim.update_id, timeout=timeout)


def no_request_inside_retry_after(sim: BinanceSimulator) -> list[str]:
    problems = []
    log = sim.rest_log
    for i, entry in enumerate(log):
        if entry.status in (429, 418):
            # the simulator answered with Retry-After = ceil(armed seconds); find it from the fault
            window_end = entry.monotonic_s + entry_retry_after(entry)
            for later in log[i + 1 :]:
                if later.monotonic_s < window_end - 0.01:
                    problems.append(
                        f"{later.path} at +{later.monotonic_s - entry.monotonic_s:.3f}s after {entry.status}"
                    )
    return problems


RETRY_AFTER_S = 1.0


def entry_retry_after(entry) -> float:
    return math.ceil(RETRY_AFTER_S)


async def test_first_sync_follows_the_procedure_and_publishes_truth(harness, sim):
    start = harness.live_checked
    await harness.until(lambda p: harness.live_checked >= start + 10)
    assert harness.streamer.snapshots_fetched >= 1
    depth = [r for r in sim.rest_log if r.path == "/api/v3/depth"]
    assert "limit=5000" in depth[0].query
    assert [r.path for r in sim.rest_log if r.path != "/api/v3/depth"] == ["/api/v3/exchangeInfo"]


@pytest.mark.parametrize("fault", ["duplicate", "overlap", "old_event"])
async def test_duplicate_overlapping_and_old_events_keep_the_book_without_resync(harness, sim, fault):
    getattr(sim, f"inject_{fault}")()
    await recovered(harness, sim)
    await recovered(harness, sim)
    assert dict(harness.streamer.sync.resyncs) == {}
    assert harness.streamer.snapshots_fetched == 1


async def test_gap_forces_resync_and_recovers(harness, sim):
    sim.inject_gap(5)
    await harness.until(lambda p: p.status == "resyncing" or harness.streamer.sync.resyncs["gap"] >= 1)
    await recovered(harness, sim)
    assert harness.streamer.sync.resyncs["gap"] == 1
    assert "resyncing" in harness.statuses


async def test_snapshot_older_than_first_buffered_event_is_refetched(harness, sim):
    sim.snapshot_stale(times=2)
    harness.streamer.request_resync("test")
    await recovered(harness, sim)
    assert harness.streamer.snapshots_too_old == 2


async def test_snapshot_newer_than_everything_buffered(harness, sim):
    await sim.ws_lag(0.6)
    harness.streamer.request_resync("test")
    await recovered(harness, sim)
    assert harness.streamer.sync.resyncs == {"test": 1}


@pytest.mark.parametrize(
    ("kind", "counter"),
    [
        ("malformed_json", "malformed json"),
        ("truncated", "malformed json"),
        ("error_payload", "error payload"),
        ("wrong_symbol", "wrong symbol"),
        ("unknown_event", "unknown event"),
    ],
)
async def test_bad_frames_are_counted_and_survived(harness, sim, kind, counter):
    sim.inject_frame(kind)
    await harness.until(lambda p: harness.streamer.bad_frames[counter] >= 1)
    await recovered(harness, sim)
    assert dict(harness.streamer.sync.resyncs) == {}  # continuity was never in doubt


async def test_server_shutdown_hands_over_without_a_not_ready_window(harness, sim):
    assert harness.statuses[-1] == "live"
    mark = len(harness.statuses)
    sim.inject_frame("server_shutdown")
    await harness.until(lambda p: harness.streamer.handovers >= 1)
    await recovered(harness, sim)
    assert harness.statuses[mark:] == []  # never left "live"
    assert harness.streamer.snapshots_fetched == 1  # spliced, no new snapshot


async def test_proactive_reconnect_before_24h_is_make_before_break(sim):
    h = await start_harness(sim, reconnect_after_s=1.0)
    try:
        await h.live()
        mark = len(h.statuses)
        await h.until(lambda p: h.streamer.handovers >= 2)
        await recovered(h, sim)
        assert h.statuses[mark:] == []  # never left "live"
        assert h.streamer.snapshots_fetched == 1
    finally:
        await h.stop()
    assert h.mismatches == []


@pytest.mark.parametrize("mode", ["abrupt", "going_away"])
async def test_disconnect_reconnects_with_backoff(harness, sim, mode):
    await sim.disconnect(mode)
    await harness.until(lambda p: sum(harness.streamer.reconnects.values()) >= 1)
    await recovered(harness, sim)
    assert harness.streamer.last_backoff_s <= 0.05  # first attempt: full jitter under base


async def test_each_recovery_calls_on_recovered_once_the_dead_connection_is_garbage(sim):
    """The server processes collect garbage whenever the book is live again (apps/core/garbage_collection.py):
    by then the interrupted connection must be unreachable, or that collection would free nothing."""
    connections: list[weakref.ref] = []
    alive_at_recovery: list[list[bool]] = []

    def on_recovered() -> None:
        gc.collect()
        alive_at_recovery.append([ref() is not None for ref in connections])
        assert streamer.connections.active is not None
        if not connections or connections[-1]() is not streamer.connections.active.ws:
            connections.append(weakref.ref(streamer.connections.active.ws))

    h = await start_harness(sim, on_recovered=on_recovered)
    streamer = h.streamer
    try:
        await h.live()
        assert alive_at_recovery == [[]]  # the first sync counts: live after connecting
        sim.inject_gap(5)
        await recovered(h, sim)
        assert alive_at_recovery[1:] == [[True]]  # a resync keeps the socket
        await sim.disconnect("abrupt")
        await h.until(lambda p: sum(streamer.reconnects.values()) >= 1)
        await recovered(h, sim)
        assert alive_at_recovery[2:] == [[False]]  # the dead connection is already garbage
    finally:
        await h.stop()
    assert h.mismatches == []


async def test_reconnect_splices_when_no_event_was_missed():
    async with BinanceSimulator(depth_interval_s=1.0, seed=5) as slow_sim:
        h = await start_harness(slow_sim, backoff_base_s=0.01, backoff_cap_s=0.02, watchdog_s=5)
        try:
            await h.live()
            await slow_sim.disconnect("going_away")
            await h.until(lambda p: h.streamer.sync.splices >= 1, timeout=10)
            await h.live(after_update_id=slow_sim.update_id, timeout=10)
            assert h.streamer.snapshots_fetched == 1
        finally:
            await h.stop()
        assert h.mismatches == []


def watchdog_tripped(h: StreamHarness) -> bool:
    return any(k.startswith("watchdog") for k in h.streamer.reconnects)


async def test_silent_stall_trips_the_watchdog(sim):
    """On the streamer's injected clock: a 1 s stall, moved 31 s forward, trips a 30 s watchdog."""
    clock = MovableClock()
    h = await start_harness(sim, monotonic=clock, watchdog_s=30.0)
    try:
        await h.live()
        sim.stall(1.0)
        await h.quiet()
        assert not watchdog_tripped(h)
        clock.advance(31.0)
        await h.until(lambda p: watchdog_tripped(h), timeout=2)
        assert h.streamer.reconnects == {"watchdog": 1}
        await recovered(h, sim)
    finally:
        await h.stop()
    assert h.mismatches == []


@pytest.mark.parametrize("kind", ["429", "418"])
async def test_rate_limit_answers_block_every_rest_call_until_retry_after(harness, sim, kind):
    sim.rest_fault(kind, retry_after=RETRY_AFTER_S)
    harness.streamer.request_resync("test")
    await recovered(harness, sim)
    assert no_request_inside_retry_after(sim) == []
    counted = harness.streamer.budget.bans_429 if kind == "429" else harness.streamer.budget.bans_418
    assert counted == 1


@pytest.mark.parametrize("kind", ["500", "timeout", "error_body"])
async def test_transient_rest_failures_retry_with_backoff(harness, sim, kind):
    sim.rest_fault(kind, delay_s=2.0)
    harness.streamer.request_resync("test")
    await recovered(harness, sim)
    # the failed snapshot request is asked again, after the pacing pause, and then succeeds
    depth = [r for r in sim.rest_log if r.path == "/api/v3/depth"]
    failed = next(i for i, r in enumerate(depth) if r.fault == kind)
    assert depth[-1].status == 200 and len(depth) > failed + 1


async def test_buffer_overflow_resyncs_instead_of_dropping(sim):
    h = await start_harness(sim, buffer_max_events=3)
    try:
        await h.live()
        sim.rest_fault("timeout", delay_s=1.0)  # snapshot slow: more than 3 events buffer up
        h.streamer.request_resync("test")
        await h.until(lambda p: h.streamer.sync.resyncs["buffer overflow"] >= 1)
        await recovered(h, sim)
    finally:
        await h.stop()
    assert h.mismatches == []


async def test_digit_boundary_market_publishes_truth():
    async with BinanceSimulator(depth_interval_s=0.05, seed=9, start_price=Decimal("99999.00")) as boundary:
        h = await start_harness(boundary)
        try:
            await h.live()
            boundary.fast_move("up", Decimal("5"))
            await h.until(lambda p: p.view is not None and p.view.bids[0][0] >= Decimal("100000"), timeout=10)
            boundary.fast_move("down", Decimal("10"))
            await h.until(lambda p: p.view is not None and p.view.asks[0][0] < Decimal("100000"), timeout=10)
        finally:
            await h.stop()
        assert h.mismatches == [] and h.live_checked > 0


async def test_every_fault_in_one_run(sim):
    """Issue 2's acceptance run: all faults, zero wrong books, every fault recovered, no REST call
    inside a Retry-After window."""
    h = await start_harness(sim)
    recoveries: dict[str, int] = {}
    try:
        await h.live()

        async def step(name, arm, resync=False):
            await arm()
            if resync:
                h.streamer.request_resync(name)
            await recovered(h, sim, timeout=20)
            recoveries[name] = h.live_checked

        async def armed(call):
            result = call()
            if result is not None and hasattr(result, "__await__"):
                await result

        await step("gap", lambda: armed(lambda: sim.inject_gap(3)))
        await step("duplicate", lambda: armed(sim.inject_duplicate))
        await step("overlap", lambda: armed(sim.inject_overlap))
        await step("old_event", lambda: armed(sim.inject_old_event))
        await step("snapshot_stale", lambda: armed(lambda: sim.snapshot_stale(times=1)), resync=True)
        await step("ws_lag", lambda: armed(lambda: sim.ws_lag(0.5)), resync=True)
        for kind in (
            "malformed_json",
            "truncated",
            "error_payload",
            "wrong_symbol",
            "unknown_event",
            "server_shutdown",
        ):
            await step(kind, lambda kind=kind: armed(lambda: sim.inject_frame(kind)))
        await step("abrupt", lambda: armed(lambda: sim.disconnect("abrupt")))
        await step("going_away", lambda: armed(lambda: sim.disconnect("going_away")))
        await step("stall", lambda: armed(lambda: sim.stall(2.5)))
        for kind in ("429", "418", "500", "timeout", "error_body"):
            await step(
                f"rest_{kind}",
                lambda kind=kind: armed(lambda: sim.rest_fault(kind, retry_after=RETRY_AFTER_S, delay_s=2.0)),
                resync=True,
            )
        await step("fast_move", lambda: armed(lambda: sim.fast_move("down", Decimal("150"))))
    finally:
        await h.stop()
    assert len(recoveries) == 21
    assert h.mismatches == []
    assert h.live_checked > 50
    assert no_request_inside_retry_after(sim) == []
    s = h.streamer
    assert s.sync.resyncs["gap"] >= 1
    assert s.bad_frames["malformed json"] >= 2 and s.bad_frames["error payload"] >= 1
    assert s.bad_frames["wrong symbol"] >= 1 and s.bad_frames["unknown event"] >= 1
    assert s.budget.bans_429 >= 1 and s.budget.bans_418 >= 1
    assert any(k.startswith("watchdog") for k in s.reconnects)


async def test_a_stalled_stream_reads_stale_before_the_watchdog_reconnects(sim):
    clock = MovableClock()
    h = await start_harness(sim, monotonic=clock, stale_after_s=5.0, watchdog_s=30.0)
    try:
        await h.live()
        sim.stall(1.0)
        await h.quiet()
        assert h.statuses[-1] == "live"
        clock.advance(6.0)  # past STALE_AFTER_S, not yet the watchdog
        stale = await h.until(lambda p: p.status == "stale", timeout=2)
        assert stale.view is not None  # the last in-sync book, labelled stale
        assert not watchdog_tripped(h)
        clock.advance(30.0)
        await h.until(lambda p: watchdog_tripped(h), timeout=2)
        await recovered(h, sim)
    finally:
        await h.stop()
    assert h.mismatches == []


async def test_watchdog_trips_when_only_trades_keep_flowing(sim):
    clock = MovableClock()
    h = await start_harness(sim, monotonic=clock, watchdog_s=30.0)
    try:
        await h.live()
        sim.inject_gap(skip_ids=150)  # ~1 s without any depth event; aggTrades continue
        await h.quiet()
        trades = h.streamer.frames["trade"]
        clock.advance(31.0)
        await h.until(lambda p: watchdog_tripped(h), timeout=2)
        assert h.streamer.frames["trade"] > trades
        await recovered(h, sim)
    finally:
        await h.stop()
    assert h.mismatches == []
