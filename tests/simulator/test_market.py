"""The pure simulated market: truth history, invariants, walls, fast moves, determinism."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sortedcontainers import SortedDict

from apps.simulator.market import SimulatedMarket, TruthUnavailable, apply_changes

START_MS = 1_800_000_000_000


def run(market: SimulatedMarket, ticks: int, start_ms: int = START_MS, step_ms: int = 100) -> list:
    out = []
    for i in range(ticks):
        out.append(market.step(start_ms + (i + 1) * step_ms))
    return out


def test_every_update_id_is_an_uncrossed_book_and_replay_matches_truth():
    market = SimulatedMarket(seed=11, levels_per_side=400, fast_move_mean_interval_s=20.0)
    bids, asks = (SortedDict(side) for side in market.top_ints(10_000))
    expected_id = market.update_id + 1
    ticks = run(market, 1500)
    assert market.fast_moves >= 1
    checked = 0
    for tick in ticks:
        if tick.depth is None:
            continue
        event = tick.depth
        assert event.first_id == expected_id
        assert event.final_id - event.first_id + 1 == len(event.changes)
        for offset, change in enumerate(event.changes):
            apply_changes(bids, asks, [change])
            assert bids and asks, f"empty side at id {event.first_id + offset}"
            assert bids.peekitem(-1)[0] < asks.peekitem(0)[0], f"crossed at id {event.first_id + offset}"
            if (event.first_id + offset) % 97 == 0:
                truth_bids, truth_asks = market.truth_ints(event.first_id + offset)
                assert truth_bids == sorted(bids.items(), reverse=True)
                assert truth_asks == sorted(asks.items())
                checked += 1
        expected_id = event.final_id + 1
    assert checked > 20
    final_bids, final_asks = market.top_ints(10_000)
    assert dict(final_bids) == dict(bids) and dict(final_asks) == dict(asks)


def test_truth_at_returns_decimals_best_first():
    market = SimulatedMarket(seed=2, levels_per_side=100)
    run(market, 50)
    bids, asks = market.truth_at(market.update_id)
    assert bids[0][0] == market.best_bid and asks[0][0] == market.best_ask
    assert all(isinstance(p, Decimal) and isinstance(q, Decimal) for p, q in bids + asks)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    top_bids, top_asks = market.truth_top(market.update_id - 3, 5)
    assert len(top_bids) == 5 and len(top_asks) == 5


def test_same_seed_and_times_give_the_same_market_and_another_seed_does_not():
    a, b, c = (SimulatedMarket(seed=s, levels_per_side=200) for s in (5, 5, 6))
    events_a = [t.depth for t in run(a, 200)]
    events_b = [t.depth for t in run(b, 200)]
    events_c = [t.depth for t in run(c, 200)]
    assert events_a == events_b
    assert events_a != events_c


def test_history_is_bounded_and_old_ids_are_refused():
    market = SimulatedMarket(seed=3, levels_per_side=100, history_ms=5_000, checkpoint_every=20)
    first_id = market.update_id
    run(market, 300)  # 30 s of ticks
    assert market.oldest_update_id > first_id
    with pytest.raises(TruthUnavailable):
        market.truth_at(first_id)
    with pytest.raises(TruthUnavailable):
        market.truth_at(market.update_id + 1)
    market.truth_at(market.oldest_update_id)


def test_level_count_stays_near_the_target():
    market = SimulatedMarket(seed=4, levels_per_side=300)
    run(market, 2000)
    bids, asks = market.level_counts()
    assert 270 <= bids <= 320 and 270 <= asks <= 320


def _quiet_market(**kwargs) -> SimulatedMarket:
    return SimulatedMarket(
        seed=8, levels_per_side=300, random_fast_moves=False, background_walls=False, **kwargs
    )


def test_wall_rests_until_pulled_and_pull_trades_nothing():
    market = _quiet_market()
    price = market.best_bid - Decimal("30.00")
    wall_id = market.place_wall("bid", price, Decimal("40"))
    tick = market.step(START_MS + 100)
    assert any(is_bid and p == int(price * 100) for is_bid, p, _ in tick.depth.changes)
    run(market, 200, START_MS + 100)
    bids = dict(market.truth_at(market.update_id)[0])
    assert bids[price] >= Decimal("40")
    assert market.wall(wall_id).state == "resting"
    level_before = bids[price]
    market.pull_wall(wall_id)
    tick = market.step(START_MS + 100_000)
    assert all(t.price != int(price * 100) for t in tick.trades)
    after = dict(market.truth_at(market.update_id)[0]).get(price, Decimal(0))
    assert after == level_before - Decimal("40")
    assert market.wall(wall_id).state == "pulled"


def test_fast_move_sweeps_levels_and_eats_the_wall_with_trades_at_its_price():
    market = _quiet_market()
    start_mid = market.mid
    wall_price = market.best_ask + Decimal("20.00")
    wall_id = market.place_wall("ask", wall_price, Decimal("25"))
    market.step(START_MS + 100)
    asks_before = market.truth_at(market.update_id)[1]
    market.fast_move("up", Decimal("60.00"))
    tick = market.step(START_MS + 200)
    swept = {p for p, _ in asks_before if p <= start_mid + Decimal("60.00")}
    traded = {Decimal(t.price) / 100 for t in tick.trades}
    assert swept <= traded
    wall_trades = [t for t in tick.trades if Decimal(t.price) / 100 == wall_price]
    assert sum(t.qty for t in wall_trades) >= 25 * 10**5
    assert all(not t.buyer_is_maker for t in tick.trades if Decimal(t.price) / 100 in swept)  # taker buys
    assert market.wall(wall_id).state == "eaten"
    assert abs(market.mid - (start_mid + Decimal("60.00"))) < Decimal("1.00")
    assert market.best_bid < market.best_ask


def test_wall_through_the_touch_trades_first_then_rests():
    market = _quiet_market()
    price = market.best_ask + Decimal("0.50")
    asks_through = [q for p, q in market.truth_at(market.update_id)[1] if p <= price]
    wall_id = market.place_wall("bid", price, Decimal("100"))
    tick = market.step(START_MS + 100)
    assert sum(t.qty for t in tick.trades if t.price <= int(price * 100)) >= sum(
        int(q * 10**5) for q in asks_through
    )
    wall = market.wall(wall_id)
    assert wall.state == "resting" and market.best_bid == price
    assert market.best_ask > price


def test_bad_commands_are_refused():
    market = _quiet_market()
    with pytest.raises(ValueError, match="tick"):
        market.place_wall("bid", Decimal("86000.001"), Decimal("1"))
    with pytest.raises(ValueError, match="step"):
        market.place_wall("bid", Decimal("86000.00"), Decimal("0.000001"))
    with pytest.raises(ValueError, match="side"):
        market.place_wall("middle", Decimal("86000.00"), Decimal("1"))
    with pytest.raises(ValueError, match="direction"):
        market.fast_move("sideways", Decimal("10"))
    with pytest.raises(KeyError):
        market.pull_wall("w999")


def test_digit_boundary_crossing_keeps_exact_prices():
    market = SimulatedMarket(
        seed=9, start_price=Decimal("99990.00"), levels_per_side=300, random_fast_moves=False
    )
    bids, asks = (dict(side) for side in market.top_ints(10_000))
    market.fast_move("up", Decimal("25.00"))
    for tick in run(market, 100):
        if tick.depth:
            apply_changes(bids, asks, tick.depth.changes)
    assert market.mid > Decimal("100000")
    truth_bids, truth_asks = market.truth_ints(market.update_id)
    assert truth_bids == sorted(bids.items(), reverse=True) and truth_asks == sorted(asks.items())
    assert any(p >= 10_000_000 for p in bids) and any(p < 10_000_000 for p in bids)
