"""Binance's wire format in one place: every payload this service reads, parsed into typed data. Pure.

Schemas (frozen dataclasses): `DepthEvent`, `Trade`, `Kline`, `DepthSnapshot` and `KlineRow` in
apps.book.domain.events; `ServerShutdown`, `ErrorPayload` and `BadFrame` here.

- WebSocket: `classify_frame` turns one raw combined-stream frame into exactly one message
  (`DepthEvent` | `Trade` | `Kline` | `ServerShutdown`) or a `BadFrame` whose `kind` is the
  streamer's `bad_frames` counter key ("malformed json", "not an object", "error payload",
  "wrong symbol", "unknown event", "bad depth event", "bad trade", "bad kline").
- REST: `parse_snapshot` (GET /api/v3/depth), `parse_klines_body` + `parse_kline_row`
  (GET /api/v3/klines), `parse_error_payload` (a `{"code", "msg"}` body, on either side).
Every parser raises `WireError` with a short reason on anything malformed or implausible, so callers
can count and log the payload without ever crashing; `classify_frame` never raises at all.

Plausibility at the door: a price or quantity must be a plain decimal string (ASCII digits and one
point, at most MAX_DECIMAL_CHARS characters: no exponent, sign, NaN or Infinity) inside `LevelBounds`
(`level_in_bounds`): the static bounds, or those exchangeInfo's PRICE_FILTER and
LOT_SIZE give (`exchange_level_bounds`, which only ever narrows them). Ids and times are integers in
[0, 2**63 - 1]. A frame nested beyond what `json` can decode is a malformed frame, not an exception.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.book.domain.events import DepthEvent, DepthSnapshot, Kline, KlineRow, Level, Trade

ZERO = Decimal(0)


class WireError(ValueError):
    """A payload that does not have Binance's documented shape, or holds implausible values."""


# ------------------------------------------------------------------------------ plausibility bounds

MAX_DECIMAL_CHARS = 32  # Binance sends 8 decimals: "87000.01000000" is 14 characters
MAX_ID = 2**63 - 1  # update ids, trade ids and times are int64 at Binance
LEVEL_ORDERS_MAX = 10_000  # a level sums resting orders of at most LOT_SIZE maxQty each
MAX_KLINE_VOLUME = Decimal(10**15)  # the candle table keeps 16 integer digits
MAX_WEIGHT_LIMIT = 10_000_000  # REQUEST_WEIGHT per minute (Binance: 6000)


@dataclass(frozen=True, slots=True)
class LevelBounds:
    """The plausible range of a price (min_price..max_price) and of a quantity (0..max_qty), inclusive."""

    min_price: Decimal
    max_price: Decimal
    max_qty: Decimal


# before exchangeInfo answered (or when it cannot be had): generous for BTC/EUR, tight enough that
# price * qty of every level and every sum of them fits the exact arithmetic and the stored columns
STATIC_BOUNDS = LevelBounds(min_price=Decimal("0.00000001"), max_price=Decimal(10**9), max_qty=Decimal(10**9))
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 40, 40


def plain_decimal(text: Any) -> Decimal | None:
    """`text` as a Decimal when it is a plain decimal string (ASCII digits and at most one point,
    at most MAX_DECIMAL_CHARS long: never an exponent, a sign, NaN or Infinity); else None."""
    if type(text) is not str or len(text) > MAX_DECIMAL_CHARS or text.strip("0123456789."):
        return None  # (strip leaves nothing of a text made of digits and points only)
    try:
        return Decimal(text)  # still refuses "", "." and "1.2.3"
    except InvalidOperation:
        return None


def level_in_bounds(price: Decimal, qty: Decimal, bounds: LevelBounds) -> bool:
    """A level (or a trade) is plausible: min_price <= price <= max_price and 0 <= qty <= max_qty."""
    return bounds.min_price <= price <= bounds.max_price and ZERO <= qty <= bounds.max_qty


