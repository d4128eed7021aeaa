"""Chart-ready dicts for order blocks and candles, shared by the REST API and the push deltas."""

from __future__ import annotations

from typing import Any

from apps.json_http.decimal_text import decimal_text


def orderblock_id(symbol: str, direction: str, created_ts_ms: int) -> str:
    return f"{symbol}:{direction}:{created_ts_ms}"


def orderblock_overlay(block: Any) -> dict[str, Any]:
    """`block` is an OrderBlock row or any object with the same attribute names."""
    return {
        "id": orderblock_id(block.symbol, block.direction, block.created_ts_ms),
        "kind": "orderblock",
        "symbol": block.symbol,
        "direction": block.direction,
        "status": block.status,
        "price_low": decimal_text(block.price_low),
        "price_high": decimal_text(block.price_high),
        "atr14": decimal_text(block.atr14),
        "bos_level": decimal_text(block.bos_level),
        "created_ts_ms": block.created_ts_ms,
        "valid_from_ts_ms": block.valid_from_ts_ms,
        "valid_to_ts_ms": block.valid_to_ts_ms,
        "bos_ts_ms": block.bos_ts_ms,
        "touched_ts_ms": block.touched_ts_ms,
        "time_from": block.created_ts_ms // 1000,
        "time_to": block.valid_to_ts_ms // 1000 if block.valid_to_ts_ms is not None else None,
    }


def candle_overlay(candle: Any, closed: bool = True, tf: str | None = None) -> dict[str, Any]:
    """`candle` is a Candle row or any object with open_time_ms/open/high/low/close/volume. Pushed
    candles name their timeframe (`tf`): the page applies only the one it shows."""
    overlay = {
        "time": candle.open_time_ms // 1000,
        "open": float(candle.open),
        "high": float(candle.high),
        "low": float(candle.low),
        "close": float(candle.close),
        "volume": float(candle.volume),
        "closed": closed,
    }
    if tf is not None:
        overlay["tf"] = tf
    return overlay


def aggregated_candle_overlay(candle: Any, tf: str | None = None) -> dict[str, Any]:
    """A 4h/1d candle (apps.orderblocks.domain.timeframes.AggregatedCandle): `hours` is how many 1h
    candles it was made of (fewer than 4/24 while it is open, or at a gap in the 1h history)."""
    overlay = candle_overlay(candle, closed=candle.closed, tf=tf)
    overlay["volume"] = round(overlay["volume"], 8)  # a sum of floats: no 2.2000000000000006
    return {**overlay, "hours": candle.parts}
