"""The book's change log: the diff events applied since a reader's cursor, bounded, reset by a
snapshot; read through the cycle's view like every other read."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.book.domain.change_log import ChangeLog
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookChangedError, BookSnapshotView


def test_a_reader_gets_the_events_since_its_cursor_as_the_book_applied_them():
    book = OrderBook()
    book.load_snapshot(1, [(D(99), D(2))], [(D(101), D(3))])
    cursor = BookSnapshotView.capture(book).change_cursor()
    first = ((D(99), D(0)), (D(98), D("1.5")))
    book.apply(2, first, ())
    book.apply(3, [(D(97), D(1))], [(D(101), D(4))])  # a list is kept as a tuple (no later change shows)
    view = BookSnapshotView.capture(book)
    events = view.changes_since(cursor)
    assert events == [(first, ()), (((D(97), D(1)),), ((D(101), D(4)),))]
    assert events is not None and events[0][0] is first  # the event's own tuple, not a copy
    assert view.changes_since(view.change_cursor()) == []


@pytest.mark.parametrize("write", [lambda b: b.load_snapshot(5, [], []), lambda b: b.clear()])
def test_a_snapshot_or_a_clear_sends_every_reader_back_to_the_whole_book(write):
    book = OrderBook()
    book.load_snapshot(1, [(D(99), D(2))], [(D(101), D(3))])
    cursor = BookSnapshotView.capture(book).change_cursor()
    write(book)
    book.apply(6, [(D(98), D(1))], [])
    assert BookSnapshotView.capture(book).changes_since(cursor) is None


def test_the_log_is_bounded_and_a_reader_that_fell_behind_reads_the_book_again():
    log = ChangeLog(max_events=3)
    start = log.cursor()
    for i in range(5):
        log.record(((D(i), D(1)),), ())
    assert log.since(start) is None
    assert log.since((0, 2)) == [(((D(2), D(1)),), ()), (((D(3), D(1)),), ()), (((D(4), D(1)),), ())]
    assert log.since(log.cursor()) == []
    assert log.since((0, 99)) is None  # a cursor from the future is no cursor


def test_the_log_is_read_before_the_first_await_like_the_levels():
    book = OrderBook()
    book.load_snapshot(1, [(D(99), D(2))], [(D(101), D(3))])
    view = BookSnapshotView.capture(book)
    cursor = view.change_cursor()
    book.apply(2, [(D(98), D(1))], [])
    with pytest.raises(BookChangedError):
        view.changes_since(cursor)
