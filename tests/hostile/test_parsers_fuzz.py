"""Fuzz of every parser of outside data (issue #15): whatever the input, only the module's documented
error comes out, never another exception, and what is accepted is plausible.

- apps.book.domain.wire: `classify_frame` (a stream frame) never raises and returns a typed message
  or a BadFrame; `parse_depth_event`, `parse_snapshot` (REST depth), `parse_kline_row`,
  `exchange_level_bounds` raise nothing but WireError; every level, trade or candle they accept is
  finite and inside the bounds; the rate-limit headers always read as bounded numbers.
- apps.zones.domain.snapshot_file (zones_snapshot's input): nothing but SnapshotFormatError, as one
  line, for text or bytes.
Inputs: arbitrary text and bytes, text drawn from JSON's own alphabet, JSON documents of any shape,
and Binance-shaped payloads with wrong values in their fields (numbers in every spelling, huge
integers, NaN, deep nesting). Example counts are bounded: the module runs in well under 30 s.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.book.domain.events import DepthEvent, DepthSnapshot, Kline, KlineRow, Trade
from apps.book.domain.wire import (
    STATIC_BOUNDS,
    BadFrame,
    LevelBounds,
    ServerShutdown,
    WireError,
    classify_frame,
    exchange_level_bounds,
    level_in_bounds,
    parse_depth_event,
    parse_kline_row,
    parse_retry_after,
    parse_snapshot,
    parse_used_weight,
)
from apps.simulator.wire import exchange_info
from apps.zones.domain.snapshot_file import (
    SnapshotFormatError,
    parse_depth_snapshot,
    parse_depth_snapshot_bytes,
)

# text and bytes are cheap to draw; structured payloads are not (their drawing, not the parsers, is
# what takes the time): the module stays well under 30 s
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
STRUCTURED = settings(FUZZ, max_examples=100)
SYMBOL = "BTCEUR"
TIGHT = LevelBounds(min_price=Decimal("0.01"), max_price=Decimal(1_000_000), max_qty=Decimal(90_000_000))

# ------------------------------------------------------------------------------------------ inputs

NASTY_NUMBERS = [
    "1e25",
    "1E+25",
    "10000000000000000000000000",
    "1e999999999",
    "1e-999999999",
    "-1e999999999",
    "1e9999999999999999999999",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "inf",
    "-0",
    "+1",
    " 1",
    "1 ",
    "1_000",
    "\u0661",
    "0x10",
    "1.",
    ".5",
    "1.2.3",
    "",
    ".",
    "0.000000001",
    "1000000000.00000001",
    "9" * 40,
    "0." + "0" * 60 + "1",
    "1" * 5000,
]
# every spelling a number comes in: Binance's own, the nasty ones, any text
number_texts = st.one_of(
    st.from_regex(r"\A[0-9]{1,12}\.[0-9]{8}\Z"),
    st.sampled_from(NASTY_NUMBERS),
    st.text(max_size=12),
)
json_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), json_numbers, number_texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# what Binance sends, so that a payload gets past its other fields to the wrong one
good_ids = st.integers(min_value=0, max_value=10**12)
good_prices = st.integers(min_value=1, max_value=10**11).map(
    lambda cents: f"{cents // 100}.{cents % 100:02d}000000"
)
good_qtys = st.integers(min_value=0, max_value=10**12).map(
    lambda units: f"{units // 10**8}.{units % 10**8:08d}"
)
good_levels = st.tuples(good_prices, good_qtys).map(list)
bad_levels = st.one_of(
    st.tuples(st.one_of(good_prices, number_texts), st.one_of(good_qtys, number_texts)).map(list),
    st.tuples(scalars, scalars).map(list),
    st.lists(scalars, max_size=3),
    json_values,
)
levels = st.lists(st.one_of(good_levels, bad_levels), max_size=4)  # each level: good or wrong
junk = st.one_of(json_values, st.integers(), number_texts)
# text made of JSON's own characters: brackets, quotes, numbers, literals (and a few escapes)
JSON_ALPHABET = '[]{}",:0123456789.eE+- \n\\utrfalsnNIiy'
json_ish_text = st.text(alphabet=JSON_ALPHABET, max_size=200)


def mutated(draw: st.DrawFn, payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` with up to two fields replaced by any value and up to one removed."""
    keys = sorted(payload)
    for key in draw(st.lists(st.sampled_from(keys), max_size=2)):
        payload[key] = draw(junk)
    for key in draw(st.lists(st.sampled_from(keys), max_size=1)):
        del payload[key]
    return payload


