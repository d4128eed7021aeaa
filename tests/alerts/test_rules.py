"""The alert rules, pure: each rule function at its edges, the cooldown, and the engine that applies
them to what cycles bring (each rule, switched off, cooldown, dedup, restart)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from apps.alerts.domain.alert import Rule, alert_key
from apps.alerts.domain.engine import AlertEngine
from apps.alerts.domain.rules import (
    AlertParams,
    Cooldown,
    book_not_live_too_long,
    confirmed_zone_near_mid,
    price_entered_block,
    zone_near_block,
)
from apps.book.domain.events import Side
from apps.orderblocks.domain.enums import BlockStatus, Direction
from apps.zones.domain.enums import ZoneStatus
from tests.alerts.scenes import HOUR_MS, SYMBOL, block, confirmed, ended, trade, zone

D = Decimal
NOW = 100 * HOUR_MS
prices = st.integers(min_value=50_000, max_value=70_000).map(D)


def params(**overrides) -> AlertParams:
    return replace(AlertParams(symbol=SYMBOL), **overrides)


# --- the rule functions --------------------------------------------------------------------------


def test_price_enters_a_block_from_outside_landing_inside_or_jumping_through():
    low, high = D("60000"), D("60200")
    assert price_entered_block(D("60500"), D("60100"), low, high)  # from above, lands inside
    assert price_entered_block(D("59000"), D("60000"), low, high)  # from below, lands on the edge
    assert price_entered_block(D("60300"), D("59900"), low, high)  # jumps through between two trades
    assert not price_entered_block(D("60100"), D("60150"), low, high)  # was already inside
    assert not price_entered_block(None, D("60100"), low, high)  # nothing to enter from
    assert not price_entered_block(D("60500"), D("60201"), low, high)  # stops short


@given(prices, prices, prices, st.integers(min_value=0, max_value=2000))
def test_entering_means_coming_from_outside_and_not_staying_on_one_side(previous, price, low, width):
    high = low + width
    entered = price_entered_block(previous, price, low, high)
    outside_before = not low <= previous <= high
    if outside_before and low <= price <= high:
        assert entered  # landing inside always enters
    if entered:
        assert outside_before
    elif outside_before:  # not entered: both prices lie on the same side of the block
        assert (previous > high and price > high) or (previous < low and price < low)


def test_a_zone_counts_inside_or_within_one_bin_of_a_block_edges_included():
    low, high, bin_size = D("60000"), D("60200"), D("50")
    assert zone_near_block(D("60050"), D("60100"), low, high, bin_size)  # inside
    assert zone_near_block(D("60250"), D("60300"), low, high, bin_size)  # one bin above
    assert zone_near_block(D("59900"), D("59950"), low, high, bin_size)  # one bin below
    assert not zone_near_block(D("60250.01"), D("60300"), low, high, bin_size)
    assert not zone_near_block(D("59900"), D("59949.99"), low, high, bin_size)


@given(prices, st.integers(0, 500), prices, st.integers(0, 500), st.integers(-5000, 5000))
def test_zone_near_block_depends_only_on_relative_positions(z_low, z_width, b_low, b_width, shift):
    args = (z_low, z_low + z_width, b_low, b_low + b_width)
    moved = tuple(v + shift for v in args)
    assert zone_near_block(*args, D("50")) == zone_near_block(*moved, D("50"))


def test_confirmed_zone_near_mid_needs_the_strength_and_the_distance():
    mid = D("60000")
    assert confirmed_zone_near_mid(D("60250"), D("60300"), 8.0, mid, 8.0, D("0.5"))  # 250 = 0.4167 %
    assert confirmed_zone_near_mid(D("60300"), D("60350"), 8.0, mid, 8.0, D("0.5"))  # exactly 0.5 %
    assert not confirmed_zone_near_mid(D("60300.01"), D("60350"), 9.0, mid, 8.0, D("0.5"))
    assert not confirmed_zone_near_mid(D("60250"), D("60300"), 7.99, mid, 8.0, D("0.5"))
    assert confirmed_zone_near_mid(D("59950"), D("60050"), 8.0, mid, 8.0, D("0"))  # mid inside: 0 %
    assert confirmed_zone_near_mid(D("59650"), D("59700"), 8.0, mid, 8.0, D("0.5"))  # below mid too


def test_the_book_is_stale_only_after_more_than_alert_stale_s():
    assert not book_not_live_too_long(None, NOW, 30)
    assert not book_not_live_too_long(NOW - 30_000, NOW, 30)
    assert book_not_live_too_long(NOW - 30_001, NOW, 30)


@given(st.lists(st.integers(0, 2_000_000), min_size=1, max_size=40), st.integers(0, 600))
def test_the_cooldown_lets_one_firing_through_per_period(times, cooldown_s):
    cooldown = Cooldown(cooldown_s)
    allowed: list[int] = []
    for t in sorted(times):
        if cooldown.allows("rule", "obj", t):
            cooldown.note("rule", "obj", t)
            allowed.append(t)
        else:
            assert allowed and t - allowed[-1] < cooldown_s * 1000  # held back only within the period
    assert all(b - a >= cooldown_s * 1000 for a, b in itertools.pairwise(allowed))
    assert allowed[0] == min(times)
    assert cooldown.allows("rule", "other", min(times))  # per object
    assert cooldown.allows("other", "obj", min(times))  # per rule


# --- price enters a fresh order block ------------------------------------------------------------


def engine_with(*blocks, **overrides) -> AlertEngine:
    engine = AlertEngine(params(**overrides))
    engine.set_blocks(blocks)
    return engine


def test_a_trade_entering_a_fresh_block_fires_once_with_the_trade_time_and_price():
    fresh = block("60000", "60200")
    engine = engine_with(fresh)
    assert engine.on_trades([trade("60500", NOW)], NOW) == []  # first price seen
    alerts = engine.on_trades([trade("60400", NOW + 100), trade("60150", NOW + 200)], NOW + 1000)
    assert [(a.rule, a.object_id, a.ts_ms) for a in alerts] == [
        (Rule.ORDERBLOCK_ENTERED, f"{SYMBOL}:bullish:{fresh.created_ts_ms}", NOW + 200)
    ]
    assert alerts[0].details["price"] == "60150" and alerts[0].details["block"]["price_low"] == "60000"
    assert "60150" in alerts[0].text and "60000-60200" in alerts[0].text
    # leaving and entering again: the block is not fresh any more (its first touch was alerted)
    engine.on_trades([trade("60600", NOW + 5000)], NOW + 5000)
    assert engine.on_trades([trade("60100", NOW + 900_000)], NOW + 900_000) == []


def test_only_fresh_known_blocks_fire_the_entry_alert():
    touched = block("60000", "60200", status=BlockStatus.TOUCHED)
    future = block("59000", "59200", created_ts_ms=NOW)  # valid from NOW + 3 h
    engine = engine_with(touched, future)
    engine.on_trades([trade("61000", NOW)], NOW)
    assert engine.on_trades([trade("60100", NOW + 1)], NOW + 1) == []
    assert engine.on_trades([trade("59100", NOW + 2)], NOW + 2) == []


def test_the_entry_alert_switched_off_fires_nothing():
    engine = engine_with(block("60000", "60200"), orderblock_entered=False)
    engine.on_trades([trade("60500", NOW)], NOW)
    assert engine.on_trades([trade("60100", NOW + 1)], NOW + 1) == []


# --- a confirmed zone in or next to an active block is pulled or broken ---------------------------


def test_a_confirmed_zone_pulled_inside_an_active_block_fires_the_pulled_alert():
    engine = engine_with(block("60000", "60200", status=BlockStatus.TOUCHED))
    pulled = zone("60050", "60100", ZoneStatus.PULLED)
    alerts = engine.on_zones(ended(pulled, reason="liquidity vanished"), D("60500"), NOW)
    assert [(a.rule, a.object_id, a.ts_ms) for a in alerts] == [
        (Rule.ZONE_PULLED_IN_BLOCK, pulled.id, pulled.ts_ms)
    ]
    assert alerts[0].details["zone"]["status"] == "pulled"
    assert alerts[0].details["reason"] == "liquidity vanished"
    assert "pulled inside touched bullish order block 60000-60200" in alerts[0].text


def test_a_broken_zone_one_bin_from_a_block_fires_the_broken_alert_two_bins_do_not():
    engine = engine_with(block("60000", "60200", direction=Direction.BEARISH))
    near = zone("60250", "60300", ZoneStatus.BROKEN, side=Side.ASK)
    far = zone("60300", "60350", ZoneStatus.BROKEN, side=Side.ASK)
    assert [a.rule for a in engine.on_zones(ended(near), D("60500"), NOW)] == [Rule.ZONE_BROKEN_IN_BLOCK]
    assert engine.on_zones(ended(far), D("60500"), NOW) == []


def test_only_confirmed_zones_and_active_blocks_count():
    engine = engine_with(block("60000", "60200", status=BlockStatus.INVALID))
    assert engine.on_zones(ended(zone("60050", "60100", ZoneStatus.PULLED)), D("60500"), NOW) == []
    engine.set_blocks([block("60000", "60200")])
    candidate = ended(zone("60050", "60100", ZoneStatus.PULLED), old=ZoneStatus.CANDIDATE)
    assert engine.on_zones(candidate, D("60500"), NOW) == []
    assert (
        engine_with(block("60000", "60200"), zone_ended_in_block=False).on_zones(
            ended(zone("60050", "60100", ZoneStatus.PULLED)), D("60500"), NOW
        )
        == []
    )


def test_a_zone_event_seen_twice_alerts_once_and_the_cooldown_holds_the_same_zone_back():
    engine = engine_with(block("60000", "60200"), cooldown_s=300)
    pulled = zone("60050", "60100", ZoneStatus.PULLED)
    first = engine.on_zones(ended(pulled), D("60500"), NOW)
    assert len(first) == 1
    assert engine.on_zones(ended(pulled), D("60500"), NOW) == []  # the same event again
    again = replace(pulled, ts_ms=pulled.ts_ms + 299_999)  # the same zone id back and pulled again
    assert engine.on_zones(ended(again), D("60500"), NOW) == []
    assert engine.held_back == 2
    later = replace(pulled, ts_ms=pulled.ts_ms + 300_000)
    assert len(engine.on_zones(ended(later), D("60500"), NOW)) == 1
    other = zone("60100", "60150", ZoneStatus.PULLED)  # another zone: its own cooldown
    assert len(engine.on_zones(ended(other), D("60500"), NOW)) == 1


def test_the_same_event_always_gets_the_same_key_in_any_engine():
    pulled = zone("60050", "60100", ZoneStatus.PULLED)
    keys = [
        [a.key for a in engine_with(block("60000", "60200")).on_zones(ended(pulled), D("60500"), NOW)]
        for _ in range(2)
    ]
    assert keys[0] == keys[1] == [alert_key(SYMBOL, "zone_pulled_in_block", pulled.id, pulled.ts_ms)]


# --- a new strong confirmed zone near mid ---------------------------------------------------------


def test_a_new_confirmed_zone_near_mid_with_the_strength_fires():
    engine = engine_with(min_strength=8.0, near_pct=D("0.5"))
    strong = zone("60250", "60300", ZoneStatus.CONFIRMED, side=Side.ASK, strength=8.0)
    weak = zone("60250", "60300", ZoneStatus.CONFIRMED, side=Side.ASK, strength=7.9, zone_id="weak")
    far = zone("60400", "60450", ZoneStatus.CONFIRMED, side=Side.ASK, strength=20.0, zone_id="far")
    alerts = engine.on_zones(confirmed(strong), D("60000"), NOW)
    assert [(a.rule, a.object_id) for a in alerts] == [(Rule.ZONE_CONFIRMED_NEAR_MID, strong.id)]
    assert alerts[0].details["distance_pct"] == "0.4167" and "0.42% from mid 60000" in alerts[0].text
    assert engine.on_zones(confirmed(weak), D("60000"), NOW) == []
    assert engine.on_zones(confirmed(far), D("60000"), NOW) == []
    assert engine_with(zone_confirmed_near_mid=False).on_zones(confirmed(strong), D("60000"), NOW) == []


# --- the book not live for more than ALERT_STALE_S, and its recovery -----------------------------


def statuses(engine: AlertEngine, steps: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(a.rule, a.ts_ms) for status, t in steps for a in engine.on_status(status, t)]


def test_a_stale_book_alerts_once_after_alert_stale_s_and_its_recovery_once():
    engine = engine_with(stale_s=30, cooldown_s=300)
    fired = statuses(
        engine,
        [
            ("live", NOW),
            ("resyncing", NOW + 1000),
            ("backoff", NOW + 31_000),
            ("backoff", NOW + 31_001),
            ("connecting", NOW + 60_000),
            ("live", NOW + 70_000),
            ("live", NOW + 71_000),
        ],
    )
    assert fired == [(Rule.BOOK_STALE, NOW + 31_001), (Rule.BOOK_RECOVERED, NOW + 70_000)]
    recovered = engine.on_status("resyncing", NOW + 80_000)
    assert recovered == []


def test_a_short_outage_alerts_nothing_and_the_cooldown_silences_an_outage_and_its_recovery():
    engine = engine_with(stale_s=30, cooldown_s=300)
    assert statuses(engine, [("syncing", NOW), ("live", NOW + 30_000)]) == []
    first = statuses(engine, [("backoff", NOW + 40_000), ("backoff", NOW + 71_000), ("live", NOW + 80_000)])
    assert [r for r, _ in first] == [Rule.BOOK_STALE, Rule.BOOK_RECOVERED]
    # a second long outage within the cooldown: neither alert
    assert (
        statuses(engine, [("backoff", NOW + 100_000), ("backoff", NOW + 140_000), ("live", NOW + 150_000)])
        == []
    )
    late = statuses(engine, [("backoff", NOW + 400_000), ("backoff", NOW + 431_000), ("live", NOW + 432_000)])
    assert [r for r, _ in late] == [Rule.BOOK_STALE, Rule.BOOK_RECOVERED]
    assert (
        statuses(
            engine_with(book_stale=False),
            [("backoff", NOW), ("backoff", NOW + 60_000), ("live", NOW + 61_000)],
        )
        == []
    )


# --- restart ---------------------------------------------------------------------------------------


def test_a_restarted_engine_continues_the_cooldowns_and_the_blocks_already_entered():
    fresh = block("60000", "60200")
    pulled = zone("60050", "60100", ZoneStatus.PULLED)
    before = engine_with(fresh)
    fired = before.on_zones(ended(pulled), D("60500"), NOW)
    block_id = f"{SYMBOL}:bullish:{fresh.created_ts_ms}"

    after = engine_with(fresh)
    after.restore([(a.rule, a.object_id, a.ts_ms) for a in fired], entered=[block_id])
    again = replace(pulled, ts_ms=pulled.ts_ms + 60_000)
    assert after.on_zones(ended(again), D("60500"), NOW) == []  # still cooling down
    after.on_trades([trade("60500", NOW)], NOW)
    assert after.on_trades([trade("60100", NOW + 1)], NOW + 1) == []  # entered before the restart
