"""Binance spot wire format: JSON payloads built from the simulator's integer units. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.simulator.klines import Candle
from apps.simulator.market import IntLevel, MarketDepthEvent, MarketTrade


def format_scaled(value: int, exponent: int) -> str:
    """An integer in units of 10**-exponent as Binance's 8-decimal string, e.g. (870001, 2) -> '8700.01000000'."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    scale = 10**exponent
    whole, frac = divmod(value, scale)
    return f"{sign}{whole}.{frac:0{exponent}d}{'0' * (8 - exponent)}"


def fmt_price(ticks: int) -> str:
    return format_scaled(ticks, 2)


def fmt_qty(steps: int) -> str:
    return format_scaled(steps, 5)


def fmt_quote(units: int) -> str:
    return format_scaled(units, 7)


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class WireDepth:
    """A depthUpdate as sent: ids U..u and the absolute quantities of the changed levels.

    ``bad_qty`` (the bad_quantity fault): text sent as the first level's quantity instead of its own.
    """

    first_id: int
    final_id: int
    time_ms: int
    bids: tuple[IntLevel, ...]
    asks: tuple[IntLevel, ...]
    bad_qty: str | None = None

    @classmethod
    def from_market(cls, event: MarketDepthEvent) -> WireDepth:
        return cls(event.first_id, event.final_id, event.time_ms, tuple(event.bids), tuple(event.asks))


def merge_depth(events: Sequence[WireDepth]) -> WireDepth:
    """One event covering all given ones (U of the first, u of the last, latest quantity per level)."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for event in events:
        for price, qty in event.bids:
            bids.pop(price, None)
            bids[price] = qty
        for price, qty in event.asks:
            asks.pop(price, None)
            asks[price] = qty
    return WireDepth(
        events[0].first_id, events[-1].final_id, events[-1].time_ms, tuple(bids.items()), tuple(asks.items())
    )


def depth_update(symbol: str, event: WireDepth) -> dict[str, Any]:
    bids = [[fmt_price(p), fmt_qty(q)] for p, q in event.bids]
    asks = [[fmt_price(p), fmt_qty(q)] for p, q in event.asks]
    if event.bad_qty is not None and (bids or asks):
        (bids or asks)[0][1] = event.bad_qty
    return {
        "e": "depthUpdate",
        "E": event.time_ms,
        "s": symbol,
        "U": event.first_id,
        "u": event.final_id,
        "b": bids,
        "a": asks,
    }


def agg_trade(symbol: str, trade: MarketTrade, event_ms: int) -> dict[str, Any]:
    return {
        "e": "aggTrade",
        "E": event_ms,
        "s": symbol,
        "a": trade.agg_id,
        "p": fmt_price(trade.price),
        "q": fmt_qty(trade.qty),
        "f": trade.first_trade_id,
        "l": trade.last_trade_id,
        "T": trade.time_ms,
        "m": trade.buyer_is_maker,
        "M": True,
    }


def kline(symbol: str, candle: Candle, event_ms: int, interval: str = "1h") -> dict[str, Any]:
    return {
        "e": "kline",
        "E": event_ms,
        "s": symbol,
        "k": {
            "t": candle.open_ms,
            "T": candle.close_ms,
            "s": symbol,
            "i": interval,
            "f": candle.first_trade_id,
            "L": candle.last_trade_id,
            "o": fmt_price(candle.open),
            "c": fmt_price(candle.close),
            "h": fmt_price(candle.high),
            "l": fmt_price(candle.low),
            "v": fmt_qty(candle.volume),
            "n": candle.trades,
            "x": candle.closed,
            "q": fmt_quote(candle.quote_volume),
            "V": fmt_qty(candle.taker_base),
            "Q": fmt_quote(candle.taker_quote),
            "B": "0",
        },
    }


def kline_row(candle: Candle) -> list[Any]:
    """One row of GET /api/v3/klines."""
    return [
        candle.open_ms,
        fmt_price(candle.open),
        fmt_price(candle.high),
        fmt_price(candle.low),
        fmt_price(candle.close),
        fmt_qty(candle.volume),
        candle.close_ms,
        fmt_quote(candle.quote_volume),
        candle.trades,
        fmt_qty(candle.taker_base),
        fmt_quote(candle.taker_quote),
        "0",
    ]


def depth_snapshot(last_update_id: int, bids: Iterable[IntLevel], asks: Iterable[IntLevel]) -> dict[str, Any]:
    return {
        "lastUpdateId": last_update_id,
        "bids": [[fmt_price(p), fmt_qty(q)] for p, q in bids],
        "asks": [[fmt_price(p), fmt_qty(q)] for p, q in asks],
    }


def combined(stream: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"stream": stream, "data": payload}


SYMBOL_FILTERS: list[dict[str, Any]] = [
    {
        "filterType": "PRICE_FILTER",
        "minPrice": "0.01000000",
        "maxPrice": "1000000.00000000",
        "tickSize": "0.01000000",
    },
    {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
    {
        "filterType": "NOTIONAL",
        "minNotional": "5.00000000",
        "applyMinToMarket": True,
        "maxNotional": "9000000.00000000",
        "applyMaxToMarket": False,
        "avgPriceMins": 5,
    },
]


def exchange_info(symbol: str, server_ms: int, weight_limit: int) -> dict[str, Any]:
    base, quote = (symbol[:-3], symbol[-3:]) if len(symbol) > 3 else (symbol, "EUR")
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ],
        "exchangeFilters": [],
        "symbols": [
            {
                "symbol": symbol,
                "status": "TRADING",
                "baseAsset": base,
                "baseAssetPrecision": 8,
                "quoteAsset": quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": SYMBOL_FILTERS,
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            }
        ],
    }