@st.composite
def depth_payloads(draw: st.DrawFn) -> dict[str, Any]:
    first = draw(good_ids)
    payload = {
        "e": "depthUpdate",
        "E": draw(good_ids),
        "s": SYMBOL,
        "U": first,
        "u": first + draw(st.integers(min_value=0, max_value=5)),
        "b": draw(levels),
        "a": draw(levels),
    }
    return mutated(draw, payload)


@st.composite
def trade_payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload = {
        "e": "aggTrade",
        "E": draw(good_ids),
        "s": SYMBOL,
        "a": draw(good_ids),
        "p": draw(st.one_of(good_prices, number_texts)),
        "q": draw(st.one_of(good_qtys, number_texts)),
        "T": draw(good_ids),
        "m": draw(st.booleans()),
    }
    return mutated(draw, payload)


@st.composite
def kline_payloads(draw: st.DrawFn) -> dict[str, Any]:
    k = {
        "t": draw(good_ids),
        "s": SYMBOL,
        "i": "1h",
        "o": draw(st.one_of(good_prices, number_texts, json_numbers)),
        "h": draw(st.one_of(good_prices, number_texts, json_numbers)),
        "l": draw(good_prices),
        "c": draw(good_prices),
        "v": draw(st.one_of(good_qtys, number_texts, json_numbers)),
        "x": draw(st.booleans()),
    }
    return mutated(draw, {"e": "kline", "E": draw(good_ids), "s": SYMBOL, "k": mutated(draw, k)})


stream_payloads = st.one_of(depth_payloads(), trade_payloads(), kline_payloads())


@st.composite
def snapshot_payloads(draw: st.DrawFn) -> dict[str, Any]:
    return mutated(draw, {"lastUpdateId": draw(good_ids), "bids": draw(levels), "asks": draw(levels)})


@st.composite
def kline_rows(draw: st.DrawFn) -> list[Any]:
    row: list[Any] = [
        draw(good_ids),
        *(draw(st.one_of(good_prices, number_texts, json_numbers)) for _ in range(5)),
    ]
    row += [draw(good_ids), "0", 1]
    for index in draw(st.lists(st.integers(min_value=0, max_value=8), max_size=2)):
        row[index] = draw(junk)
    return row


def frames_of(payload: Any) -> st.SearchStrategy[str]:
    bare = json.dumps(payload, allow_nan=True)
    return st.sampled_from(
        [bare, json.dumps({"stream": "btceur@depth@100ms", "data": payload}, allow_nan=True)]
    )


# ------------------------------------------------------------------------------------------ checks


def check_message(message: object, bounds: LevelBounds) -> None:
    """A message classify_frame returned is one of its types and, when accepted, plausible."""
    assert isinstance(message, DepthEvent | Trade | Kline | ServerShutdown | BadFrame), message
    if isinstance(message, DepthEvent):
        assert 0 <= message.first_update_id <= message.final_update_id < 2**63
        check_levels(message.bids + message.asks, bounds)
    elif isinstance(message, Trade):
        check_levels(((message.price, message.qty),), bounds)
    elif isinstance(message, Kline):
        check_candle(message)
    elif isinstance(message, BadFrame):
        assert isinstance(message.kind, str) and len(message.detail) <= 400


def check_levels(levels: tuple[tuple[Decimal, Decimal], ...], bounds: LevelBounds) -> None:
    for price, qty in levels:
        assert price.is_finite() and qty.is_finite() and level_in_bounds(price, qty, bounds)


def check_candle(candle: Kline | KlineRow) -> None:
    for value in (candle.open, candle.high, candle.low, candle.close, candle.volume):
        assert value.is_finite() and 0 <= value <= Decimal(10**15)


# ------------------------------------------------------------------------------- wire: the stream


@FUZZ
@given(st.one_of(st.text(max_size=300), json_ish_text))
def test_classify_frame_takes_any_text(frame):
    check_message(classify_frame(frame, SYMBOL), STATIC_BOUNDS)


@FUZZ
@given(st.binary(max_size=300))
def test_classify_frame_takes_any_bytes(frame):
    check_message(classify_frame(frame, SYMBOL), STATIC_BOUNDS)


@STRUCTURED
@given(st.data(), stream_payloads, st.sampled_from([STATIC_BOUNDS, TIGHT]))
def test_classify_frame_takes_binance_shaped_frames_with_wrong_values(data, payload, bounds):
    check_message(classify_frame(data.draw(frames_of(payload)), SYMBOL, bounds), bounds)


@STRUCTURED
@given(json_values)
def test_classify_frame_takes_any_json_document(document):
    check_message(classify_frame(json.dumps(document, allow_nan=True), SYMBOL), STATIC_BOUNDS)


@pytest.mark.parametrize("depth", [10, 500, 5_000, 100_000])
def test_classify_frame_takes_any_nesting(depth):
    for frame in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth):
        check_message(classify_frame(frame, SYMBOL), STATIC_BOUNDS)


