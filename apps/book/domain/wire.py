"""Binance's wire format in one place: every payload this service reads, parsed into typed data. Pure.

Schemas (frozen dataclasses): `DepthEvent`, `Trade`, `Kline`, `DepthSnapshot` and `KlineRow` in
apps.book.domain.events; `ServerShutdown`, `ErrorPayload` and `BadFrame` here.

- WebSocket: `classify_frame` turns one raw combined-stream frame into exactly one message
  (`DepthEvent` | `Trade` | `Kline` | `ServerShutdown`) or a `BadFrame` whose `kind` is the
  streamer's `bad_frames` counter key ("malformed json", "not an object", "error payload",
  "wrong symbol", "unknown event", "bad depth event", "bad trade", "bad kline").
- REST: `parse_snapshot` (GET /api/v3/depth), `parse_klines_body` + `parse_kline_row`
  (GET /api/v3/klines), `parse_error_payload` (a `{"code", "msg"}` body, on either side).
Every parser raises `WireError` with a short reason on anything malformed, so callers can count and
log the payload without ever crashing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.book.domain.events import DepthEvent, DepthSnapshot, Kline, KlineRow, Level, Trade

ZERO = Decimal(0)


class WireError(ValueError):
    """A payload that does not have Binance's documented shape."""


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


def parse_decimal(text: Any, what: str) -> Decimal:
    if not isinstance(text, str):
        raise WireError(f"{what} is not a string")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise WireError(f"{what} is not a decimal: {text[:20]!r}") from None
    if not value.is_finite() or value < ZERO:
        raise WireError(f"{what} is not a finite non-negative number")
    return value


def parse_levels(raw: Any, what: str) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise WireError(f"{what} is not a list")
    levels = []
    for entry in raw:
        if not isinstance(entry, list) or len(entry) < 2:
            raise WireError(f"{what} entry is not [price, qty]")
        price = parse_decimal(entry[0], f"{what} price")
        if price == ZERO:
            raise WireError(f"{what} price is zero")
        levels.append((price, parse_decimal(entry[1], f"{what} qty")))
    return tuple(levels)


def _int(payload: Mapping[str, Any], key: str) -> int:
    value = payload.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WireError(f"field {key!r} is missing or not a non-negative integer")
    return value


# Klines are read leniently (numbers or strings; the candle rules in apps.orderblocks judge the values)


def _kline_decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise WireError(f"{field}: not a number ({value!r})") from None


def _kline_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise WireError(f"{field}: not an integer ({value!r})")
    try:
        return int(value)
    except ValueError:
        raise WireError(f"{field}: not an integer ({value!r})") from None


# ------------------------------------------------------------------------------------------ events


def parse_depth_event(payload: Mapping[str, Any]) -> DepthEvent:
    first = _int(payload, "U")
    final = _int(payload, "u")
    if final < first:
        raise WireError("u < U")
    return DepthEvent(
        first_update_id=first,
        final_update_id=final,
        event_time_ms=_int(payload, "E"),
        bids=parse_levels(payload.get("b"), "b"),
        asks=parse_levels(payload.get("a"), "a"),
    )


def parse_agg_trade(payload: Mapping[str, Any]) -> Trade:
    return Trade(
        trade_id=_int(payload, "a"),
        price=parse_decimal(payload.get("p"), "p"),
        qty=parse_decimal(payload.get("q"), "q"),
        ts_ms=_int(payload, "T"),
        buyer_is_maker=bool(payload.get("m")),
    )


def parse_kline(k: Mapping[str, Any]) -> Kline:
    """The `k` object of a kline event."""
    try:
        symbol, interval, closed = str(k["s"]), str(k["i"]), k["x"]
        raw = (k["t"], k["o"], k["h"], k["l"], k["c"], k["v"])
    except (KeyError, TypeError) as exc:
        raise WireError(f"kline object lacks field {exc}") from None
    if not isinstance(closed, bool):
        raise WireError(f"x: not a boolean ({closed!r})")
    return Kline(
        symbol=symbol.upper(),
        interval=interval,
        open_time_ms=_kline_int(raw[0], "t"),
        open=_kline_decimal(raw[1], "o"),
        high=_kline_decimal(raw[2], "h"),
        low=_kline_decimal(raw[3], "l"),
        close=_kline_decimal(raw[4], "c"),
        volume=_kline_decimal(raw[5], "v"),
        closed=closed,
    )


