"""Zone identity and life cycle over cycles (pure tracker, hand-fed zones and trades)."""

from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side, Trade
from apps.zones.domain.detection import DetectedZone
from apps.zones.domain.tracking import TrackerParams, ZoneRecord, ZoneTracker
from project.config import load_config

SYMBOL = "BTCEUR"
MID = D("86500")  # far above the bid walls and below the ask walls used here


def zone(side, low, high, notional="100000", strength=6.0):
    return DetectedZone(
        side=Side(side),
        price_low=D(low),
        price_high=D(high),
        notional=D(notional),
        strength=strength,
        bins=(),
    )


def trade(price, ts_ms=0, trade_id=1):
    return Trade(trade_id=trade_id, price=D(price), qty=D("0.5"), ts_ms=ts_ms, buyer_is_maker=True)


@pytest.fixture
def tracker():
    return ZoneTracker(TrackerParams.from_config(load_config({"SYMBOL": SYMBOL})))


def cycle(tracker, second, zones=(), mid=MID, trades=()):
    return tracker.update(second * 1000, list(zones), mid, list(trades), update_id=1000 + second)


def current(tracker, zone_id):
    [record] = [r for r in tracker.current() if r.id == zone_id]
    return record


def live_for(tracker, seconds, *zones, start=0):
    """Show the same zones every second from `start` to `start + seconds` inclusive."""
    for s in range(start, start + seconds + 1):
        last = cycle(tracker, s, zones)
    return last


def test_params_come_from_the_settings():
    params = TrackerParams.from_config(load_config({}))
    assert (params.confirm_s, params.confirm_cycles, params.strength_threshold) == (30.0, 5, 4.0)
    assert (params.grace_cycles, params.discard_s, params.linger_s) == (2, 10.0, 60.0)
    assert params.match_tolerance == D("50")  # one bin


def test_a_new_zone_is_a_candidate_with_an_id_from_its_first_bounds(tracker):
    update = cycle(tracker, 0, [zone("bid", "86000", "86050")])
    [record] = update.added
    assert record.id == "BTCEUR:bid:86000-86050"
    assert (record.status, record.first_seen_ts_ms, record.last_seen_ts_ms, record.persistence_s) == (
        "candidate",
        0,
        0,
        0.0,
    )
    assert update.changed == () and update.removed == ()
    assert [(t.old, t.new) for t in update.transitions] == [(None, "candidate")]


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("86050", "86100"),  # a one-bin zone moved up one bin (the ranges only touch)
        ("85950", "86000"),  # ... or down one bin
        ("86000", "86100"),  # its top edge grew by a bin
    ],
)
def test_moving_by_a_bin_keeps_the_id_and_persistence(tracker, low, high):
    first = cycle(tracker, 0, [zone("bid", "86000", "86050")]).added[0]
    live_for(tracker, 19, zone("bid", "86000", "86050"), start=1)
    update = cycle(tracker, 21, [zone("bid", low, high)])
    assert update.added == ()
    [moved] = update.changed
    assert moved.id == first.id
    assert (moved.price_low, moved.price_high) == (D(low), D(high))
    assert (moved.first_seen_ts_ms, moved.persistence_s) == (0, 21.0)


def test_moving_by_two_bins_is_a_different_zone(tracker):
    cycle(tracker, 0, [zone("bid", "86000", "86050")])
    update = cycle(tracker, 1, [zone("bid", "86100", "86150")])
    assert [r.id for r in update.added] == ["BTCEUR:bid:86100-86150"]


def test_the_same_prices_on_the_other_side_are_a_different_zone(tracker):
    cycle(tracker, 0, [zone("bid", "86000", "86050")])
    update = cycle(tracker, 1, [zone("ask", "86000", "86050")])
    assert [r.id for r in update.added] == ["BTCEUR:ask:86000-86050"]


def test_a_one_cycle_flicker_does_not_reset_persistence(tracker):
    live_for(tracker, 12, zone("bid", "86000", "86050"))
    gap = cycle(tracker, 13, [])  # missing once: grace, nothing changes on screen
    assert gap.is_empty and gap.history == ()
    back = cycle(tracker, 14, [zone("bid", "86000", "86050")])
    assert back.refreshed == ("BTCEUR:bid:86000-86050",)  # same shape: stored, not pushed
    assert back.is_empty
    record = current(tracker, "BTCEUR:bid:86000-86050")
    assert (record.first_seen_ts_ms, record.last_seen_ts_ms, record.persistence_s) == (0, 14_000, 14.0)


def test_missing_for_grace_cycles_means_gone(tracker):
    live_for(tracker, 5, zone("bid", "86000", "86050"))
    assert cycle(tracker, 6, []).is_empty
    gone = cycle(tracker, 7, [])
    assert gone.removed == ("BTCEUR:bid:86000-86050",)