# ---------------------------------------------------------------------- wire: payloads and REST


def only_wire_error(parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except WireError:
        return None


@STRUCTURED
@given(depth_payloads(), st.sampled_from([STATIC_BOUNDS, TIGHT]))
def test_the_depth_event_parser_raises_only_wire_error(payload, bounds):
    event = only_wire_error(parse_depth_event, payload, bounds)
    if event is not None:
        check_message(event, bounds)


@STRUCTURED
@given(
    st.one_of(
        json_values,
        snapshot_payloads(),
    ),
    st.sampled_from([STATIC_BOUNDS, TIGHT]),
)
def test_the_rest_depth_snapshot_parser_raises_only_wire_error(payload, bounds):
    snapshot = only_wire_error(parse_snapshot, payload, bounds)
    if snapshot is not None:
        assert isinstance(snapshot, DepthSnapshot) and 0 <= snapshot.last_update_id < 2**63
        check_levels(snapshot.bids + snapshot.asks, bounds)


@STRUCTURED
@given(st.one_of(json_values, kline_rows()))
def test_the_rest_kline_row_parser_raises_only_wire_error(row):
    parsed = only_wire_error(parse_kline_row, row)
    if parsed is not None:
        check_candle(parsed)


@STRUCTURED
@given(st.data(), json_values)
def test_exchange_info_filters_raise_only_wire_error_and_only_narrow(data, junk):
    info = exchange_info(SYMBOL, 0, 6000)
    [symbol] = info["symbols"]
    filters = data.draw(
        st.lists(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {"filterType": st.sampled_from(["PRICE_FILTER", "LOT_SIZE"])},
                    optional={"minPrice": scalars, "maxPrice": scalars, "maxQty": scalars},
                ),
            ),
            max_size=4,
        )
    )
    for body in (junk, {**info, "symbols": [{**symbol, "filters": filters}]}):
        bounds = only_wire_error(exchange_level_bounds, body, SYMBOL)
        if bounds is not None:
            assert STATIC_BOUNDS.min_price <= bounds.min_price <= bounds.max_price <= STATIC_BOUNDS.max_price
            assert 0 < bounds.max_qty <= STATIC_BOUNDS.max_qty


@FUZZ
@given(st.one_of(st.none(), st.text(max_size=20), number_texts, json_numbers.map(str)))
def test_rate_limit_headers_are_always_bounded_numbers(header):
    seconds = parse_retry_after(header)
    assert math.isfinite(seconds) and 0 <= seconds <= 3 * 86_400
    used = parse_used_weight(header)
    assert used is None or 0 <= used < 10**9


# ------------------------------------------------------------------ zones_snapshot's file parser


def only_snapshot_error(parse: Any, data: Any) -> DepthSnapshot | None:
    try:
        snapshot = parse(data)
    except SnapshotFormatError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 300, str(exc)  # one line for the command
        return None
    assert isinstance(snapshot, DepthSnapshot)
    check_levels(snapshot.bids + snapshot.asks, STATIC_BOUNDS)
    return snapshot


@FUZZ
@given(st.one_of(st.text(max_size=300), json_ish_text))
def test_the_snapshot_file_parser_takes_any_text(text):
    only_snapshot_error(parse_depth_snapshot, text)


@FUZZ
@given(st.binary(max_size=300))
def test_the_snapshot_file_parser_takes_any_bytes(data):
    only_snapshot_error(parse_depth_snapshot_bytes, data)


@STRUCTURED
@given(
    st.one_of(
        json_values,
        snapshot_payloads(),
    ),
    st.sampled_from([None, 1]),
)
def test_the_snapshot_file_parser_takes_any_json_document(document, indent):
    only_snapshot_error(parse_depth_snapshot, json.dumps(document, allow_nan=True, indent=indent))


@FUZZ
@given(
    st.lists(st.sampled_from([*NASTY_NUMBERS, "87000.01", "1", "0"]), min_size=2, max_size=2), st.booleans()
)
def test_the_snapshot_file_parser_takes_every_spelling_of_a_number(pair, as_json_number):
    price, qty = (text if as_json_number else json.dumps(text) for text in pair)
    text = '{"lastUpdateId": 1, "bids": [[' + price + ", " + qty + ']], "asks": []}'
    only_snapshot_error(parse_depth_snapshot, text)


@pytest.mark.parametrize("depth", [10, 33, 5_000, 100_000])
def test_the_snapshot_file_parser_takes_any_nesting(depth):
    for text in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth, "[" * depth):
        only_snapshot_error(parse_depth_snapshot, text)
        only_snapshot_error(parse_depth_snapshot_bytes, text.encode())
