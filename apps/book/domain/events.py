"""Plain data parsed from Binance's wire format. Exact numbers: Decimal, never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

Level = tuple[Decimal, Decimal]  # (price, quantity)


class Side(StrEnum):
    BID = "bid"
    ASK = "ask"


@dataclass(frozen=True, slots=True)
class DepthEvent:
    """One `depthUpdate`: U = first update id, u = final update id, absolute quantities."""

    first_update_id: int
    final_update_id: int
    event_time_ms: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """GET /api/v3/depth answer."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class Trade:
    """One `aggTrade`."""

    trade_id: int
    price: Decimal
    qty: Decimal
    ts_ms: int
    buyer_is_maker: bool


@dataclass(frozen=True, slots=True)
class Kline:
    """The `k` object of a `<symbol>@kline_<interval>` event (the candle so far; `closed` = x)."""

    symbol: str
    interval: str
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    closed: bool


@dataclass(frozen=True, slots=True)
class KlineRow:
    """One row of GET /api/v3/klines: `[open_time, o, h, l, c, v, close_time, ...]`."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time_ms: int