def brief(value: Any, limit: int = 40) -> str:
    """A short text of any decoded JSON value for a log line (bounded work, whatever its size or depth):
    a string as it is, anything else as its (abridged) repr."""
    return (value if isinstance(value, str) else _REPR.repr(value))[:limit]


def shown(value: Any, limit: int = 30) -> str:
    """An abridged repr of any decoded JSON value (strings quoted), bounded like `brief`."""
    return _REPR.repr(value)[:limit]


# ------------------------------------------------------------------------------ messages and errors


@dataclass(frozen=True, slots=True)
class ServerShutdown:
    """`serverShutdown` (stream or WebSocket API form): the server will close this connection soon."""


@dataclass(frozen=True, slots=True)
class ErrorPayload:
    """A `{"code": ..., "msg": ...}` body: Binance's error shape on the stream and over REST."""

    code: Any
    msg: str

    def describe(self) -> str:
        return f"code={self.code} msg={self.msg[:80]}"


# BadFrame kinds: the keys of the streamer's `bad_frames` counter (and of /api/health's `bad_frames`)
MALFORMED_JSON = "malformed json"
NOT_AN_OBJECT = "not an object"
ERROR_PAYLOAD = "error payload"
WRONG_SYMBOL = "wrong symbol"
UNKNOWN_EVENT = "unknown event"
BAD_DEPTH_EVENT = "bad depth event"
BAD_TRADE = "bad trade"
BAD_KLINE = "bad kline"


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame that carries no usable message: `kind` is its counter key, `detail` goes to the log."""

    kind: str
    detail: str


StreamMessage = DepthEvent | Trade | Kline | ServerShutdown | BadFrame

# ------------------------------------------------------------------------------------------ fields


def _level_problem(price_text: Any, qty_text: Any, names: tuple[str, str], bounds: LevelBounds) -> str:
    """Why a [price, qty] pair is refused (called only once it is)."""
    for text, name in ((price_text, names[0]), (qty_text, names[1])):
        if not isinstance(text, str):
            return f"{name} is not a string"
        if plain_decimal(text) is None:
            return f"{name} is not a plain decimal: {text[:20]!r}"
    return (
        f"{names[0]} / {names[1]} {price_text} / {qty_text} outside [{bounds.min_price}, "
        f"{bounds.max_price}] / [0, {bounds.max_qty}]"
    )


def parse_level(price_text: Any, qty_text: Any, names: tuple[str, str], bounds: LevelBounds) -> Level:
    """One (price, qty): both plain decimals (`plain_decimal`) inside `bounds` (`level_in_bounds`)."""
    price, qty = plain_decimal(price_text), plain_decimal(qty_text)
    if price is None or qty is None or not level_in_bounds(price, qty, bounds):
        raise WireError(_level_problem(price_text, qty_text, names, bounds))
    return price, qty


def parse_levels(raw: Any, what: str, bounds: LevelBounds = STATIC_BOUNDS) -> tuple[Level, ...]:
    """`[[price, qty], ...]`, each pair as `parse_level` reads it (inlined here: the hot path)."""
    if not isinstance(raw, list):
        raise WireError(f"{what} is not a list")
    levels: list[Level] = []
    plain, plausible, append = plain_decimal, level_in_bounds, levels.append  # local names: faster
    for entry in raw:
        if type(entry) is not list or len(entry) < 2:
            raise WireError(f"{what} entry is not [price, qty]")
        price, qty = plain(entry[0]), plain(entry[1])
        if price is None or qty is None or not plausible(price, qty, bounds):
            raise WireError(_level_problem(entry[0], entry[1], (f"{what} price", f"{what} qty"), bounds))
        append((price, qty))
    return tuple(levels)


def _int(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise WireError(f"field {key!r} is missing or not an integer in [0, 2**63)")
    return value


# Klines are read leniently (JSON numbers or plain strings; the candle rules in apps.orderblocks judge
# the candle), but never as NaN, Infinity, a negative or an implausible number: prices up to the
# static max_price, volumes up to MAX_KLINE_VOLUME.


def _kline_decimal(value: Any, field: str, limit: Decimal = STATIC_BOUNDS.max_price) -> Decimal:
    number: Decimal | None = None
    if isinstance(value, str):
        number = plain_decimal(value)
    elif type(value) is int:
        number = Decimal(value)
    elif type(value) is float and math.isfinite(value):
        number = Decimal(repr(value))  # the shortest text of the float: 1.5, not 1.5000000000000000
    if number is None or not ZERO <= number <= limit:
        raise WireError(f"{field}: not a number in [0, {limit}] ({shown(value)})")
    return number


def _kline_int(value: Any, field: str) -> int:
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise WireError(f"{field}: not an integer in [0, 2**63) ({shown(value)})")
    return value


# ------------------------------------------------------------------------------------------ events


def parse_depth_event(payload: Mapping[str, Any], bounds: LevelBounds = STATIC_BOUNDS) -> DepthEvent:
    first = _int(payload, "U")
    final = _int(payload, "u")
    if final < first:
        raise WireError("u < U")
    return DepthEvent(
        first_update_id=first,
        final_update_id=final,
        event_time_ms=_int(payload, "E"),
        bids=parse_levels(payload.get("b"), "b", bounds),
        asks=parse_levels(payload.get("a"), "a", bounds),
    )


def parse_agg_trade(payload: Mapping[str, Any], bounds: LevelBounds = STATIC_BOUNDS) -> Trade:
    price, qty = parse_level(payload.get("p"), payload.get("q"), ("p", "q"), bounds)
    return Trade(
        trade_id=_int(payload, "a"),
        price=price,
        qty=qty,
        ts_ms=_int(payload, "T"),
        buyer_is_maker=bool(payload.get("m")),
    )


def parse_kline(k: Mapping[str, Any]) -> Kline:
    """The `k` object of a kline event."""
    try:
        symbol, interval, closed = k["s"], k["i"], k["x"]
        raw = (k["t"], k["o"], k["h"], k["l"], k["c"], k["v"])
    except (KeyError, TypeError) as exc:
        raise WireError(f"kline object lacks field {shown(exc.args[0] if exc.args else exc)}") from None
    if not isinstance(symbol, str) or not isinstance(interval, str):
        raise WireError(f"s / i: not strings ({shown(symbol, 20)}, {shown(interval, 20)})")
    if not isinstance(closed, bool):
        raise WireError(f"x: not a boolean ({shown(closed, 20)})")
    return Kline(
        symbol=symbol.upper(),
        interval=interval,
        open_time_ms=_kline_int(raw[0], "t"),
        open=_kline_decimal(raw[1], "o"),
        high=_kline_decimal(raw[2], "h"),
        low=_kline_decimal(raw[3], "l"),
        close=_kline_decimal(raw[4], "c"),
        volume=_kline_decimal(raw[5], "v", MAX_KLINE_VOLUME),
        closed=closed,
    )


def parse_kline_event(payload: Mapping[str, Any], _bounds: LevelBounds = STATIC_BOUNDS) -> Kline:
    """A kline event; its values are held to the static bounds (a candle is judged whole by the
    candle rules, which know the stored columns), not to the order book's."""
    k = payload.get("k")
    if not isinstance(k, Mapping):
        raise WireError("no k object")
    return parse_kline(k)


