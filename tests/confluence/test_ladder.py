"""The followed book follows a real OrderBook through its change log: after any run of diff events,
widening and trimming, it holds exactly the book's levels of the followed span."""

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.confluence.domain.ladder import (
    ASK_OFFSET,
    FollowedBook,
    OffGrid,
    ceil_units,
    floor_units,
    offset_of,
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
        assert followed.bid_low <= band_low and followed.ask_high >= band_high
        assert followed.levels(Side.BID) == book_levels(book, Side.BID, followed.bid_low, D("Infinity"))
        assert followed.levels(Side.ASK) == book_levels(book, Side.ASK, D(0), followed.ask_high)
        for side in (Side.BID, Side.ASK):  # prefix sums agree with a plain sum
            levels = followed.levels(side)
            if levels:
                a, b = levels[0][0], levels[len(levels) // 2][0]
                shift = offset_of(side)
                got = followed.quantities_between(
                    np.array([units_of(a) + shift]), np.array([units_of(b) + shift])
                )
                assert got.tolist() == [units_of(resting_quantity(levels, a, b))]


def test_only_the_followed_span_is_kept_and_the_last_write_of_a_price_wins():
    book = FollowedBook(bid_low=D(100), ask_high=D(200))
    book.apply(
        [(D(99), D(5)), (D(100), D(1)), (D(150), D(2)), (D(150), D(3)), (D(120), D(0))],
        [(D(160), D(1)), (D(201), D(9))],
    )
    assert book.levels(Side.BID) == [(D(100), D(1)), (D(150), D(3))]
    assert book.levels(Side.ASK) == [(D(160), D(1))]
    book.apply([(D(100), D(0)), (D(130), D("0.5"))], [(D(160), D(0)), (D(170), D(2))])
    assert book.levels(Side.BID) == [(D(130), D("0.5")), (D(150), D(3))]
    assert book.levels(Side.ASK) == [(D(170), D(2))]
    everything = book.quantities_between(np.array([0]), np.array([ASK_OFFSET * 2]))
    assert everything.tolist() == [int(D("5.5") * 10**8)]  # both sides in one array, asks above
    bids_only = book.quantities_between(np.array([0]), np.array([units_of(D(1000))]))
    assert bids_only.tolist() == [int(D("3.5") * 10**8)]
    assert book.notional_between(Side.BID, 0, units_of(D(200))) == (130 * D("0.5") + 150 * 3) * 10**16
    assert book.notional_between(Side.ASK, 0, units_of(D(200))) == 170 * 2 * 10**16


def test_values_off_the_1e_8_grid_are_refused_not_rounded():
    assert units_of(D("87000.12345678")) == 8_700_012_345_678
    with pytest.raises(OffGrid):
        units_of(D("0.000000001"))
    book = FollowedBook()
    with pytest.raises(OffGrid):
        book.apply([], [(D("1.5"), D("0.123456789"))])
    assert book.level_count == 0  # nothing half-applied
    assert ceil_units(D("0.000000001")) == 1 and floor_units(D("0.000000019")) == 1
    assert ceil_units(D("-0.000000001")) == 0 and floor_units(D(2)) == 2 * 10**8


def test_removed_levels_are_held_at_zero_then_dropped_and_a_price_coming_back_is_set_in_place():
    book = FollowedBook()
    book.apply([(D(1000 + i), D(1)) for i in range(2000)], [])
    book.apply([(D(1000 + i), D(0)) for i in range(0, 2000, 8)], [])  # 250 removed: held at zero
    assert book.level_count == 2000 and len(book.levels(Side.BID)) == 1750
    book.apply([(D(1000), D(2))], [])  # back at its old price
    assert book.level_count == 2000 and book.levels(Side.BID)[0] == (D(1000), D(2))
    book.apply([(D(1001 + i), D(0)) for i in range(0, 2000, 8)], [])  # 500 zeros now: a quarter
    assert book.level_count == 1501 and len(book.levels(Side.BID)) == 1501
    assert book.quantities_between(np.array([0]), np.array([units_of(D(5000))])).tolist() == [1502 * 10**8]
