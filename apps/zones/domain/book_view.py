"""The slice of an order book that zone detection reads.

``levels_in_range`` + ``detect_from_levels`` are what both the live cycle (the streamer's
OrderBook) and ``manage.py zones_snapshot`` (an OrderBook loaded from a file) run.
Pure: no Django, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from apps.book.domain.events import Level, Side
from apps.zones.domain.detection import LevelEncoder, ZoneDetection, ZoneParams, analysis_bounds, detect_zones


class BookView(Protocol):
    """What the streamer's OrderBook offers (duck-typed)."""

    @property
    def update_id(self) -> int: ...

    @property
    def trusted_window(self) -> tuple[Decimal, Decimal] | None: ...

    def best_bid(self) -> tuple[Decimal, Decimal] | None: ...

    def best_ask(self) -> tuple[Decimal, Decimal] | None: ...

    def levels_between(self, side: Side, low: Decimal, high: Decimal) -> list[tuple[Decimal, Decimal]]: ...


@dataclass(frozen=True, slots=True)
class BookLevels:
    """An immutable copy of the levels the analysis needs, taken synchronously from a live book."""

    update_id: int
    touch: tuple[Decimal, Decimal] | None  # (best bid, best ask)
    trusted_window: tuple[Decimal, Decimal] | None
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def level_count(self) -> int:
        return len(self.bids) + len(self.asks)


def levels_in_range(book: BookView, params: ZoneParams) -> BookLevels:
    """Copy only the levels inside the analysed band (cheap: two range reads on a sorted book)."""
    best_bid, best_ask = book.best_bid(), book.best_ask()
    window = book.trusted_window
    if best_bid is None or best_ask is None:
        touch = None  # detect_zones then names the missing side
        bids: tuple[Level, ...] = (best_bid,) if best_bid else ()
        asks: tuple[Level, ...] = (best_ask,) if best_ask else ()
    else:
        touch = (best_bid[0], best_ask[0])
        bounds = analysis_bounds(best_bid[0], best_ask[0], window, params)
        bids = tuple(book.levels_between(Side.BID, bounds.bid_low, best_bid[0]))
        asks = tuple(book.levels_between(Side.ASK, best_ask[0], bounds.ask_high))
    return BookLevels(update_id=book.update_id, touch=touch, trusted_window=window, bids=bids, asks=asks)


def detect_from_levels(
    levels: BookLevels, params: ZoneParams, encoder: LevelEncoder | None = None
) -> ZoneDetection:
    """detect_zones on a copied slice (safe to run off the event loop). Pass the same ``encoder``
    every cycle so unchanged levels are not converted again."""
    return detect_zones(
        levels.bids, levels.asks, levels.trusted_window, params, touch=levels.touch, encoder=encoder
    )


def detect_from_book(
    book: BookView, params: ZoneParams, encoder: LevelEncoder | None = None
) -> ZoneDetection:
    return detect_from_levels(levels_in_range(book, params), params, encoder)
