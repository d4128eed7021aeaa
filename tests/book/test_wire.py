"""The Binance wire format (apps.book.domain.wire): one raw frame -> exactly one typed message or a
typed bad frame whose kind is the streamer's counter key; klines and error bodies, WS and REST."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from apps.book.domain.events import DepthEvent, Kline, KlineRow, Trade
from apps.book.domain.wire import (
    STATIC_BOUNDS,
    BadFrame,
    ErrorPayload,
    LevelBounds,
    ServerShutdown,
    WireError,
    classify_frame,
    exchange_level_bounds,
    exchange_weight_limit,
    parse_error_payload,
    parse_kline,
    parse_kline_row,
    parse_klines_body,
    parse_retry_after,
    parse_snapshot,
    parse_used_weight,
)
from apps.simulator.wire import exchange_info

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
        ({**K, "t": True}, "t: not an integer in [0, 2**63) (True)"),
        ({**K, "c": "abc"}, "c: not a number in [0, 1000000000] ('abc')"),
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


# ---------------------------------------------------------------------------- plausibility at the door


def depth_with(level: list) -> str:
    return combined({**DEPTH, "b": [["100.0", "1"], level]})


@pytest.mark.parametrize(
    ("level", "detail"),
    [
        (
            ["100.5", "10000000000000000000000000"],
            "b price / b qty 100.5 / 10000000000000000000000000 outside",
        ),
        (["100.5", "1e25"], "b qty is not a plain decimal: '1e25'"),
        (["100.5", "1E+2"], "b qty is not a plain decimal: '1E+2'"),
        (["100.5", "NaN"], "b qty is not a plain decimal: 'NaN'"),
        (["100.5", "Infinity"], "b qty is not a plain decimal: 'Infinity'"),
        (["100.5", "-1"], "b qty is not a plain decimal: '-1'"),
        (["100.5", "+1"], "b qty is not a plain decimal: '+1'"),
        (["100.5", " 1"], "b qty is not a plain decimal: ' 1'"),
        (["100.5", "1_000"], "b qty is not a plain decimal: '1_000'"),
        (["100.5", "\u0661"], "b qty is not a plain decimal: '\u0661'"),  # Arabic-Indic 1: Decimal takes it
        (["100.5", "1." + "0" * 40], "b qty is not a plain decimal: '1.000000000000000000'"),
        (["100.5", "1.2.3"], "b qty is not a plain decimal: '1.2.3'"),
        (["100.5", ""], "b qty is not a plain decimal: ''"),
        (["100.5", 1], "b qty is not a string"),
        (["0.000000001", "1"], "b price / b qty 0.000000001 / 1 outside"),
        (["1000000000.01", "1"], "b price / b qty 1000000000.01 / 1 outside"),
        (["sNaN", "1"], "b price is not a plain decimal: 'sNaN'"),
    ],
)
def test_an_implausible_level_makes_a_bad_depth_event(level, detail):
    bad = classify_frame(depth_with(level), "BTCEUR")
    assert isinstance(bad, BadFrame) and bad.kind == "bad depth event"
    assert bad.detail.startswith(detail), bad.detail


def test_levels_at_the_bounds_are_plausible():
    for price, qty in [("0.00000001", "0"), ("1000000000", "1000000000"), ("87000.01000000", "0.00000000")]:
        event = classify_frame(depth_with([price, qty]), "BTCEUR")
        assert isinstance(event, DepthEvent) and event.bids[1] == (Decimal(price), Decimal(qty))


def test_the_bounds_a_frame_is_held_to_are_the_callers():
    tight = LevelBounds(min_price=Decimal("0.01"), max_price=Decimal(1000), max_qty=Decimal(90))
    assert isinstance(classify_frame(depth_with(["999.99", "90"]), "BTCEUR", tight), DepthEvent)
    for level in (["1000.01", "1"], ["100", "90.00000001"]):
        assert classify_frame(depth_with(level), "BTCEUR", tight).kind == "bad depth event"  # type: ignore[union-attr]
    trade = classify_frame(combined({**TRADE, "q": "91"}), "BTCEUR", tight)
    assert trade == BadFrame("bad trade", "p / q 100.5 / 91 outside [0.01, 1000] / [0, 90]")


@pytest.mark.parametrize(
    ("payload", "kind", "detail"),
    [
        ({**DEPTH, "u": 2**63}, "bad depth event", "field 'u' is missing or not an integer in [0, 2**63)"),
        ({**DEPTH, "E": 5.0}, "bad depth event", "field 'E' is missing or not an integer in [0, 2**63)"),
        ({**TRADE, "q": "NaN"}, "bad trade", "q is not a plain decimal: 'NaN'"),
        ({**TRADE, "p": "1e3"}, "bad trade", "p is not a plain decimal: '1e3'"),
        (
            {"e": "kline", "s": "BTCEUR", "k": {**K, "c": "NaN"}},
            "bad kline",
            "c: not a number in [0, 1000000000] ('NaN')",
        ),
        ({"e": "kline", "s": "BTCEUR", "k": {**K, "v": "1e25"}}, "bad kline", "v: not a number in"),
        (
            {"e": "kline", "s": "BTCEUR", "k": {**K, "o": -1}},
            "bad kline",
            "o: not a number in [0, 1000000000] (-1)",
        ),
        (
            {"e": "kline", "s": "BTCEUR", "k": {**K, "t": "1" * 20}},
            "bad kline",
            "t: not an integer in [0, 2**63)",
        ),
        (
            {"e": "kline", "s": "BTCEUR", "k": {**K, "s": ["x"]}},
            "bad kline",
            "s / i: not strings (['x'], '1h')",
        ),
    ],
)
def test_implausible_ids_trades_and_klines_are_bad_frames(payload, kind, detail):
    bad = classify_frame(combined(payload), "BTCEUR")
    assert isinstance(bad, BadFrame) and bad.kind == kind and bad.detail.startswith(detail), bad


def test_a_kline_from_json_numbers_needs_finite_ones():
    # json.loads reads 1e999 as float infinity: never a candle value
    frame = '{"e": "kline", "s": "BTCEUR", "k": ' + json.dumps(K)[:-1] + ', "h": 1e999}}'
    assert classify_frame(frame, "BTCEUR") == BadFrame(
        "bad kline", "h: not a number in [0, 1000000000] (inf)"
    )
    assert parse_kline({**K, "v": 12}).volume == Decimal(12)


def test_frames_nested_beyond_json_s_reach_and_oversized_details_are_bad_frames():
    deep = classify_frame("[" * 100_000 + "]" * 100_000, "BTCEUR")
    assert isinstance(deep, BadFrame) and deep.kind == "malformed json" and "nested too deeply" in deep.detail
    nested = [[[[["depthUpdate"] * 1000] * 1000]]]  # its text is never built whole for the log
    bad = classify_frame(combined({"e": nested, "s": "BTCEUR"}), "BTCEUR")
    assert isinstance(bad, BadFrame) and bad.kind == "unknown event" and len(bad.detail) <= 40
    error = classify_frame(combined({"code": {"a": [1] * 10_000}, "msg": ["x"] * 10_000}), "BTCEUR")
    assert isinstance(error, BadFrame) and error.kind == "error payload" and len(error.detail) < 200


def test_exchange_info_filters_narrow_the_static_bounds():
    info = exchange_info("BTCEUR", 0, 6000)  # the simulator's, shaped like Binance's
    assert exchange_level_bounds(info, "BTCEUR") == LevelBounds(
        min_price=Decimal("0.01"), max_price=Decimal(1_000_000), max_qty=Decimal(9000 * 10_000)
    )
    [symbol] = info["symbols"]
    disabled = [{"filterType": "PRICE_FILTER", "minPrice": "0", "maxPrice": "0"}, {"filterType": "LOT_SIZE"}]
    assert exchange_level_bounds({"symbols": [{**symbol, "filters": disabled}]}, "BTCEUR") == STATIC_BOUNDS
    wide = [{"filterType": "PRICE_FILTER", "minPrice": "0.000000001", "maxPrice": "1e12"}]
    assert exchange_level_bounds({"symbols": [{**symbol, "filters": wide}]}, "BTCEUR") == STATIC_BOUNDS
    for body in ({}, {"symbols": [{**symbol, "symbol": "ETHEUR"}]}, {"symbols": "x"}, [1]):
        with pytest.raises(WireError, match="no filters for BTCEUR"):
            exchange_level_bounds(body, "BTCEUR")
    upside_down = [{"filterType": "PRICE_FILTER", "minPrice": "10", "maxPrice": "1"}, {"filterType": ["x"]}]
    with pytest.raises(WireError, match="minPrice 10 above maxPrice 1"):
        exchange_level_bounds({"symbols": [{**symbol, "filters": upside_down}]}, "BTCEUR")


def test_a_snapshot_is_held_to_the_bounds_too():
    body = {"lastUpdateId": 1, "bids": [["100", "1"]], "asks": [["101", "1e25"]]}
    with pytest.raises(WireError, match="asks qty is not a plain decimal: '1e25'"):
        parse_snapshot(body)
    with pytest.raises(WireError, match="outside"):
        parse_snapshot({**body, "asks": [["101", "2"]]}, LevelBounds(Decimal(1), Decimal(100), Decimal(10)))


def test_rate_limit_headers_are_read_as_bounded_numbers():
    assert (
        parse_retry_after("2") == 2.0 and parse_retry_after("0.5") == 0.5 and parse_retry_after("-3") == 0.0
    )
    for unreadable in (None, "", "soon", "inf", "-inf", "nan", "1e999"):
        assert parse_retry_after(unreadable) == 60.0  # inf would stop every REST call for good
    assert parse_retry_after("1e9") == 3 * 86_400.0
    assert parse_used_weight("1234") == 1234
    for odd in (None, "", "-1", "1.5", "\u00b2", "\u0661", "9" * 10, "9" * 5000):  # superscript 2: isdigit
        assert parse_used_weight(odd) is None


def test_the_exchange_weight_limit_is_a_plausible_integer():
    rule = {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}
    assert exchange_weight_limit({"rateLimits": [rule]}) == 6000
    for limit in (True, 0, -5, 10**100, 6000.0, "6000"):
        assert exchange_weight_limit({"rateLimits": [{**rule, "limit": limit}]}) is None
