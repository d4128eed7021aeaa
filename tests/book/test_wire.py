"""The Binance wire format (apps.book.domain.wire): one raw frame -> exactly one typed message or a
typed bad frame whose kind is the streamer's counter key; klines and error bodies, WS and REST."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from apps.book.domain.events import DepthEvent, Kline, KlineRow, Trade
from apps.book.domain.wire import (
    BadFrame,
    ErrorPayload,
    ServerShutdown,
    WireError,
    classify_frame,
    parse_error_payload,
    parse_kline,
    parse_kline_row,
    parse_klines_body,
)

K = {
    "t": 3_600_000,
    "T": 7_199_999,
    "s": "btceur",
    "i": "1h",
    "o": "1.5",
    "h": "2",
    "l": "1",
    "c": "1.75",
    "v": "10",
    "x": False,
}
DEPTH = {"e": "depthUpdate", "E": 5, "s": "BTCEUR", "U": 3, "u": 7, "b": [["100.0", "1"]], "a": []}
TRADE = {"e": "aggTrade", "E": 5, "s": "BTCEUR", "a": 9, "p": "100.5", "q": "0.1", "T": 4, "m": True}


def combined(payload: object, stream: str = "btceur@depth@100ms") -> str:
    return json.dumps({"stream": stream, "data": payload})


def test_each_event_type_becomes_its_typed_message():
    depth = classify_frame(combined(DEPTH), "BTCEUR")
    assert isinstance(depth, DepthEvent)
    assert (depth.first_update_id, depth.final_update_id, depth.bids) == (3, 7, ((Decimal(100), Decimal(1)),))
    trade = classify_frame(combined(TRADE).encode(), "BTCEUR")  # bytes frames too
    assert trade == Trade(
        trade_id=9, price=Decimal("100.5"), qty=Decimal("0.1"), ts_ms=4, buyer_is_maker=True
    )
    kline = classify_frame(combined({"e": "kline", "E": 1, "s": "BTCEUR", "k": K}), "BTCEUR")
    assert kline == Kline(
        "BTCEUR",
        "1h",
        3_600_000,
        Decimal("1.5"),
        Decimal(2),
        Decimal(1),
        Decimal("1.75"),
        Decimal(10),
        closed=False,
    )
    assert classify_frame(json.dumps(DEPTH), "BTCEUR") == depth  # a bare (single-stream) payload
    assert classify_frame(combined({"e": "serverShutdown", "E": 1}), "BTCEUR") == ServerShutdown()
    # the WebSocket API's form
    assert classify_frame(json.dumps({"event": {"e": "serverShutdown"}}), "BTCEUR") == ServerShutdown()


@pytest.mark.parametrize(
    ("frame", "kind", "detail"),
    [
        ('{"stream": "x", "data": ', "malformed json", '\'{"stream": "x", "data": \''),
        (b"\xff\xfe", "malformed json", "b'\\xff\\xfe'"),
        ("[1, 2]", "not an object", "'[1, 2]'"),
        ('{"stream": "x", "data": [1]}', "not an object", '\'{"stream": "x", "data": [1]}\''),
        (
            combined({"code": -1100, "msg": "Illegal characters"}),
            "error payload",
            "code=-1100 msg=Illegal characters",
        ),
        (combined({**DEPTH, "s": "ETHEUR"}), "wrong symbol", "ETHEUR"),
        (combined({**TRADE, "s": None}), "wrong symbol", "None"),
        (combined({"e": "bookTicker", "s": "BTCEUR"}), "unknown event", "bookTicker"),
        (combined({"s": "BTCEUR"}), "unknown event", "None"),
        (combined({"e": ["depthUpdate"], "s": "BTCEUR"}), "unknown event", "['depthUpdate']"),
        (combined({**DEPTH, "U": 9}), "bad depth event", "u < U"),
        (combined({**TRADE, "p": 1.5}), "bad trade", "p is not a string"),
        (combined({"e": "kline", "s": "BTCEUR", "k": "x"}), "bad kline", "no k object"),
        (
            combined({"e": "kline", "s": "BTCEUR", "k": {**K, "x": "yes"}}),
            "bad kline",
            "x: not a boolean ('yes')",
        ),
    ],
)
def test_bad_frames_are_typed_with_the_counter_key_and_log_detail(frame, kind, detail):
    assert classify_frame(frame, "BTCEUR") == BadFrame(kind, detail)


def test_a_symbol_check_comes_after_the_error_and_shutdown_checks():
    assert classify_frame(combined({"e": "serverShutdown", "s": "ETHEUR"}), "BTCEUR") == ServerShutdown()
    bad = classify_frame(combined({"code": 1, "msg": "m" * 100, "s": "ETHEUR"}), "BTCEUR")
    assert bad == BadFrame("error payload", "code=1 msg=" + "m" * 80)


def test_klines_are_read_leniently_and_judged_elsewhere():
    assert parse_kline({**K, "t": "3600000", "o": 1.5}).open_time_ms == 3_600_000
    assert parse_kline({**K, "h": "0.5"}).high == Decimal("0.5")  # high below low: a candle rule, not wire
    for raw, message in [
        ({"t": 1, "x": True}, "kline object lacks field 's'"),
        ({**K, "t": True}, "t: not an integer (True)"),
        ({**K, "c": "abc"}, "c: not a number ('abc')"),
    ]:
        with pytest.raises(WireError) as caught:
            parse_kline(raw)
        assert str(caught.value) == message


def test_rest_kline_rows_bodies_and_error_payloads():
    row = [0, "1", "2", "0.5", "1.5", "3", 3_599_999, "4.5", 7, "1", "1.5", "0"]
    assert parse_kline_row(row) == KlineRow(
        0, Decimal(1), Decimal(2), Decimal("0.5"), Decimal("1.5"), Decimal(3), 3_599_999
    )
    with pytest.raises(WireError, match="at least 7 items"):
        parse_kline_row(row[:6])
    with pytest.raises(WireError, match="close_time: not an integer"):
        parse_kline_row([*row[:6], None])
    assert parse_klines_body([row]) == [row]
    with pytest.raises(WireError, match="klines answer is not a list"):
        parse_klines_body({"code": -1121, "msg": "Invalid symbol."})
    assert parse_error_payload({"code": -1121, "msg": "Invalid symbol."}) == ErrorPayload(
        -1121, "Invalid symbol."
    )
    assert parse_error_payload({"code": 0}) is None and parse_error_payload([1]) is None
