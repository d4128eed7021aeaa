"""The rules a reaction is built from, one function each: the range and its liquidity, the window
score and backing, and a touch from the trade stream."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side
from apps.reactions.domain.liquidity import (
    backing_of,
    block_side,
    is_backed,
    padded_range,
    resting_liquidity,
    window_score,
)
from apps.reactions.domain.touches import WatchedBlocks, first_touch, is_touched_by_trade
from apps.zones.domain.detection import ZoneParams
from tests.reactions.scene import BEAR, BULL, bid_zone, book, trade


def test_the_range_is_the_block_widened_by_the_pad_bins_on_each_side():
    assert padded_range(D("86000"), D("86100"), D("50"), 1) == (D("85950"), D("86150"))
    assert padded_range(D("86000"), D("86100"), D("50"), 0) == (D("86000"), D("86100"))
    assert padded_range(D("86000"), D("86100"), D("25"), 3) == (D("85925"), D("86175"))


def test_liquidity_counts_the_blocks_side_only_inside_the_range_edges_included():
    b = book({"86020": "30", "86600": "50"})
    assert block_side(BULL.direction) is Side.BID and block_side(BEAR.direction) is Side.ASK
    bids = resting_liquidity(b, Side.BID, D("85950"), D("86150"))
    assert bids.qty == 21 - 1 + 30  # 85950, 85960, ..., 86150: 21 levels, one of them the wall
    assert bids.notional == sum(D(p) for p in range(85950, 86151, 10)) + D(86020) * 29
    asks = resting_liquidity(b, Side.ASK, D("86550"), D("86650"))
    assert asks.qty == 11 - 1 + 50 and asks.note == ""
    nothing = resting_liquidity(b, Side.ASK, D("85950"), D("86150"))  # asks there: none
    assert nothing.qty == 0 and nothing.notional == 0


def test_liquidity_is_unknown_not_zero_outside_the_trusted_window():
    b = book()
    b.trusted_window = (D("86000"), D("87000"))
    outside = resting_liquidity(b, Side.BID, D("85950"), D("86150"))
    assert outside.qty is None and outside.notional is None and "trusted window" in outside.note
    assert resting_liquidity(b, Side.BID, D("86000"), D("86150")).qty == 16


def test_window_score_is_the_ranges_quantity_over_the_median_of_same_width_windows():
    levels = book({"86020": "30"}).levels_between(Side.BID, D("85635"), D("86490"))
    # windows of 200 from 85950: [85750, 85950) 20, [85950, 86150) 49, [86150, 86350) 20
    assert window_score(levels, D("85950"), D("86150"), D("85635"), D("86490")) == pytest.approx(49 / 20)
    # too narrow a band: fewer than two neighbours
    assert window_score(levels, D("85950"), D("86150"), D("85900"), D("86200")) is None
    # the range reaching past the band's edge (past the best price at a touch) counts what is inside
    below = book({"86020": "30"}).levels_between(Side.BID, D("85400"), D("86099"))
    assert window_score(below, D("85950"), D("86150"), D("85400"), D("86099")) == pytest.approx(
        (15 - 1 + 30) / 20  # 85950 ... 86090 with the wall; neighbours [85550, 85750), [85750, 85950)
    )
    assert window_score(levels, D("84000"), D("84200"), D("85635"), D("86490")) is None  # outside


def test_backed_by_a_confirmed_zone_in_the_range_or_a_window_score_at_the_wall_multiplier():
    assert is_backed(("z",), 0.5, 4.0) is True
    assert is_backed((), 4.0, 4.0) is True
    assert is_backed((), 3.99, 4.0) is False
    assert is_backed((), None, 4.0) is None
    params = ZoneParams()
    low, high = D("85950"), D("86150")
    plain = backing_of(book({"86020": "30"}), Side.BID, low, high, [], params)
    assert plain.backed is False and plain.score == pytest.approx(49 / 20)
    walled = backing_of(book({"86020": "100"}), Side.BID, low, high, [], params)
    assert walled.backed is True and walled.score == pytest.approx(119 / 20) and walled.zone_ids == ()
    zones = [
        bid_zone("86000", "86050", "confirmed"),
        bid_zone("86100", "86150", "candidate"),  # not confirmed: does not back
        bid_zone("86150", "86200", "confirmed"),  # touches the range's edge only
    ]
    by_zone = backing_of(book(), Side.BID, low, high, zones, params)
    assert by_zone.backed is True and by_zone.zone_ids == ("BTCEUR:bid:86000-86050",)


def test_a_trade_touches_when_the_path_from_the_previous_trade_enters_the_zone():
    low, high = D("86000"), D("86100")
    assert is_touched_by_trade(None, D("86100"), low, high)  # on the edge
    assert is_touched_by_trade(None, D("86050"), low, high)
    assert not is_touched_by_trade(None, D("86100.01"), low, high)
    assert is_touched_by_trade(D("86300"), D("85900"), low, high)  # jumped over it
    assert not is_touched_by_trade(D("86300"), D("86100.01"), low, high)
    assert not is_touched_by_trade(D("85800"), D("85999.99"), low, high)


def test_a_block_counts_a_touch_only_once_it_is_known():
    late = replace(BULL, valid_from_ts_ms=5_000)
    trades = [trade(4_000, "86050"), trade(4_500, "86300"), trade(6_000, "86090")]
    assert first_touch(late, trades, None) is trades[2]
    assert first_touch(BULL, trades, None) is trades[0]


def test_watched_blocks_report_each_first_touch_once_in_trade_order():
    watched = WatchedBlocks()
    assert watched.replace([BULL, BEAR], skip=set()) == []
    up = [trade(1_000, "86500"), trade(2_000, "86950"), trade(3_000, "86400")]
    [(block, hit)] = watched.touches(up, None)
    assert block is BEAR and hit is up[1] and BEAR.id not in watched
    down = [trade(4_000, "86120"), trade(5_000, "86060"), trade(6_000, "86010")]
    assert watched.touches(down, up[-1].price) == [(BULL, down[1])]
    assert watched.touches([trade(7_000, "86050")], D("86010")) == [] and len(watched) == 0


def test_a_block_learned_after_price_entered_it_is_skipped_not_recorded_late():
    watched = WatchedBlocks()
    watched.replace([BEAR], skip=set())
    watched.touches([trade(10_000, "86500"), trade(11_000, "86050"), trade(12_000, "86300")], None)
    known_early = BULL
    assert watched.replace([BEAR, known_early], skip=set()) == [known_early]  # 86050 was inside
    assert known_early.id not in watched and BEAR.id in watched
    future = replace(BULL, valid_from_ts_ms=20_000)  # valid after those trades: still to watch
    assert watched.replace([BEAR, future], skip=set()) == [] and future.id in watched


def test_a_block_a_candle_closed_beyond_is_no_longer_watched_even_before_the_store_says_so():
    watched = WatchedBlocks()
    watched.replace([BULL, BEAR], skip=set())
    watched.note_close(D("85990"))  # below the bullish zone: invalid
    assert BULL.id not in watched and BEAR.id in watched
    watched.replace([BULL, BEAR], skip=set())  # the store still lists it as fresh
    assert BULL.id not in watched
