"""The local L2 order book: exact Decimal keys in sorted containers. Pure; no I/O.

Prices and quantities are `Decimal` parsed from Binance's strings, so "0", "0.0" and "0.00000000"
all compare equal to zero and delete, and ordering is numeric across digit boundaries
(99999.99 < 100000.00). Both sides are `SortedDict`s keyed by price ascending: best bid is the last
bid key, best ask the first ask key; lookups are O(log n), top-N and range reads O(log n + k).
`changes` logs the last diff events applied, so a reader can follow the book by what changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sortedcontainers import SortedDict

from apps.book.domain.change_log import ChangeLog
from apps.book.domain.events import Level, Side

ZERO = Decimal(0)
INFINITY = Decimal("Infinity")


class OrderBook:
    """Bids and asks with the last applied update id and the trusted (snapshot-covered) window."""

    __slots__ = ("_asks", "_bids", "changes", "trusted_window", "update_id", "version")

    def __init__(self) -> None:
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self.update_id: int = 0
        # (low, high): the price range the last snapshot covered. A side returned in full
        # (fewer levels than the limit) is trusted to 0 / Infinity. None before any snapshot.
        self.trusted_window: tuple[Decimal, Decimal] | None = None
        # +1 on every write: a view captured at one version knows when the book has moved on
        self.version = 0
        # the level writes since a reader's cursor (apps/book/domain/change_log.py)
        self.changes = ChangeLog()

    # -- writes -------------------------------------------------------------------------
    def load_snapshot(
        self, last_update_id: int, bids: Iterable[Level], asks: Iterable[Level], limit: int | None = None
    ) -> None:
        """Replace the whole book with a REST snapshot (levels with zero quantity are skipped)."""
        self.version += 1
        self._bids = SortedDict({p: q for p, q in bids if q != ZERO})
        self._asks = SortedDict({p: q for p, q in asks if q != ZERO})
        self.update_id = last_update_id
        low = ZERO
        high = INFINITY
        if limit is not None and len(self._bids) >= limit:
            low = self._bids.keys()[0]
        if limit is not None and len(self._asks) >= limit:
            high = self._asks.keys()[-1]
        self.trusted_window = (low, high)
        self.changes.restart()

    def apply(self, update_id: int, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Apply one event's absolute quantities (zero deletes) and move to `update_id`. No awaits."""
        self.version += 1
        bid_levels, ask_levels = tuple(bids), tuple(asks)  # a DepthEvent's tuples stay the same objects
        self.changes.record(bid_levels, ask_levels)
        for side, levels in ((self._bids, bid_levels), (self._asks, ask_levels)):
            for price, qty in levels:
                if qty == ZERO:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.update_id = update_id

    def clear(self) -> None:
        self.version += 1
        self._bids.clear()
        self._asks.clear()
        self.update_id = 0
        self.trusted_window = None
        self.changes.restart()

    # -- reads --------------------------------------------------------------------------
    def best_bid(self) -> Level | None:
        return self._bids.peekitem(-1) if self._bids else None

    def best_ask(self) -> Level | None:
        return self._asks.peekitem(0) if self._asks else None

    def is_crossed(self) -> bool:
        bid = self.best_bid()
        ask = self.best_ask()
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def top(self, side: Side, n: int) -> list[Level]:
        """The best `n` levels of a side, best first."""
        if n <= 0:
            return []
        if side == Side.BID:
            keys = self._bids.keys()[-n:]
            values = self._bids.values()[-n:]
            return list(zip(reversed(keys), reversed(values), strict=True))
        return list(zip(self._asks.keys()[:n], self._asks.values()[:n], strict=True))

    def levels_between(self, side: Side, low: Decimal, high: Decimal) -> list[Level]:
        """Levels with low <= price <= high, ascending by price."""
        book = self._bids if side == Side.BID else self._asks
        start = book.bisect_left(low)
        stop = book.bisect_right(high)
        return list(zip(book.keys()[start:stop], book.values()[start:stop], strict=True))

    def depth(self, side: Side) -> int:
        return len(self._bids if side == Side.BID else self._asks)

    def __len__(self) -> int:
        return len(self._bids) + len(self._asks)

    def quantity(self, side: Side, price: Decimal) -> Decimal:
        book = self._bids if side == Side.BID else self._asks
        return book.get(price, ZERO)