def test_candidate_is_confirmed_once_persistent_long_enough_and_strong_enough(tracker):
    statuses = []
    for s in range(0, 31):
        update = cycle(tracker, s, [zone("ask", "87000", "87050")])
        statuses.append(current(tracker, "BTCEUR:ask:87000-87050").status)
    assert statuses[:30] == ["candidate"] * 30  # 0..29 s
    assert statuses[30] == "confirmed"  # persistence 30 s and 5 strong cycles
    assert [(t.old, t.new) for t in update.transitions] == [("candidate", "confirmed")]
    assert [r.status for r in update.changed] == ["confirmed"]  # a status change is pushed


def test_a_weak_cycle_among_the_last_few_delays_confirmation(tracker):
    for s in range(0, 40):
        strength = 3.5 if s == 27 else 6.0  # below the 4.0 threshold once
        cycle(tracker, s, [zone("ask", "87000", "87050", strength=strength)])
        status = current(tracker, "BTCEUR:ask:87000-87050").status
        # needs the five cycles after the weak one: 28..32
        assert status == ("confirmed" if s >= 32 else "candidate"), s


def test_a_missing_cycle_counts_as_not_strong_for_confirmation(tracker):
    for s in range(0, 40):
        cycle(tracker, s, [] if s == 29 else [zone("ask", "87000", "87050")])
        status = current(tracker, "BTCEUR:ask:87000-87050").status
        assert status == ("confirmed" if s >= 34 else "candidate"), s


def test_a_short_lived_zone_is_discarded_not_rendered_as_ended(tracker):
    live_for(tracker, 5, zone("bid", "86000", "86050"))  # lived 5 s < 10 s
    cycle(tracker, 6, [])
    gone = cycle(tracker, 7, [], trades=[trade("86020")])
    assert gone.removed == ("BTCEUR:bid:86000-86050",)
    assert gone.changed == ()
    assert [t.new for t in gone.transitions] == ["discarded"]
    assert [h.status for h in gone.history] == ["discarded"]
    assert tracker.current() == []


def test_a_wall_eaten_by_a_fast_move_is_broken_and_lingers_then_leaves(tracker):
    live_for(tracker, 20, zone("bid", "86000", "86050"))
    # the price falls through the wall between two cycles: trades print inside it
    eaten = [trade("86040", trade_id=1), trade("86010", trade_id=2), trade("85990", trade_id=3)]
    assert cycle(tracker, 21, [], mid=D("85980"), trades=eaten).is_empty  # grace
    ended = cycle(tracker, 22, [], mid=D("85970"))
    [record] = ended.changed
    assert (record.status, record.last_seen_ts_ms, record.ts_ms) == ("broken", 20_000, 22_000)
    assert "trade at 86010 inside the zone" in ended.transitions[0].reason
    assert [r.status for r in tracker.current()] == ["broken"]
    for s in range(23, 82):  # visible for 60 s
        assert cycle(tracker, s, [], mid=D("85970")).is_empty
    leaves = cycle(tracker, 82, [], mid=D("85970"))
    assert leaves.removed == (record.id,)
    assert tracker.current() == []


def test_a_withdrawn_wall_is_pulled(tracker):
    live_for(tracker, 20, zone("bid", "86000", "86050"))
    # liquidity vanishes; trading goes on above it and the mid stays put
    cycle(tracker, 21, [], trades=[trade("86480"), trade("86510")])
    ended = cycle(tracker, 22, [], trades=[trade("86490")])
    [record] = ended.changed
    assert record.status == "pulled"
    assert "without trades" in ended.transitions[0].reason


def test_trades_inside_before_the_wall_was_last_seen_do_not_make_it_broken(tracker):
    live_for(tracker, 19, zone("bid", "86000", "86050"))
    cycle(tracker, 20, [zone("bid", "86000", "86050")], trades=[trade("86030")])  # nibbled, still there
    cycle(tracker, 21, [])
    assert cycle(tracker, 22, []).changed[0].status == "pulled"


def test_a_wall_the_mid_crossed_is_broken_even_without_trade_prints(tracker):
    live_for(tracker, 20, zone("ask", "87000", "87050"))
    cycle(tracker, 21, [], mid=D("87100"))
    ended = cycle(tracker, 22, [], mid=D("87120"))
    assert ended.changed[0].status == "broken"
    assert "mid 87100" in ended.transitions[0].reason


def test_a_split_keeps_the_id_on_the_larger_part(tracker):
    live_for(tracker, 3, zone("bid", "86000", "86200"))
    update = cycle(tracker, 4, [zone("bid", "86000", "86050"), zone("bid", "86100", "86200")])
    assert [(r.id, r.price_low) for r in update.changed] == [("BTCEUR:bid:86000-86200", D("86100"))]
    assert [r.id for r in update.added] == ["BTCEUR:bid:86000-86050"]