# ------------------------------------------------------------------------------------------ stream


def _event_type(payload: Mapping[str, Any]) -> Any:
    """`e`, or `event.e` in the WebSocket API's form (`{"event": {"e": "serverShutdown"}}`)."""
    event_type = payload.get("e")
    if event_type is None and isinstance(payload.get("event"), dict):
        event_type = payload["event"].get("e")
    return event_type


# event type -> (parser, BadFrame kind when the parser rejects the payload)
EVENT_PARSERS: dict[str, tuple[Callable[[Mapping[str, Any], LevelBounds], StreamMessage], str]] = {
    "depthUpdate": (parse_depth_event, BAD_DEPTH_EVENT),
    "aggTrade": (parse_agg_trade, BAD_TRADE),
    "kline": (parse_kline_event, BAD_KLINE),
}


def classify_frame(frame: str | bytes, symbol: str, bounds: LevelBounds = STATIC_BOUNDS) -> StreamMessage:
    """One raw combined-stream frame (`{"stream": ..., "data": {...}}` or a bare payload) as exactly
    one typed message, or a `BadFrame`; never raises. `symbol` is the upper-case symbol this stream
    is for; `bounds` what its prices and quantities may be."""
    try:
        message = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return BadFrame(MALFORMED_JSON, repr(frame[:60]))
    except RecursionError:  # the frame size is bounded (the socket's max_size), its nesting is not
        return BadFrame(MALFORMED_JSON, f"nested too deeply: {frame[:30]!r}")
    payload = message.get("data", message) if isinstance(message, dict) and "stream" in message else message
    if not isinstance(payload, dict):
        return BadFrame(NOT_AN_OBJECT, repr(frame[:60]))
    error = parse_error_payload(payload)
    if error is not None:
        return BadFrame(ERROR_PAYLOAD, error.describe())
    event_type = _event_type(payload)
    if event_type == "serverShutdown":
        return ServerShutdown()
    entry = EVENT_PARSERS.get(event_type) if isinstance(event_type, str) else None
    if entry is None:
        return BadFrame(UNKNOWN_EVENT, brief(event_type))
    if payload.get("s") != symbol:
        return BadFrame(WRONG_SYMBOL, brief(payload.get("s"), 20))
    parse, bad_kind = entry
    try:
        return parse(payload, bounds)
    except WireError as exc:
        return BadFrame(bad_kind, str(exc))


