"""One side of the book near the touch as sorted integer arrays, followed from what changed. Pure.

Confluence sums the resting quantity of ~20 price windows for each of up to hundreds of order blocks
every cycle. Re-reading and converting the analysed band of the book (a few thousand levels) each
cycle would cost about a millisecond of the event loop on its own; so, like the heatmap's binned book,
a ``SideLadder`` reads the band once (``from_levels``, off the event loop) and then applies only the
level writes logged since the last cycle (``apply``). Prices and quantities are held as integers of
1e-8 (Binance's finest step) in numpy arrays, sorted by price, so any window's quantity is two binary
searches and a difference of exact integer prefix sums (``quantities``), for all windows at once.

What is followed: bids at or above ``low``, asks at or below ``high`` (the other end is open: a side
has no levels beyond its touch), kept a margin wider than the band (``follow_bounds``); when the band
moves past it, ``extend`` adds the levels of the new span read from the book, and ``trim`` drops what
the band left far behind.

A value that is not a whole number of 1e-8 units (or is absurdly large) raises ``OffGrid``: the
caller then reports the liquidity as unknown rather than rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from operator import mul

import numpy as np

from apps.book.domain.change_log import ChangeCursor, LevelWrites
from apps.book.domain.events import Level, Side

# the book's levels of one side with low <= price <= high, ascending (BookSnapshotView.levels_between)
LevelReader = Callable[[Side, Decimal, Decimal], Sequence[Level]]

UNIT_SCALE = 10**8
_MAX_UNITS = 2**53  # values up to here convert to float64 exactly
_EMPTY = np.empty(0, dtype=np.int64)
_NO_LOW, _NO_HIGH = Decimal("-Infinity"), Decimal("Infinity")
TRIM_MARGINS = 4  # a ladder follows at most this many margins beyond the band before it is trimmed


class OffGrid(ValueError):
    """A price or quantity that is not a whole number of 1e-8 units."""


def units_of(value: Decimal) -> int:
    """``value`` in exact 1e-8 units; OffGrid when it is not a whole number of them or too large."""
    numerator, denominator = value.as_integer_ratio()
    if UNIT_SCALE % denominator:
        raise OffGrid(f"{value} is not a whole number of 1e-8")
    units = numerator * (UNIT_SCALE // denominator)
    if not -_MAX_UNITS < units < _MAX_UNITS:
        raise OffGrid(f"{value} is too large")
    return units


def ceil_units(value: Decimal) -> int:
    """The smallest whole number of 1e-8 units >= ``value`` (exact, any Decimal)."""
    numerator, denominator = value.as_integer_ratio()
    return -((-numerator * UNIT_SCALE) // denominator)


def floor_units(value: Decimal) -> int:
    """The largest whole number of 1e-8 units <= ``value``."""
    numerator, denominator = value.as_integer_ratio()
    return (numerator * UNIT_SCALE) // denominator


class SideLadder:
    """One side's levels with ``low`` <= price <= ``high`` (Decimal bounds; infinite = open), as
    parallel int64 arrays of 1e-8 units sorted by price."""

    __slots__ = ("_cumulative", "_price_units", "high", "low", "prices", "quantities", "side")

    def __init__(self, side: Side, low: Decimal = _NO_LOW, high: Decimal = _NO_HIGH) -> None:
        self.side = side
        self.low, self.high = low, high
        self.prices: np.ndarray = _EMPTY
        self.quantities: np.ndarray = _EMPTY
        self._cumulative: np.ndarray | None = None
        self._price_units: dict[Decimal, int] = {}  # memo: a level's price is written many times

    @classmethod
    def from_levels(
        cls, side: Side, levels: Iterable[Level], low: Decimal = _NO_LOW, high: Decimal = _NO_HIGH
    ) -> SideLadder:
        """From levels read off the book (any order; zero quantities are absent levels)."""
        ladder = cls(side, low, high)
        ladder.apply(levels)
        return ladder

    def __len__(self) -> int:
        return len(self.prices)

    def levels(self) -> list[Level]:
        """The followed levels as Decimals, ascending (for tests and checks)."""
        scale = -8
        return [
            (Decimal(p).scaleb(scale), Decimal(q).scaleb(scale))
            for p, q in zip(self.prices.tolist(), self.quantities.tolist(), strict=True)
        ]

    # -- writes --------------------------------------------------------------------------------
    def apply(self, writes: Iterable[Level]) -> int:
        """Absolute quantities in order (zero: the level is gone); writes outside the followed range
        are skipped. Returns how many were followed."""
        low, high = self.low, self.high
        latest: dict[Decimal, Decimal] = {}
        for price, qty in writes:
            if low <= price <= high:
                latest[price] = qty  # the last write of a price wins
        if not latest:
            return 0
        memo = self._price_units
        prices = np.empty(len(latest), dtype=np.int64)
        quantities = np.empty(len(latest), dtype=np.int64)
        for i, (price, qty) in enumerate(latest.items()):
            units = memo.get(price)
            if units is None:
                units = memo[price] = units_of(price)
            prices[i] = units
            quantities[i] = units_of(qty) if qty else 0
        self._merge(prices, quantities)
        if len(memo) > 4 * len(self.prices) + 1024:  # mostly prices that left the book: start over
            self._price_units = {}
        return len(latest)

    def _merge(self, prices: np.ndarray, quantities: np.ndarray) -> None:
        """Set these levels (unique prices; quantity 0 removes), keeping the arrays sorted."""
        order = np.argsort(prices, kind="stable")
        prices, quantities = prices[order], quantities[order]
        at = np.searchsorted(self.prices, prices)
        known = at < len(self.prices)
        known[known] = self.prices[at[known]] == prices[known]
        keep = np.ones(len(self.prices), dtype=bool)
        keep[at[known]] = False  # replaced or removed
        base_prices, base_quantities = self.prices[keep], self.quantities[keep]
        present = quantities > 0
        new_prices, new_quantities = prices[present], quantities[present]
        where = np.searchsorted(base_prices, new_prices)
        self.prices = np.insert(base_prices, where, new_prices)
        self.quantities = np.insert(base_quantities, where, new_quantities)
        self._cumulative = None

    def follow(self, events: Sequence[LevelWrites]) -> int:
        """Apply this side's writes of the diff events logged since the last cycle, oldest first."""
        index = 0 if self.side is Side.BID else 1
        if len(events) == 1:
            return self.apply(events[0][index])
        return self.apply(write for event in events for write in event[index])

    def extend(self, levels: Iterable[Level], low: Decimal = _NO_LOW, high: Decimal = _NO_HIGH) -> None:
        """Follow a wider range: ``levels`` are the book's levels in the span it adds."""
        self.low, self.high = min(self.low, low), max(self.high, high)
        self.apply(levels)

    def trim(self, low: Decimal = _NO_LOW, high: Decimal = _NO_HIGH) -> None:
        """Follow a narrower range: levels outside [low, high] are dropped."""
        self.low, self.high = max(self.low, low), min(self.high, high)
        start = 0 if not self.low.is_finite() else int(np.searchsorted(self.prices, ceil_units(self.low)))
        stop = (
            len(self.prices)
            if not self.high.is_finite()
            else int(np.searchsorted(self.prices, floor_units(self.high), side="right"))
        )
        if start > 0 or stop < len(self.prices):
            self.prices, self.quantities = self.prices[start:stop], self.quantities[start:stop]
            self._cumulative = None

    # -- reads ---------------------------------------------------------------------------------
    def cumulative(self) -> np.ndarray:
        """[0, q0, q0+q1, ...]: the followed quantity below each index (int64, exact)."""
        if self._cumulative is None:
            out = np.zeros(len(self.quantities) + 1, dtype=np.int64)
            np.cumsum(self.quantities, out=out[1:])
            self._cumulative = out
        return self._cumulative

    def quantities_between(self, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
        """Resting quantity (units) of each inclusive range [lows[i], highs[i]] (units), all at once."""
        cumulative = self.cumulative()
        start = np.searchsorted(self.prices, lows, side="left")
        stop = np.searchsorted(self.prices, highs, side="right")
        return np.asarray(cumulative[stop] - cumulative[start], dtype=np.int64)

    def notional_between(self, low: int, high: int) -> int:
        """sum(price x qty) of the levels in [low, high] (units), in 1e-16 units (Python ints: exact)."""
        start = int(np.searchsorted(self.prices, low, side="left"))
        stop = int(np.searchsorted(self.prices, high, side="right"))
        return sum(map(mul, self.prices[start:stop].tolist(), self.quantities[start:stop].tolist()))


class FollowedBook:
    """Both sides' ladders, as of ``cursor`` in the book's change log."""

    __slots__ = ("asks", "bids", "cursor")

    def __init__(self, bids: SideLadder, asks: SideLadder, cursor: ChangeCursor) -> None:
        self.bids, self.asks, self.cursor = bids, asks, cursor

    @classmethod
    def from_levels(
        cls,
        bids: Iterable[Level],
        asks: Iterable[Level],
        cursor: ChangeCursor,
        bid_low: Decimal = _NO_LOW,
        ask_high: Decimal = _NO_HIGH,
    ) -> FollowedBook:
        return cls(
            SideLadder.from_levels(Side.BID, bids, low=bid_low),
            SideLadder.from_levels(Side.ASK, asks, high=ask_high),
            cursor,
        )

    def side(self, side: Side) -> SideLadder:
        return self.bids if side is Side.BID else self.asks

    def follow(self, events: Sequence[LevelWrites], cursor: ChangeCursor) -> int:
        """Apply the diff events logged since ``self.cursor``; now at ``cursor``."""
        followed = self.bids.follow(events) + self.asks.follow(events)
        self.cursor = cursor
        return followed

    @property
    def level_count(self) -> int:
        return len(self.bids) + len(self.asks)

    def keep_up(self, bid_low: Decimal, ask_high: Decimal, margin: Decimal, read: LevelReader) -> int:
        """Make the ladders follow at least bids >= ``bid_low`` and asks <= ``ask_high`` (the band's far
        ends): when the band moved past what is followed, widen by ``margin`` beyond it, adding the
        levels of the new span read with ``read`` (the book as of ``cursor``); when the band moved more
        than ``TRIM_MARGINS`` margins away, stop following what it left behind. Returns the levels read."""
        read_count = 0
        bids, asks = self.bids, self.asks
        if bid_low < bids.low:
            old, low = bids.low, bid_low - margin
            added = [level for level in read(Side.BID, low, old) if level[0] < old]
            bids.extend(added, low=low)
            read_count += len(added)
        elif bid_low - bids.low > TRIM_MARGINS * margin:
            bids.trim(low=bid_low - margin)
        if ask_high > asks.high:
            old, high = asks.high, ask_high + margin
            added = [level for level in read(Side.ASK, old, high) if level[0] > old]
            asks.extend(added, high=high)
            read_count += len(added)
        elif asks.high - ask_high > TRIM_MARGINS * margin:
            asks.trim(high=ask_high + margin)
        return read_count


MIN_MARGIN_BINS = 2


def follow_margin(mid: Decimal, range_low: Decimal, bin_size: Decimal) -> Decimal:
    """How far beyond the band the ladders follow: a quarter of the band's reach below mid
    (mid - range_low), at least two bins; so the band moves that far before the book must be read."""
    return max(MIN_MARGIN_BINS * bin_size, (mid - range_low) / 4)