def test_zones_that_merge_keep_the_larger_ones_id_and_the_other_leaves_without_a_verdict(tracker):
    small, large = zone("bid", "86000", "86050", notional="50000"), zone("bid", "86200", "86250")
    live_for(tracker, 20, small, large)
    merged = zone("bid", "86000", "86250", notional="200000")
    cycle(tracker, 21, [merged])
    update = cycle(tracker, 22, [merged])
    assert update.refreshed == ("BTCEUR:bid:86200-86250",)
    assert update.removed == ("BTCEUR:bid:86000-86050",)
    assert [t.new for t in update.transitions] == ["merged"]


def test_a_new_zone_where_an_ended_one_lingers_gets_its_own_id(tracker):
    live_for(tracker, 20, zone("bid", "86000", "86050"))
    cycle(tracker, 21, [])
    assert cycle(tracker, 22, []).changed[0].status == "pulled"
    update = cycle(tracker, 23, [zone("bid", "86000", "86050")])  # the spoofer is back
    assert [r.id for r in update.added] == ["BTCEUR:bid:86000-86050@23000"]
    assert {r.status for r in tracker.current()} == {"pulled", "candidate"}


def test_an_outage_is_not_read_as_every_zone_vanishing(tracker):
    live_for(tracker, 20, zone("bid", "86000", "86050"), zone("ask", "87000", "87050"))
    for _ in range(30):  # 30 non-live cycles: only trades are observed
        tracker.observe_trades([trade("86600")])
    update = cycle(tracker, 51, [zone("bid", "86000", "86050"), zone("ask", "87000", "87050")])
    assert update.added == () and update.removed == ()
    assert [(r.status, r.persistence_s) for r in update.changed] == [("confirmed", 51.0), ("confirmed", 51.0)]


def test_trades_during_an_outage_count_as_evidence_after_it(tracker):
    live_for(tracker, 20, zone("bid", "86000", "86050"))
    tracker.observe_trades([trade("86025")])
    cycle(tracker, 30, [])
    assert cycle(tracker, 31, []).changed[0].status == "broken"


def test_restore_continues_a_stored_current_set(tracker):
    def record(zone_id, status, ts_ms):
        return ZoneRecord(
            id=zone_id,
            ts_ms=ts_ms,
            symbol=SYMBOL,
            side="bid",
            price_low=D("86000"),
            price_high=D("86050"),
            notional=D("1000"),
            strength=5.0,
            persistence_s=40.0,
            status=status,
            first_seen_ts_ms=0,
            last_seen_ts_ms=40_000,
            book_update_id=7,
        )

    tracker.restore(
        [
            record("BTCEUR:bid:86000-86050", "confirmed", 40_000),
            record("BTCEUR:bid:85000-85050", "pulled", 45_000),
        ]
    )
    update = tracker.update(50_000, [zone("bid", "86050", "86100")], MID, [], update_id=9)
    assert [(r.id, r.status, r.persistence_s) for r in update.changed] == [
        ("BTCEUR:bid:86000-86050", "confirmed", 50.0)
    ]
    later = tracker.update(105_000, [zone("bid", "86050", "86100")], MID, [], update_id=10)
    assert later.removed == ("BTCEUR:bid:85000-85050",)  # ended at 45 s, lingered 60 s


def test_only_a_change_of_shape_or_status_is_a_change(tracker):
    cycle(tracker, 0, [zone("bid", "86000", "86050", notional="100000", strength=6.0)])
    same = cycle(tracker, 1, [zone("bid", "86000", "86050", notional="100000", strength=6.0)])
    assert (same.changed, same.refreshed, same.history) == ((), ("BTCEUR:bid:86000-86050",), ())
    for changes in ({"notional": "120000"}, {"strength": 7.5}):
        fields = {"notional": "100000", "strength": 6.0, **changes}
        update = cycle(tracker, 2, [zone("bid", "86000", "86050", **fields)])
        assert [r.id for r in update.changed] == ["BTCEUR:bid:86000-86050"]
        assert update.history == update.changed and update.refreshed == ()
        cycle(tracker, 3, [zone("bid", "86000", "86050", notional="100000", strength=6.0)])


def test_many_zones_are_matched_to_their_own_neighbours(tracker):
    # 300 one-bin zones two bins apart on each side; all drift up by one bin
    def zones(shift):
        return [
            zone(side, str(base + 150 * i + shift), str(base + 150 * i + shift + 50))
            for side, base in (("bid", 70000), ("ask", 90000))
            for i in range(300)
        ]

    first = {(r.side, r.price_low): r.id for r in cycle(tracker, 0, zones(0)).added}
    moved = cycle(tracker, 1, zones(50))
    assert moved.added == () and moved.removed == ()
    assert {(r.side, r.price_low - 50): r.id for r in moved.changed} == first
