"""The binned book follows the real book by its change log and always equals binning the book afresh."""

from __future__ import annotations

import random
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.heatmap.domain.binned_book import BinnedBook, window_around, window_levels
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


# -- a window that follows a moving band --------------------------------------------------------

BID_BASE, ASK_BASE, STEP = D(80000), D(86000), D("12.5")  # 560 prices a side, 4 to a bin
qty_strategy = st.one_of(
    st.just(D(0)),  # the level is gone
    st.builds(lambda n, e: D(n).scaleb(-e), st.integers(1, 10**9), st.integers(0, 8)),
)
writes_strategy = st.lists(st.tuples(st.integers(0, 559), qty_strategy), max_size=10)
sweep_strategy = st.one_of(st.none(), st.integers(0, 559))
# an event's bid and ask writes, sweeps (every bid above / ask below that price taken: the touch
# moves), and whether a cycle reads the book after it
event_strategy = st.tuples(writes_strategy, writes_strategy, sweep_strategy, sweep_strategy, st.booleans())


def follow_as_the_listener(binned: BinnedBook | None, book: OrderBook, params: HeatmapParams):
    """One cycle of HeatmapListener._picture: catch up with the log, or bin the book afresh around
    the band (first cycle, band moved far); returns the binned book and the cycle's (spans, picture)."""
    view = BookSnapshotView.capture(book)
    bid, ask = view.best_bid(), view.best_ask()
    if bid is None or ask is None or bid[0] >= ask[0]:
        return binned, None  # not counted (a crossed book: the next cycle follows from here)
    spans = trusted_bins(bid[0], ask[0], view.trusted_window, params)
    events = view.changes_since(binned.cursor) if binned is not None else None
    writes = None
    if binned is not None and events is not None:
        writes = binned.catch_up(events, view.change_cursor(), spans, view.levels_between)
    if binned is None or writes is None:
        window = window_around(spans)
        bids, asks = window_levels(view.levels_between, window, SIZE)
        binned = BinnedBook.from_levels(bids, asks, SIZE, view.change_cursor(), window)
    return binned, (spans, binned.picture(spans))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 559), qty_strategy), max_size=200),
    st.lists(st.tuples(st.integers(0, 559), qty_strategy), max_size=200),
    st.booleans(),
    st.sampled_from([D("0.3"), D("1"), D("2")]),
    st.lists(event_strategy, min_size=10, max_size=50),
)
def test_a_windowed_book_following_the_log_as_the_band_moves_equals_binning_the_book_afresh(
    bids, asks, limited, range_pct, events
):
    """Random writes (levels coming, changing, going: the touch, and so the band, moves; now and
    then far), read at random cycles the way the listener does: every picture equals the book
    binned from scratch (Decimal sums per bin, one float each)."""
    params = HeatmapParams(range_pct=range_pct)
    book = OrderBook()
    book.load_snapshot(
        1,
        [(BID_BASE + k * STEP, q) for k, q in bids],
        [(ASK_BASE + k * STEP, q) for k, q in asks],
        limit=max(1, len(bids) // 2) if limited else None,  # a trusted window may narrow the band
    )
    binned, _ = follow_as_the_listener(None, book, params)
    for update_id, (bid_writes, ask_writes, bid_sweep, ask_sweep, looks) in enumerate(events, start=2):
        bid_levels = [(BID_BASE + k * STEP, q) for k, q in bid_writes]
        ask_levels = [(ASK_BASE + k * STEP, q) for k, q in ask_writes]
        if bid_sweep is not None:
            swept = book.levels_between(Side.BID, BID_BASE + bid_sweep * STEP, D("Infinity"))
            bid_levels += [(price, D(0)) for price, _ in swept]
        if ask_sweep is not None:
            swept = book.levels_between(Side.ASK, D(0), ASK_BASE + ask_sweep * STEP)
            ask_levels += [(price, D(0)) for price, _ in swept]
        book.apply(update_id, bid_levels, ask_levels)
        if not looks:
            continue
        binned, seen = follow_as_the_listener(binned, book, params)
        if seen is None:
            continue
        spans, picture = seen
        for side, span, got in ((Side.BID, spans.bid, picture.bid), (Side.ASK, spans.ask, picture.ask)):
            assert got.first == span.first and len(got.qty) == span.bins
            assert list(got.qty) == (reference(book, side, span) if span.bins else [])


def test_the_window_widens_when_the_band_moves_past_it_and_recentres_when_far():
    book = OrderBook()
    bids = [(D(86000) - 10 * i, D(1)) for i in range(800)]
    book.load_snapshot(1, bids, [(D(86010) + 10 * i, D(2)) for i in range(800)])
    params = HeatmapParams(range_pct=D("1"))
    binned, seen = follow_as_the_listener(None, book, params)
    assert binned is not None and seen is not None
    window = binned.window
    assert window == window_around(seen[0]) and window.bid_from is not None

    def move_down(update_id: int, by_levels: int, already: int) -> None:
        """The touch moves down: bids taken away, asks placed where they were."""
        gone = range(already, already + by_levels)
        book.apply(
            update_id, [(D(86000) - 10 * i, D(0)) for i in gone], [(D(86000) - 10 * i, D(3)) for i in gone]
        )

    move_down(2, 40, 0)  # 400 down (8 bins): the window reaches down, no binning afresh
    again, seen = follow_as_the_listener(binned, book, params)
    assert again is binned and seen is not None and binned.window.bid_from < window.bid_from
    for side, span, got in ((Side.BID, seen[0].bid, seen[1].bid), (Side.ASK, seen[0].ask, seen[1].ask)):
        assert list(got.qty) == reference(book, side, span)
    move_down(3, 200, 40)  # 2,000 more: binned afresh around the band
    fresh, seen = follow_as_the_listener(binned, book, params)
    assert fresh is not binned and seen is not None and fresh.window == window_around(seen[0])
    for side, span, got in ((Side.BID, seen[0].bid, seen[1].bid), (Side.ASK, seen[0].ask, seen[1].ask)):
        assert list(got.qty) == reference(book, side, span)
