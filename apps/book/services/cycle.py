"""What the streamer hands to its listeners (zones, order blocks) every publication cycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from apps.book.domain.events import Kline, Trade
from apps.book.domain.order_book import OrderBook


@dataclass
class PublishCycle:
    now_ms: int
    symbol: str
    status: str  # "live" | "connecting" | "syncing" | "resyncing" | "backoff" | "stale"
    # Only set while live. Read it synchronously before your first await: it mutates while you await.
    book: OrderBook | None
    update_id: int | None
    trades: list[Trade] = field(default_factory=list)  # aggTrades since the previous cycle


class DeltaSink(Protocol):
    """Where overlay changes go (the channel-layer broadcaster, apps/overlays/broadcast.py, in the
    running service): `kind` is the delta kind ("zones", "candle", "metrics", ...), `data` its JSON."""

    async def send(self, kind: str, data: Any) -> None: ...


class StreamListener(Protocol):
    async def on_cycle(self, cycle: PublishCycle) -> None: ...

    async def on_kline(self, kline: Kline) -> None: ...
