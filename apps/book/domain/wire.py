"""Parse Binance's JSON payloads (already decoded) into exact domain events. Pure.

Every parser raises `WireError` with a short reason on anything malformed, so the streamer can
count and log the frame without ever crashing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.book.domain.events import DepthEvent, DepthSnapshot, Level, Trade

ZERO = Decimal(0)


class WireError(ValueError):
    """A payload that does not have Binance's documented shape."""


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


def parse_snapshot(payload: Any) -> DepthSnapshot:
    if not isinstance(payload, Mapping):
        raise WireError("snapshot is not an object")
    if "code" in payload and "lastUpdateId" not in payload:
        raise WireError(f"error body code={payload.get('code')} msg={str(payload.get('msg'))[:80]}")
    return DepthSnapshot(
        last_update_id=_int(payload, "lastUpdateId"),
        bids=parse_levels(payload.get("bids"), "bids"),
        asks=parse_levels(payload.get("asks"), "asks"),
    )


def parse_agg_trade(payload: Mapping[str, Any]) -> Trade:
    return Trade(
        trade_id=_int(payload, "a"),
        price=parse_decimal(payload.get("p"), "p"),
        qty=parse_decimal(payload.get("q"), "q"),
        ts_ms=_int(payload, "T"),
        buyer_is_maker=bool(payload.get("m")),
    )
