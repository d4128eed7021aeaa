"""The snapshot policy: the weight budget is the only limit, consecutive snapshot requests are paced
(0.5 s doubling to the cap, reset after a live minute), a 429/418 is waited out and is no failed try,
and after a storm of faults the book is live again within the documented bound."""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal

import pytest

from apps.book.domain.rate_limit import SnapshotPacing, WeightBudget, depth_weight
from apps.book.domain.wire import STATIC_BOUNDS, LevelBounds
from apps.book.services.rest_client import BinanceRestClient, RestError
from apps.simulator.server import BinanceSimulator
from tests.book.streaming import start_harness

SNAPSHOT_WEIGHT = depth_weight(5000)


def test_consecutive_snapshot_requests_pause_longer_each_time_up_to_the_cap():
    pacing = SnapshotPacing(base_s=0.5, cap_s=30.0, reset_after_live_s=60.0)
    pauses = [pacing.next_pause(now=100.0) for _ in range(10)]
    assert pauses == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    pacing.went_live(200.0)
    assert pacing.next_pause(now=230.0) == 30.0  # live for 30 s only: still in the storm
    pacing.went_live(300.0)
    assert pacing.next_pause(now=360.0) == 0.0  # live for a minute: a fresh start
    assert pacing.next_pause(now=360.0) == 0.5


def test_a_storm_of_snapshot_requests_stays_far_inside_the_weight_budget():
    """Every request as soon as the pacing allows, for ten minutes: the most weight in any minute."""
    pacing, now, sent = SnapshotPacing(), 0.0, []
    while now < 600:
        now += pacing.next_pause(now)
        sent.append(now)
    busiest = max(sum(1 for t in sent if start <= t < start + 60) for start in sent)
    assert busiest * SNAPSHOT_WEIGHT <= 2000 < 6000 - 1000  # the default budget keeps 1000 in reserve
    assert max(b - a for a, b in itertools.pairwise(sent)) == 30.0  # never slower than the cap


def test_the_budget_waits_for_weight_and_for_retry_after_only():
    budget = WeightBudget(limit_per_minute=1000, reserve=200)
    assert budget.wait_for(250, now=60.0) == 0.0
    for _ in range(3):
        budget.spend(250, now=60.0, snapshot=True)
    assert budget.wait_for(250, now=70.0) == pytest.approx(50.0)  # 1000 > 800: the next minute
    budget.block(5.0, now=130.0, reason="429")
    assert budget.wait_for(5, now=131.0) == pytest.approx(4.0)
    assert budget.snapshots_in_window(now=131.0) == 3
    budget.adopt_exchange_limit(1200)
    assert budget.limit_per_minute == 1200


async def test_429s_are_waited_out_and_are_not_failed_attempts():
    async with BinanceSimulator(depth_interval_s=0.05, seed=2) as sim:
        client = BinanceRestClient(sim.rest_url, max_attempts=2)
        try:
            sim.rest_fault("429", times=2, retry_after=1.0)
            sim.rest_fault("500", times=1)
            rows = await client.get_klines("BTCEUR", "1h", None, None, 5)
            assert len(rows) == 5  # 2 x 429 (waited), 1 x 500 (attempt 1), then attempt 2 succeeds
            statuses = [r.status for r in sim.rest_log]
            assert statuses == [429, 429, 500, 200]
            sim.rest_fault("500", times=2)
            with pytest.raises(RestError, match="after 2 attempts"):
                await client.get_klines("BTCEUR", "1h", None, None, 5)
        finally:
            await client.aclose()


async def test_the_weight_limit_comes_from_exchange_info():
    async with BinanceSimulator(depth_interval_s=0.05, seed=2, weight_limit_1m=1200) as sim:
        client = BinanceRestClient(sim.rest_url)
        try:
            assert client.level_bounds == STATIC_BOUNDS  # until exchangeInfo answered
            await client.refresh_exchange_info("BTCEUR")
            assert client.budget.limit_per_minute == 1200
            # PRICE_FILTER 0.01..1,000,000 and 10,000 x LOT_SIZE maxQty 9000
            assert client.level_bounds == LevelBounds(
                Decimal("0.01"), Decimal(1_000_000), Decimal(90_000_000)
            )
            sim.rest_fault("500", times=1)
            await client.refresh_exchange_info("BTCEUR")  # unavailable: the limit stays, nothing raised
            assert client.budget.limit_per_minute == 1200
            assert client.level_bounds.max_price == Decimal(1_000_000)
        finally:
            await client.aclose()


def faulted_inside_a_window(sim: BinanceSimulator) -> list[str]:
    """Requests that arrived while a 429/418 Retry-After window was open (the exchange escalates those)."""
    log, problems = sim.rest_log, []
    for i, entry in enumerate(log):
        if entry.status in (429, 418):
            for later in log[i + 1 :]:
                if later.monotonic_s < entry.monotonic_s + 1.0 - 0.01:
                    problems.append(
                        f"{later.path} {later.monotonic_s - entry.monotonic_s:.3f}s after {entry.status}"
                    )
    return problems


@pytest.mark.slow
async def test_twenty_faults_in_a_minute_then_live_within_the_bound_inside_the_budget():
    """20 gap and snapshot faults in ~40 s with the default pacing (0.5 s doubling to 30 s): once the
    exchange is healthy the book is live within cap + one snapshot request; the REST weight never
    passed the budget; no request inside a Retry-After window."""
    cap_s, snapshot_timeout_s = 30.0, 10.0
    async with BinanceSimulator(depth_interval_s=0.05, seed=5) as sim:
        h = await start_harness(
            sim, backoff_base_s=0.5, backoff_cap_s=cap_s, rest_timeout_s=snapshot_timeout_s
        )
        try:
            await h.live()
            snapshot_faults = [
                lambda: sim.snapshot_stale(times=1),
                lambda: sim.rest_fault("500", times=1, path="/api/v3/depth"),
                lambda: sim.rest_fault("429", times=1, retry_after=1.0, path="/api/v3/depth"),
            ]
            armed = 0
            for n in range(20):
                sim.inject_gap(3 + n % 4)
                if sim.faults.pending() == 0:  # a snapshot fault whenever the last one was served
                    snapshot_faults[armed % len(snapshot_faults)]()
                    armed += 1
                await asyncio.sleep(2.0)  # the faults' own cadence: one every 2 s
            # the exchange is healthy again once the last armed snapshot fault has been served
            await h.until(lambda p: sim.faults.pending() == 0, timeout=cap_s + snapshot_timeout_s)
            healthy_at = time.monotonic()
            await h.live(after_update_id=sim.update_id, timeout=cap_s + snapshot_timeout_s)
            recovered_s = time.monotonic() - healthy_at
        finally:
            await h.stop()
    assert h.mismatches == []
    assert recovered_s <= cap_s + snapshot_timeout_s
    assert max(r.used_weight_1m for r in sim.rest_log) <= 6000 - 1000
    assert faulted_inside_a_window(sim) == []
    assert armed >= 3 and sum(h.streamer.sync.resyncs.values()) >= 3
