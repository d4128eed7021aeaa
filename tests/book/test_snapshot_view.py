"""The read-only book view listeners get each cycle, and the immutable publication cycle."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookChangedError, BookSnapshotView
from apps.book.services.cycle import PublishCycle


def test_the_book_view_answers_at_its_update_id_or_not_at_all():
    book = OrderBook()
    book.load_snapshot(7, [(D(99), D(2)), (D(98), D(1)), (D(97), D(4))], [(D(101), D(3)), (D(102), D(1))])
    view = BookSnapshotView.capture(book)
    assert view.update_id == 7 and view.current
    assert view.best_bid() == (D(99), D(2)) and view.best_ask() == (D(101), D(3))
    levels = view.levels_between(Side.BID, D(98), D(99))
    assert levels == [(D(98), D(1)), (D(99), D(2))]
    assert view.top(Side.ASK, 5) == [(D(101), D(3)), (D(102), D(1))] and view.depth(Side.BID) == 3

    book.apply(8, [(D(99), D(0)), (D(100), D(5))], [])
    assert not view.current
    # what was captured or already read stays as it was
    assert (
        view.update_id == 7
        and view.best_bid() == (D(99), D(2))
        and view.trusted_window == (D(0), D("Infinity"))
    )
    assert levels == [(D(98), D(1)), (D(99), D(2))]
    for read in (
        lambda: view.levels_between(Side.BID, D(98), D(99)),
        lambda: view.top(Side.BID, 1),
        lambda: view.depth(Side.ASK),
    ):
        with pytest.raises(BookChangedError, match="update_id=7"):
            read()
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.update_id = 8  # type: ignore[misc]
    assert BookSnapshotView.capture(book).levels_between(Side.BID, D(99), D(100)) == [(D(100), D(5))]


@pytest.mark.parametrize(
    "write", [lambda b: b.clear(), lambda b: b.load_snapshot(7, [], []), lambda b: b.apply(7, [], [])]
)
def test_every_book_write_ends_the_views_level_reads(write):
    book = OrderBook()
    book.load_snapshot(7, [(D(99), D(2))], [(D(101), D(3))])
    view = BookSnapshotView.capture(book)
    write(book)
    with pytest.raises(BookChangedError):
        view.levels_between(Side.ASK, D(100), D(102))


def test_a_publish_cycle_cannot_be_changed():
    cycle = PublishCycle(now_ms=1, symbol="BTCEUR", status="live", book=None, update_id=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cycle.status = "stale"  # type: ignore[misc]
    assert cycle.trades == ()
