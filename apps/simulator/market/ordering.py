"""The order of one tick's changes: every intermediate book (after any single update id) must be
non-empty on both sides and uncrossed, as Binance's books are."""

from __future__ import annotations

from sortedcontainers import SortedList

from apps.simulator.market.book import TouchedLevels, TrueBook
from apps.simulator.market.units import Change


def valid_order(book: TrueBook, touched: TouchedLevels) -> tuple[Change, ...]:
    """Order a tick's net changes so the book after every single id is non-empty and uncrossed.

    Greedy passes starting from "removals first": a change is applied once it keeps both sides
    non-empty and best bid < best ask; the final book is valid, so every pass makes progress.
    """
    pending = _net_changes(book, touched)
    if not pending:
        return ()
    replay = _MidTickBook(book, touched)
    ordered: list[Change] = []
    while pending:
        deferred: list[Change] = []
        for change in pending:
            if replay.apply(change):
                ordered.append(change)
            else:
                deferred.append(change)
        if len(deferred) == len(pending):  # pragma: no cover - cannot happen for a valid final book
            ordered.extend(deferred)
            break
        pending = deferred
    return tuple(ordered)


def _net_changes(book: TrueBook, touched: TouchedLevels) -> list[Change]:
    """Levels whose quantity differs from before the tick, removals first."""
    pending: list[Change] = []
    for (is_bid, price), old in touched.items():
        new = book.qty(is_bid, price)
        if new != old:
            pending.append((is_bid, price, new))
    pending.sort(key=lambda change: change[2] != 0)
    return pending


class _MidTickBook:
    """The book while a tick's changes are replayed: touched levels as they stand so far, plus what
    the tick did not touch (its best price and level count per side)."""

    def __init__(self, book: TrueBook, touched: TouchedLevels) -> None:
        self.present: dict[bool, SortedList] = {True: SortedList(), False: SortedList()}
        for (is_bid, price), old in touched.items():
            if old:
                self.present[is_bid].add(price)
        self.untouched_best: dict[bool, int | None] = {}
        self.untouched_count: dict[bool, int] = {}
        for is_bid in (True, False):
            side = book.side(is_bid)
            prices = {price for (on_bid, price) in touched if on_bid == is_bid}
            keys = reversed(side.keys()) if is_bid else iter(side.keys())
            self.untouched_best[is_bid] = next((p for p in keys if p not in prices), None)
            self.untouched_count[is_bid] = len(side) - sum(1 for p in prices if p in side)

    def best(self, is_bid: bool) -> int | None:
        levels = self.present[is_bid]
        touched_best = (levels[-1] if is_bid else levels[0]) if levels else None
        candidates = [p for p in (self.untouched_best[is_bid], touched_best) if p is not None]
        if not candidates:
            return None
        return max(candidates) if is_bid else min(candidates)

    def apply(self, change: Change) -> bool:
        """Apply the change if the book stays valid; False (nothing applied) otherwise."""
        is_bid, price, qty = change
        levels = self.present[is_bid]
        if qty == 0:
            if self.untouched_count[is_bid] + len(levels) <= 1:
                return False
            levels.discard(price)
        elif price not in levels:
            opposite = self.best(not is_bid)
            if opposite is not None and (price >= opposite if is_bid else price <= opposite):
                return False
            levels.add(price)
        return True
