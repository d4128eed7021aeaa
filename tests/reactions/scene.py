"""A small market for the reaction tests: a book around 86,500, a bullish block below it, trades."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal as D

from apps.book.domain.events import Side, Trade
from apps.book.domain.order_book import OrderBook
from apps.orderblocks.domain.enums import Direction
from apps.reactions.domain.reaction import ReactionParams
from apps.reactions.domain.touches import BlockRef

MIN_MS = 60_000
HOUR_MS = 3_600_000
_ids = itertools.count(1)

# bullish block [86000, 86100], ATR 150: held once a trade reaches 86250; padded range 85950-86150
BULL = BlockRef("BTCEUR:bullish:1000", Direction.BULLISH, D("86000"), D("86100"), D("150"), 0)
# bearish block [86900, 87000]: padded 86850-87050, held once a trade reaches 86750
BEAR = BlockRef("BTCEUR:bearish:2000", Direction.BEARISH, D("86900"), D("87000"), D("150"), 0)
PARAMS = ReactionParams()


def trade(ts_ms: int, price: str | D) -> Trade:
    return Trade(next(_ids), D(price), D("0.1"), ts_ms, False)


def book(walls: dict[str, str] | None = None, step: int = 10) -> OrderBook:
    """Bids every `step` EUR from 85,000 up to 86,490 and asks from 86,510 up to 88,000, qty 1;
    `walls` set a level's quantity (bid below 86,500, ask above)."""
    bids = {D(p): D(1) for p in range(85_000, 86_491, step)}
    asks = {D(p): D(1) for p in range(86_510, 88_001, step)}
    for price, qty in (walls or {}).items():
        (bids if D(price) < 86_500 else asks)[D(price)] = D(qty)
    result = OrderBook()
    result.load_snapshot(100, bids.items(), asks.items())
    return result


def set_level(book_: OrderBook, price: str, qty: str) -> None:
    side_levels = [(D(price), D(qty))]
    if D(price) < 86_500:
        book_.apply(book_.update_id + 1, side_levels, [])
    else:
        book_.apply(book_.update_id + 1, [], side_levels)


@dataclass(frozen=True)
class Zone:
    id: str
    side: Side
    price_low: D
    price_high: D
    status: str
    ts_ms: int = 0


def bid_zone(
    low: str, high: str, status: str = "confirmed", ts_ms: int = 0, zone_id: str | None = None
) -> Zone:
    return Zone(zone_id or f"BTCEUR:bid:{low}-{high}", Side.BID, D(low), D(high), status, ts_ms)
