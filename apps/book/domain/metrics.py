"""What one publication cycle derives from a live book: metrics row and top-N levels. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.book.domain.events import Level, Side
from apps.book.domain.order_book import OrderBook

TWO = Decimal(2)


@dataclass(frozen=True, slots=True)
class BookMetrics:
    best_bid: Decimal
    best_ask: Decimal
    spread: Decimal
    mid: Decimal
    imbalance_topn: float  # (bid qty - ask qty) / (bid qty + ask qty) over the top N levels
    update_id: int


@dataclass(frozen=True, slots=True)
class BookView:
    """An immutable copy of what gets published: top N per side at one update id."""

    update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    metrics: BookMetrics | None


def compute_metrics(book: OrderBook, top_n: int) -> BookMetrics | None:
    bid = book.best_bid()
    ask = book.best_ask()
    if bid is None or ask is None:
        return None
    bid_qty = sum((q for _, q in book.top(Side.BID, top_n)), Decimal(0))
    ask_qty = sum((q for _, q in book.top(Side.ASK, top_n)), Decimal(0))
    total = bid_qty + ask_qty
    imbalance = float((bid_qty - ask_qty) / total) if total else 0.0
    return BookMetrics(
        best_bid=bid[0],
        best_ask=ask[0],
        spread=ask[0] - bid[0],
        mid=(bid[0] + ask[0]) / TWO,
        imbalance_topn=imbalance,
        update_id=book.update_id,
    )


def capture_view(book: OrderBook, top_n: int, imbalance_n: int) -> BookView:
    return BookView(
        update_id=book.update_id,
        bids=tuple(book.top(Side.BID, top_n)),
        asks=tuple(book.top(Side.ASK, top_n)),
        metrics=compute_metrics(book, imbalance_n),
    )
