from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side
from apps.book.domain.order_book import INFINITY, OrderBook
from apps.book.domain.wire import WireError, parse_depth_event, parse_levels, parse_snapshot


def levels(*pairs):
    return [(D(p), D(q)) for p, q in pairs]


def test_zero_in_any_spelling_deletes_a_level():
    book = OrderBook()
    book.load_snapshot(10, levels(("100.00", "1"), ("99.00", "2"), ("98.00", "3")), levels(("101", "1")))
    for zero in ("0", "0.0", "0.00000000"):
        price = book.top(Side.BID, 1)[0][0]
        book.apply(11, [(price, D(zero))], [])
    assert book.depth(Side.BID) == 0
    assert book.best_bid() is None


def test_same_price_in_other_spelling_is_the_same_level():
    book = OrderBook()
    book.load_snapshot(1, levels(("87000.01000000", "1.5")), levels(("87001.00", "1")))
    book.apply(2, [(D("87000.01"), D("2.25"))], [])
    assert book.top(Side.BID, 5) == [(D("87000.01"), D("2.25"))]


def test_ordering_across_digit_boundary():
    book = OrderBook()
    book.load_snapshot(
        1,
        levels(("99999.99", "1"), ("100000.00", "2"), ("9999.99", "3")),
        levels(("100000.01", "1"), ("1000000.00", "4"), ("100000.10", "2")),
    )
    assert book.best_bid() == (D("100000.00"), D("2"))
    assert [p for p, _ in book.top(Side.BID, 3)] == [D("100000.00"), D("99999.99"), D("9999.99")]
    assert [p for p, _ in book.top(Side.ASK, 3)] == [D("100000.01"), D("100000.10"), D("1000000.00")]


def test_levels_between_is_inclusive_and_ascending():
    book = OrderBook()
    book.load_snapshot(1, levels(("10", "1"), ("11", "1"), ("12", "1"), ("13", "1")), levels(("20", "1")))
    assert [p for p, _ in book.levels_between(Side.BID, D("11"), D("12"))] == [D("11"), D("12")]


def test_trusted_window_follows_snapshot_coverage():
    book = OrderBook()
    book.load_snapshot(1, levels(("10", "1"), ("9", "1")), levels(("11", "1"), ("12", "1")), limit=2)
    assert book.trusted_window == (D("9"), D("12"))
    book.load_snapshot(1, levels(("10", "1")), levels(("11", "1")), limit=5)
    assert book.trusted_window == (D("0"), INFINITY)


def test_crossed_detection():
    book = OrderBook()
    book.load_snapshot(1, levels(("10", "1")), levels(("11", "1")))
    assert not book.is_crossed()
    book.apply(2, levels(("11", "1")), [])
    assert book.is_crossed()


@pytest.mark.parametrize(
    "raw",
    [
        [["abc", "1"]],
        [["1", "-1"]],
        [["NaN", "1"]],
        [["0", "1"]],
        [[1.5, "1"]],
        [["1"]],
        "x",
    ],
)
def test_malformed_levels_are_rejected(raw):
    with pytest.raises(WireError):
        parse_levels(raw, "b")


def test_depth_event_and_snapshot_parse_exactly():
    event = parse_depth_event(
        {
            "e": "depthUpdate",
            "E": 5,
            "s": "BTCEUR",
            "U": 3,
            "u": 7,
            "b": [["87000.01000000", "0.00000000"]],
            "a": [],
        }
    )
    assert (event.first_update_id, event.final_update_id) == (3, 7)
    assert event.bids == ((D("87000.01"), D(0)),)
    with pytest.raises(WireError):
        parse_depth_event({"U": 9, "u": 7, "E": 1, "b": [], "a": []})
    with pytest.raises(WireError):
        parse_snapshot({"code": -1003, "msg": "Too many requests"})
