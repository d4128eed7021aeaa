"""The ladders follow a real OrderBook through its change log: after any run of diff events, widening
and trimming, they hold exactly the book's levels of the followed span."""

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.confluence.domain.ladder import (
    FollowedBook,
    OffGrid,
    SideLadder,
    ceil_units,
    floor_units,
    units_of,
)
from apps.confluence.domain.liquidity import resting_quantity

CENT = D("0.01")
qty = st.one_of(st.just(D(0)), st.integers(1, 5_000_000).map(lambda q: D(q) / 10**8))
bid_price = st.integers(90_000_00, 99_999_00).map(lambda c: c * CENT)
ask_price = st.integers(100_000_00, 109_999_00).map(lambda c: c * CENT)
event = st.tuples(
    st.lists(st.tuples(bid_price, qty), max_size=12), st.lists(st.tuples(ask_price, qty), max_size=12)
)


def book_levels(book, side, low, high):
    return [(p, q) for p, q in book.levels_between(side, low, high)]


@settings(max_examples=150, deadline=None)
@given(
    start=event,
    events=st.lists(st.lists(event, max_size=5), max_size=6),
    lows=st.lists(st.integers(90_000, 99_000), min_size=6, max_size=6),
)
def test_following_the_log_equals_reading_the_book_again(start, events, lows):
    book = OrderBook()
    book.load_snapshot(1, *start)
    view = BookSnapshotView.capture(book)
    low, high = D(95_000), D(105_000)
    followed = FollowedBook.from_levels(
        view.levels_between(Side.BID, low, D("Infinity")),
        view.levels_between(Side.ASK, D(0), high),
        view.change_cursor(),
        bid_low=low,
        ask_high=high,
    )
    for cycle, (batch, band_low) in enumerate(zip(events, lows, strict=False)):
        for bids, asks in batch:
            book.apply(book.update_id + 1, bids, asks)
        view = BookSnapshotView.capture(book)
        changes = view.changes_since(followed.cursor)
        assert changes is not None
        followed.follow(changes, view.change_cursor())
        band_high = D(band_low + 10_000 + cycle * 100)
        followed.keep_up(D(band_low), band_high, D(500), view.levels_between)
        assert followed.bids.low <= band_low and followed.asks.high >= band_high
        assert followed.bids.levels() == book_levels(book, Side.BID, followed.bids.low, D("Infinity"))
        assert followed.asks.levels() == book_levels(book, Side.ASK, D(0), followed.asks.high)
        for ladder in (followed.bids, followed.asks):  # prefix sums agree with a plain sum
            levels = ladder.levels()
            if levels:
                a, b = levels[0][0], levels[len(levels) // 2][0]
                got = ladder.quantities_between(np.array([units_of(a)]), np.array([units_of(b)]))
                assert got.tolist() == [units_of(resting_quantity(levels, a, b))]


def test_a_ladder_follows_only_its_span_and_the_last_write_of_a_price_wins():
    bids = SideLadder(Side.BID, low=D(100))
    bids.apply([(D(99), D(5)), (D(100), D(1)), (D(150), D(2)), (D(150), D(3)), (D(120), D(0))])
    assert bids.levels() == [(D(100), D(1)), (D(150), D(3))]
    bids.apply([(D(100), D(0)), (D(130), D("0.5"))])
    assert bids.levels() == [(D(130), D("0.5")), (D(150), D(3))]
    bids.trim(low=D(140))
    assert bids.levels() == [(D(150), D(3))] and bids.low == 140
    assert bids.quantities_between(np.array([0]), np.array([units_of(D(200))])).tolist() == [3 * 10**8]
    assert bids.notional_between(0, units_of(D(200))) == 150 * 3 * 10**16


def test_values_off_the_1e_8_grid_are_refused_not_rounded():
    assert units_of(D("87000.12345678")) == 8_700_012_345_678
    with pytest.raises(OffGrid):
        units_of(D("0.000000001"))
    ladder = SideLadder(Side.ASK)
    with pytest.raises(OffGrid):
        ladder.apply([(D("1.5"), D("0.123456789"))])
    assert len(ladder) == 0  # nothing half-applied
    assert ceil_units(D("0.000000001")) == 1 and floor_units(D("0.000000019")) == 1
    assert ceil_units(D("-0.000000001")) == 0 and floor_units(D(2)) == 2 * 10**8
