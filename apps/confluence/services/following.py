"""Following the live book for confluence: the followed book (both sides) kept up to each cycle's view.

Per live cycle, synchronously (the view's level reads answer only before the first await):
- after the first cycle, the diff events logged since the last one are applied (``FollowedBook.follow``)
  and the followed span is widened or trimmed to the band (``keep_up``);
- the first time, after a resync (the change log no longer reaches back) or after a failure, the band
  and a margin are copied out of the view (``Reread``) and converted on a worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.book.domain.change_log import ChangeCursor
from apps.book.domain.events import Level, Side
from apps.confluence.domain.ladder import FollowedBook, OffGrid, follow_margin
from apps.zones.domain.detection import AnalysisBounds, ZoneParams, analysis_bounds

log = logging.getLogger("apps.confluence.live")


@dataclass(frozen=True, slots=True)
class Reread:
    """The band and a margin copied out of a view, to be turned into a ``FollowedBook``."""

    bids: list[Level]
    asks: list[Level]
    cursor: ChangeCursor
    bid_low: Decimal
    ask_high: Decimal

    def build(self) -> FollowedBook:
        """On a worker thread: the copied levels as a followed book (OffGrid when a value is not on 1e-8)."""
        return FollowedBook.from_levels(self.bids, self.asks, self.cursor, self.bid_low, self.ask_high)


@dataclass
class Followed:
    """What ``BookFollower.follow`` found: the band, a reread to build, or why nothing is measured."""

    bounds: AnalysisBounds | None = None
    reread: Reread | None = None
    problem: str | None = None
    writes: int = 0  # level writes applied from the change log
    read: int = 0  # levels read from the view (widening the span, or a reread)


class BookFollower:
    """The book near the band as integer arrays, as of the last live cycle's view."""

    def __init__(self, params: ZoneParams) -> None:
        self.params = params
        self.book: FollowedBook | None = None

    def follow(self, view: Any) -> Followed:
        """Bring the followed book up to ``view`` (synchronously: call before any await)."""
        bid, ask = view.best_bid(), view.best_ask()
        if bid is None or ask is None:
            return Followed(problem=f"the book has no {'bids' if bid is None else 'asks'}")
        if bid[0] >= ask[0]:
            return Followed(problem=f"the book is crossed (best bid {bid[0]} >= best ask {ask[0]})")
        bounds = analysis_bounds(bid[0], ask[0], view.trusted_window, self.params)
        margin = follow_margin(bounds.mid, bounds.range_low, self.params.bin_size)
        book = self.book
        events = view.changes_since(book.cursor) if book is not None else None
        if book is not None and events is not None:
            try:
                writes = book.follow(events, view.change_cursor())
                read = book.keep_up(bounds.bid_low, bounds.ask_high, margin, view.levels_between)
            except OffGrid as exc:
                self.book = None
                return Followed(problem=f"a price or quantity is not a whole number of 1e-8: {exc}")
            return Followed(bounds=bounds, writes=writes, read=read)
        low, high = bounds.bid_low - margin, bounds.ask_high + margin
        reread = Reread(
            bids=view.levels_between(Side.BID, low, bid[0]),
            asks=view.levels_between(Side.ASK, ask[0], high),
            cursor=view.change_cursor(),
            bid_low=low,
            ask_high=high,
        )
        self.book = None
        return Followed(bounds=bounds, reread=reread, read=len(reread.bids) + len(reread.asks))

    def built(self, book: FollowedBook | None) -> None:
        """The followed book a reread made (None: it failed; the next cycle reads again)."""
        self.book = book
        if book is not None:
            log.info("confluence: read the band of the book (%d levels)", book.level_count)

    def forget(self) -> None:
        """Read the book afresh next time (after a failed cycle: it may be half-updated)."""
        self.book = None