def parse_kline_event(payload: Mapping[str, Any]) -> Kline:
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
EVENT_PARSERS: dict[str, tuple[Callable[[Mapping[str, Any]], StreamMessage], str]] = {
    "depthUpdate": (parse_depth_event, BAD_DEPTH_EVENT),
    "aggTrade": (parse_agg_trade, BAD_TRADE),
    "kline": (parse_kline_event, BAD_KLINE),
}


def classify_frame(frame: str | bytes, symbol: str) -> StreamMessage:
    """One raw combined-stream frame (`{"stream": ..., "data": {...}}` or a bare payload) as exactly
    one typed message, or a `BadFrame`. `symbol` is the upper-case symbol this stream is for."""
    try:
        message = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        return BadFrame(MALFORMED_JSON, repr(frame[:60]))
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
        return BadFrame(UNKNOWN_EVENT, str(event_type)[:40])
    if payload.get("s") != symbol:
        return BadFrame(WRONG_SYMBOL, str(payload.get("s"))[:20])
    parse, bad_kind = entry
    try:
        return parse(payload)
    except WireError as exc:
        return BadFrame(bad_kind, str(exc))


# -------------------------------------------------------------------------------------------- REST


def parse_error_payload(payload: Any) -> ErrorPayload | None:
    """The error a body carries (`{"code", "msg"}`), or None when it is not an error body."""
    if isinstance(payload, dict) and "code" in payload and "msg" in payload:
        return ErrorPayload(code=payload.get("code"), msg=str(payload.get("msg")))
    return None


def parse_snapshot(payload: Any) -> DepthSnapshot:
    """GET /api/v3/depth."""
    if not isinstance(payload, Mapping):
        raise WireError("snapshot is not an object")
    if "code" in payload and "lastUpdateId" not in payload:
        raise WireError(f"error body code={payload.get('code')} msg={str(payload.get('msg'))[:80]}")
    return DepthSnapshot(
        last_update_id=_int(payload, "lastUpdateId"),
        bids=parse_levels(payload.get("bids"), "bids"),
        asks=parse_levels(payload.get("asks"), "asks"),
    )


def parse_klines_body(payload: Any) -> list[Any]:
    """GET /api/v3/klines: the list of rows, each still raw (see `parse_kline_row`)."""
    if not isinstance(payload, list):
        raise WireError("klines answer is not a list")
    return payload


def parse_kline_row(row: Sequence[Any]) -> KlineRow:
    """One /api/v3/klines row `[open_time, o, h, l, c, v, close_time, ...]`."""
    if not isinstance(row, list | tuple) or len(row) < 7:
        raise WireError(f"kline row must be an array of at least 7 items, got {row!r}"[:200])
    return KlineRow(
        open_time_ms=_kline_int(row[0], "open_time"),
        open=_kline_decimal(row[1], "open"),
        high=_kline_decimal(row[2], "high"),
        low=_kline_decimal(row[3], "low"),
        close=_kline_decimal(row[4], "close"),
        volume=_kline_decimal(row[5], "volume"),
        close_time_ms=_kline_int(row[6], "close_time"),
    )


def exchange_weight_limit(payload: Any) -> int | None:
    """REQUEST_WEIGHT per 1 MINUTE from an exchangeInfo body's rateLimits (None when it has none)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("rateLimits"), list):
        raise WireError("exchangeInfo: no rateLimits list")
    for rule in payload["rateLimits"]:
        if (
            isinstance(rule, dict)
            and rule.get("rateLimitType") == "REQUEST_WEIGHT"
            and rule.get("interval") == "MINUTE"
            and rule.get("intervalNum") == 1
            and isinstance(rule.get("limit"), int)
            and rule["limit"] > 0
        ):
            return int(rule["limit"])
    return None
