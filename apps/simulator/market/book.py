"""The true book of the simulated market: both sides in integer units, and the levels a tick touched."""

from __future__ import annotations

from sortedcontainers import SortedDict

from apps.simulator.market.units import IntLevel

# (is_bid, price) -> the level's quantity before the tick first changed it
TouchedLevels = dict[tuple[bool, int], int]


class TrueBook:
    """Bids and asks (price ticks -> quantity steps). Between ``begin_tick`` and ``end_tick`` every
    ``set`` remembers the level's quantity before the tick, so a tick's net changes can be derived."""

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self._touched: TouchedLevels | None = None

    def side(self, is_bid: bool) -> SortedDict:
        return self.bids if is_bid else self.asks

    def best(self, is_bid: bool) -> int:
        return int(self.side(is_bid).peekitem(-1 if is_bid else 0)[0])

    def mid_ticks2(self) -> int:
        """Best bid + best ask: twice the mid, in ticks (stays an integer)."""
        return self.best(True) + self.best(False)

    def qty(self, is_bid: bool, price: int) -> int:
        return int(self.side(is_bid).get(price, 0))

    def set(self, is_bid: bool, price: int, qty: int) -> None:
        """Set a level's quantity (0 removes it)."""
        side = self.side(is_bid)
        if self._touched is not None:
            key = (is_bid, price)
            if key not in self._touched:
                self._touched[key] = side.get(price, 0)
        if qty > 0:
            side[price] = qty
        else:
            side.pop(price, None)

    def begin_tick(self) -> None:
        self._touched = {}

    def end_tick(self) -> TouchedLevels:
        """The levels touched since ``begin_tick``, with their quantities before the tick."""
        touched, self._touched = self._touched or {}, None
        return touched

    def level_counts(self) -> tuple[int, int]:
        return len(self.bids), len(self.asks)

    def top_ints(self, limit: int) -> tuple[list[IntLevel], list[IntLevel]]:
        """Best first, at most ``limit`` levels per side."""
        bids = [self.bids.peekitem(-1 - i) for i in range(min(limit, len(self.bids)))]
        asks = [self.asks.peekitem(i) for i in range(min(limit, len(self.asks)))]
        return bids, asks