# -------------------------------------------------------------------------------------------- REST


def parse_error_payload(payload: Any) -> ErrorPayload | None:
    """The error a body carries (`{"code", "msg"}`), or None when it is not an error body."""
    if isinstance(payload, dict) and "code" in payload and "msg" in payload:
        code = payload.get("code")
        return ErrorPayload(
            code=code if type(code) in (int, str) else brief(code), msg=brief(payload.get("msg"), 300)
        )
    return None


def parse_snapshot(payload: Any, bounds: LevelBounds = STATIC_BOUNDS) -> DepthSnapshot:
    """GET /api/v3/depth."""
    if not isinstance(payload, Mapping):
        raise WireError("snapshot is not an object")
    if "code" in payload and "lastUpdateId" not in payload:
        raise WireError(f"error body code={brief(payload.get('code'))} msg={brief(payload.get('msg'), 80)}")
    return DepthSnapshot(
        last_update_id=_int(payload, "lastUpdateId"),
        bids=parse_levels(payload.get("bids"), "bids", bounds),
        asks=parse_levels(payload.get("asks"), "asks", bounds),
    )


RETRY_AFTER_DEFAULT_S = 60.0  # a 429/418 whose Retry-After cannot be read
RETRY_AFTER_MAX_S = 3 * 86_400.0  # Binance's longest IP ban is 3 days


def parse_retry_after(header: str | None) -> float:
    """A 429/418's `Retry-After` in seconds: a finite number, at most RETRY_AFTER_MAX_S (so neither
    "inf" nor "1e999" can stop REST for good, nor "nan" lift the wait); unreadable: the default."""
    try:
        seconds = float(header or "")
    except ValueError:
        return RETRY_AFTER_DEFAULT_S
    if not math.isfinite(seconds):
        return RETRY_AFTER_DEFAULT_S
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def parse_used_weight(header: str | None) -> int | None:
    """`X-MBX-USED-WEIGHT-1M`: ASCII digits, at most 9 of them; None when absent or anything else."""
    if header is None or not (header.isascii() and header.isdigit()) or len(header) > 9:
        return None
    return int(header)


