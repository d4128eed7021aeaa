"""The binned book follows the real book by its change log and always equals binning the book afresh."""

from __future__ import annotations

import random
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.heatmap.domain.binned_book import BinnedBook
from apps.heatmap.domain.grid import BinSpan, BookSpans, HeatmapParams, heatmap_bin_of, trusted_bins

SIZE = D(50)
EVERYTHING = (D(0), D("Infinity"))


def reference(book: OrderBook, side: Side, span: BinSpan) -> list[float]:
    """Sum the book's levels per bin with Decimals, then one float per bin."""
    sums = {k: D(0) for k in range(span.first, span.last + 1)}
    for price, qty in book.levels_between(side, *EVERYTHING):
        k = heatmap_bin_of(price, SIZE)
        if k in sums:
            sums[k] += qty
    return [float(total) for total in sums.values()]


def binned_now(book: OrderBook) -> BinnedBook:
    view = BookSnapshotView.capture(book)
    return BinnedBook.from_levels(
        view.levels_between(Side.BID, *EVERYTHING),
        view.levels_between(Side.ASK, *EVERYTHING),
        SIZE,
        view.change_cursor(),
    )


def random_level(rng: random.Random, side: Side) -> tuple[D, D]:
    cents = 8_700_000 + (-1 if side is Side.BID else 1) * rng.randint(1, 300_000)
    qty = D(rng.choice([0, 0, rng.randint(1, 10**8)])) / D(10 ** rng.randint(0, 8))
    return D(cents) / 100, qty


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 40))
def test_following_the_log_equals_binning_the_book_afresh(seed, events):
    rng = random.Random(seed)
    book = OrderBook()
    bids = [random_level(rng, Side.BID) for _ in range(300)]
    asks = [random_level(rng, Side.ASK) for _ in range(300)]
    book.load_snapshot(1, bids, asks)
    followed = binned_now(book)
    for update_id in range(2, events + 2):
        book.apply(
            update_id,
            [random_level(rng, Side.BID) for _ in range(rng.randint(0, 12))],
            [random_level(rng, Side.ASK) for _ in range(rng.randint(0, 12))],
        )
        if rng.random() < 0.3:  # a reader does not look every event
            view = BookSnapshotView.capture(book)
            changes = view.changes_since(followed.cursor)
            assert changes is not None
            followed.follow(changes, view.change_cursor())
    view = BookSnapshotView.capture(book)
    changes = view.changes_since(followed.cursor)
    assert changes is not None
    followed.follow(changes, view.change_cursor())
    spans = BookSpans(BinSpan(1680, 1742), BinSpan(1738, 1800))
    picture, fresh = followed.picture(spans), binned_now(book).picture(spans)
    for side, span, got, again in (
        (Side.BID, spans.bid, picture.bid, fresh.bid),
        (Side.ASK, spans.ask, picture.ask, fresh.ask),
    ):
        assert got.first == span.first and got.last == span.last
        assert list(got.qty) == reference(book, side, span) == list(again.qty)


def test_a_picture_holds_the_observed_bins_only_with_empty_trusted_bins_at_zero():
    book = OrderBook()
    book.load_snapshot(
        1,
        [(D("86990"), D("1.5")), (D("86999.99"), D("0.25")), (D("86900"), D(2)), (D("85000"), D(9))],
        [(D("87010"), D(3)), (D("87200.5"), D("0.1"))],
        limit=4,  # the bid side came back full: trusted down to its lowest level, 85000
    )
    spans = trusted_bins(D("86999.99"), D("87010"), book.trusted_window, HeatmapParams(range_pct=D("0.3")))
    picture = binned_now(book).picture(spans)
    # bids: 86743.04.. -> bins from 1734 ([86700, 86750)) to 1739; asks 1740 .. 1745 (87260.99)
    assert picture.bid.first == 1734 and list(picture.bid.qty) == [0, 0, 0, 0, 2.0, 1.75]
    assert picture.ask.first == 1740 and list(picture.ask.qty) == [3.0, 0, 0, 0, 0.1, 0]
    assert all(q >= 0 for q in picture.bid.qty)
