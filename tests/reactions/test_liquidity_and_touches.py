"""The rules a reaction is built from, one function each: the range and its liquidity, the window
score and backing, and a touch from the trade stream."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side
from apps.confluence.domain.liquidity import BlockRange, ConfluenceParams, block_side, measure_block
from apps.reactions.domain.liquidity import backed_or_unknown, backing_of, resting_liquidity
from apps.reactions.domain.touches import WatchedBlocks, first_touch, is_touched_by_trade
from apps.zones.domain.detection import ZoneParams, analysis_bounds
from tests.reactions.scene import BEAR, BULL, bid_zone, book, trade


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


def confluence_reading(b, low, high):
    """Confluence's measure of the bid range [low, high] (already padded: no pad) on book ``b``."""
    bid, ask = b.best_bid(), b.best_ask()
    bounds = analysis_bounds(bid[0], ask[0], b.trusted_window, ZoneParams())
    levels = b.levels_between(Side.BID, D(0), bid[0])
    return measure_block(
        BlockRange("x", Side.BID, low, high), levels, bounds, [], ConfluenceParams(pad_bins=0)
    )


@pytest.mark.parametrize("wall", ["1", "30", "100"])
def test_the_score_and_backing_at_the_touch_are_what_confluence_shows_for_the_block(wall):
    b = book({"86020": wall})
    low, high = D("85950"), D("86150")
    at_touch = backing_of(b, Side.BID, low, high, [], ConfluenceParams())
    shown = confluence_reading(b, low, high)
    assert shown is not None and at_touch.score == pytest.approx(shown.score)
    assert at_touch.backed is shown.backed
    # 21 levels of 1 in each same-width window around, the wall's level in the range
    assert at_touch.score == pytest.approx((20 + float(wall)) / 21)


def test_backed_by_a_confirmed_zone_in_the_range_or_a_window_score_at_the_wall_multiplier():
    assert backed_or_unknown(("z",), 0.5, 4.0) is True
    assert backed_or_unknown((), 4.0, 4.0) is True
    assert backed_or_unknown((), 3.99, 4.0) is False
    assert backed_or_unknown((), None, 4.0) is None  # no zone, no score: unknown, not "not backed"
    params = ConfluenceParams()
    low, high = D("85950"), D("86150")
    assert backing_of(book({"86020": "30"}), Side.BID, low, high, [], params).backed is False
    walled = backing_of(book({"86020": "100"}), Side.BID, low, high, [], params)
    assert walled.backed is True and walled.zone_ids == ()
    far = backing_of(book(), Side.BID, D("85000"), D("85200"), [], params)  # below the analysed band
    assert far.score is None and far.backed is None
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