def parse_klines_body(payload: Any) -> list[Any]:
    """GET /api/v3/klines: the list of rows, each still raw (see `parse_kline_row`)."""
    if not isinstance(payload, list):
        raise WireError("klines answer is not a list")
    return payload


def parse_kline_row(row: Sequence[Any]) -> KlineRow:
    """One /api/v3/klines row `[open_time, o, h, l, c, v, close_time, ...]`."""
    if not isinstance(row, list | tuple) or len(row) < 7:
        raise WireError(f"kline row must be an array of at least 7 items, got {shown(row, 150)}")
    return KlineRow(
        open_time_ms=_kline_int(row[0], "open_time"),
        open=_kline_decimal(row[1], "open"),
        high=_kline_decimal(row[2], "high"),
        low=_kline_decimal(row[3], "low"),
        close=_kline_decimal(row[4], "close"),
        volume=_kline_decimal(row[5], "volume", MAX_KLINE_VOLUME),
        close_time_ms=_kline_int(row[6], "close_time"),
    )


def exchange_weight_limit(payload: Any) -> int | None:
    """REQUEST_WEIGHT per 1 MINUTE from an exchangeInfo body's rateLimits (None when it has none, or
    none that is an integer in (0, MAX_WEIGHT_LIMIT])."""
    if not isinstance(payload, dict) or not isinstance(payload.get("rateLimits"), list):
        raise WireError("exchangeInfo: no rateLimits list")
    for rule in payload["rateLimits"]:
        if (
            isinstance(rule, dict)
            and rule.get("rateLimitType") == "REQUEST_WEIGHT"
            and rule.get("interval") == "MINUTE"
            and rule.get("intervalNum") == 1
            and type(rule.get("limit")) is int  # not a bool
            and 0 < rule["limit"] <= MAX_WEIGHT_LIMIT
        ):
            return int(rule["limit"])
    return None


def _filter_value(symbol_filter: Mapping[str, Any], key: str) -> Decimal | None:
    """A positive filter value; None when absent or "0" (Binance: a zero disables that rule)."""
    value = plain_decimal(symbol_filter.get(key))
    return value if value is not None and value > ZERO else None


def _symbol_filters(payload: Any, symbol: str) -> dict[str, Mapping[str, Any]]:
    """filterType -> filter of `symbol` in an exchangeInfo body."""
    symbols = payload.get("symbols") if isinstance(payload, dict) else None
    for entry in symbols if isinstance(symbols, list) else ():
        if (
            isinstance(entry, dict)
            and entry.get("symbol") == symbol
            and isinstance(entry.get("filters"), list)
        ):
            return {
                f["filterType"]: f
                for f in entry["filters"]
                if isinstance(f, dict) and isinstance(f.get("filterType"), str)
            }
    raise WireError(f"exchangeInfo: no filters for {symbol}")


def exchange_level_bounds(payload: Any, symbol: str) -> LevelBounds:
    """The level bounds of `symbol` from an exchangeInfo body: PRICE_FILTER's minPrice/maxPrice and
    LEVEL_ORDERS_MAX x LOT_SIZE's maxQty (a level sums orders), each only narrowing STATIC_BOUNDS."""
    filters = _symbol_filters(payload, symbol)
    price_filter, lot_size = filters.get("PRICE_FILTER", {}), filters.get("LOT_SIZE", {})
    min_price, max_price = _filter_value(price_filter, "minPrice"), _filter_value(price_filter, "maxPrice")
    max_qty = _filter_value(lot_size, "maxQty")
    static = STATIC_BOUNDS
    bounds = LevelBounds(
        min_price=max(min_price, static.min_price) if min_price else static.min_price,
        max_price=min(max_price, static.max_price) if max_price else static.max_price,
        max_qty=min(max_qty * LEVEL_ORDERS_MAX, static.max_qty) if max_qty else static.max_qty,
    )
    if bounds.min_price > bounds.max_price:
        raise WireError(f"exchangeInfo: PRICE_FILTER minPrice {min_price} above maxPrice {max_price}")
    return bounds
