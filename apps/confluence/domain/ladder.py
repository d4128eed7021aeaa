"""The book near the touch as one sorted integer array, followed from what changed. Pure.

Confluence sums the resting quantity of ~20 price windows for each of up to hundreds of order blocks
every cycle. Re-reading and converting the analysed band of the book (a few thousand levels) each
cycle would cost about a millisecond of the event loop on its own; so, like the heatmap's binned book,
a ``FollowedBook`` reads the band once (``from_levels``, off the event loop) and then applies only the
level writes logged since the last cycle (``follow``). Prices and quantities are held as integers of
1e-8 (Binance's finest step) in numpy arrays sorted by price, so any window's quantity is two binary
searches and a difference of exact integer prefix sums (``quantities_between``), for all windows of
all blocks at once.

Both sides live in the same arrays: bids at their price, asks at their price + ``ASK_OFFSET`` (2**53,
above any price), so a cycle merges its writes and searches its windows once, not once per side
(``offset_of``: what a side's prices are shifted by).

What is followed: bids at or above ``bid_low``, asks at or below ``ask_high`` (the other end is open: a
side has no levels beyond its touch), kept a margin wider than the band (``follow_margin``); when the
band moves past it, ``keep_up`` adds the levels of the new span read from the book, and drops what the
band left far behind.

A value that is not a whole number of 1e-8 units (or is absurdly large) raises ``OffGrid``: the
caller then reports the liquidity as unknown rather than rounding.
"""

from __future__ import annotations

import math
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
ASK_OFFSET = 2**53  # asks are stored above every price: the array holds bids, then asks
_EMPTY = np.empty(0, dtype=np.int64)
_NO_LOW, _NO_HIGH = Decimal("-Infinity"), Decimal("Infinity")
_INT64_LIMIT = 2**63
TRIM_MARGINS = 4  # the book is followed at most this many margins beyond the band before it is trimmed
MIN_MARGIN_BINS = 2
COMPACT_MIN_ZEROS = 256


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


def offset_of(side: Side) -> int:
    """What a side's prices are shifted by in a ``FollowedBook``'s arrays."""
    return 0 if side is Side.BID else ASK_OFFSET


def follow_margin(mid: Decimal, range_low: Decimal, bin_size: Decimal) -> Decimal:
    """How far beyond the band the book is followed: a quarter of the band's reach below mid
    (mid - range_low), at least two bins; so the band moves that far before the book must be read."""
    return max(MIN_MARGIN_BINS * bin_size, (mid - range_low) / 4)


class FollowedBook:
    """Bids with price >= ``bid_low`` and asks with price <= ``ask_high`` as parallel int64 arrays of
    1e-8 units sorted by (shifted) price, as of ``cursor`` in the book's change log."""

    __slots__ = (
        "_cumulative",
        "_price_units",
        "_tick",
        "_zeros",
        "ask_high",
        "bid_low",
        "cursor",
        "prices",
        "quantities",
    )

    def __init__(
        self, cursor: ChangeCursor = (0, 0), bid_low: Decimal = _NO_LOW, ask_high: Decimal = _NO_HIGH
    ) -> None:
        self.cursor = cursor
        self.bid_low, self.ask_high = bid_low, ask_high
        self.prices: np.ndarray = _EMPTY
        self.quantities: np.ndarray = _EMPTY
        self._cumulative: np.ndarray | None = None
        self._price_units: dict[Decimal, int] = {}  # memo: a level's price is written many times
        self._tick = 0  # a common divisor of every price followed (their gcd so far; 0: none yet)
        self._zeros = 0  # about how many levels are held at quantity 0 (removed, not dropped yet)

    @classmethod
    def from_levels(
        cls,
        bids: Iterable[Level],
        asks: Iterable[Level],
        cursor: ChangeCursor = (0, 0),
        bid_low: Decimal = _NO_LOW,
        ask_high: Decimal = _NO_HIGH,
    ) -> FollowedBook:
        """From levels read off the book (any order; zero quantities are absent levels)."""
        book = cls(cursor, bid_low, ask_high)
        book.apply(bids, asks)
        return book

    @property
    def level_count(self) -> int:
        """Levels held (removed ones not dropped yet included)."""
        return len(self.prices)

    def levels(self, side: Side) -> list[Level]:
        """A side's followed levels as Decimals, ascending (for tests and checks)."""
        start, stop = self._side_slice(side)
        offset = offset_of(side)
        return [
            (Decimal(p - offset).scaleb(-8), Decimal(q).scaleb(-8))
            for p, q in zip(
                self.prices[start:stop].tolist(), self.quantities[start:stop].tolist(), strict=True
            )
            if q  # a removed level is held at 0 until the arrays are compacted
        ]

    def _side_slice(self, side: Side) -> tuple[int, int]:
        split = int(self.prices.searchsorted(ASK_OFFSET))
        return (0, split) if side is Side.BID else (split, len(self.prices))

    # -- writes --------------------------------------------------------------------------------
    def follow(self, events: Sequence[LevelWrites], cursor: ChangeCursor) -> int:
        """Apply the diff events logged since ``self.cursor`` (oldest first); now at ``cursor``.
        Returns how many level writes were followed."""
        if len(events) == 1:
            followed = self.apply(*events[0])
        else:
            followed = self.apply((w for e in events for w in e[0]), (w for e in events for w in e[1]))
        self.cursor = cursor
        return followed

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> int:
        """Absolute quantities in order (zero: the level is gone); writes outside the followed span
        are skipped. Returns how many were followed."""
        low, high = self.bid_low, self.ask_high
        latest_bids = {price: qty for price, qty in bids if price >= low}  # the last write of a price wins
        latest_asks = {price: qty for price, qty in asks if price <= high}
        if not latest_bids and not latest_asks:
            return 0
        memo = self._price_units
        bid_units = list(map(memo.get, latest_bids))
        ask_units = list(map(memo.get, latest_asks))
        if None in bid_units or None in ask_units:
            bid_units = [memo.get(p) or memo.setdefault(p, units_of(p)) for p in latest_bids]
            ask_units = [memo.get(p) or memo.setdefault(p, units_of(p)) for p in latest_asks]
        quantities = [*map(units_of, latest_bids.values()), *map(units_of, latest_asks.values())]
        prices = np.array(bid_units + ask_units, dtype=np.int64)
        prices[len(bid_units) :] += ASK_OFFSET
        self._merge(prices, np.array(quantities, dtype=np.int64))
        if len(memo) > 4 * len(self.prices) + 1024:  # mostly prices that left the book: start over
            self._price_units = {}
        return len(prices)

    def _merge(self, prices: np.ndarray, quantities: np.ndarray) -> None:
        """Set these levels (unique prices; quantity 0 removes), keeping the arrays sorted. A known
        price is set in place, a removed level too (to 0: it adds nothing to any sum, and books
        reuse their price levels), new prices are placed in one pass; the zeros are dropped once
        they are a quarter of the arrays."""
        self._cumulative = None
        order = prices.argsort()
        prices, quantities = prices[order], quantities[order]
        old_prices, old_quantities = self.prices, self.quantities
        at = old_prices.searchsorted(prices)
        known = old_prices[np.minimum(at, len(old_prices) - 1)] == prices if len(old_prices) else at < 0
        old_quantities[at[known]] = quantities[known]  # the arrays are this book's own
        added = ~known & (quantities > 0)
        if added.any():
            new_prices, new_quantities = prices[added], quantities[added]
            self._tick = math.gcd(self._tick, int(np.gcd.reduce(new_prices % ASK_OFFSET)))
            size = len(old_prices) + len(new_prices)
            slots = old_prices.searchsorted(new_prices) + np.arange(len(new_prices))
            rest = np.ones(size, dtype=bool)
            rest[slots] = False
            merged_prices, merged_quantities = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
            merged_prices[slots], merged_quantities[slots] = new_prices, new_quantities
            merged_prices[rest], merged_quantities[rest] = old_prices, old_quantities
            self.prices, self.quantities = merged_prices, merged_quantities
        self._zeros += int(np.count_nonzero(quantities[known] == 0))
        if self._zeros >= max(COMPACT_MIN_ZEROS, len(self.prices) // 4):
            present = self.quantities > 0
            self.prices, self.quantities = self.prices[present], self.quantities[present]
            self._zeros = 0

    def keep_up(self, bid_low: Decimal, ask_high: Decimal, margin: Decimal, read: LevelReader) -> int:
        """Make the book follow at least bids >= ``bid_low`` and asks <= ``ask_high`` (the band's far
        ends): when the band moved past what is followed, widen by ``margin`` beyond it, adding the
        levels of the new span read with ``read`` (the book as of ``cursor``); when the band moved more
        than ``TRIM_MARGINS`` margins away, stop following what it left behind. Returns the levels read."""
        added_bids: list[Level] = []
        added_asks: list[Level] = []
        if bid_low < self.bid_low:
            old, self.bid_low = self.bid_low, bid_low - margin
            added_bids = [level for level in read(Side.BID, self.bid_low, old) if level[0] < old]
        elif bid_low - self.bid_low > TRIM_MARGINS * margin:
            self.bid_low = bid_low - margin
            self._trim(int(self.prices.searchsorted(ceil_units(self.bid_low))), len(self.prices))
        if ask_high > self.ask_high:
            old, self.ask_high = self.ask_high, ask_high + margin
            added_asks = [level for level in read(Side.ASK, old, self.ask_high) if level[0] > old]
        elif self.ask_high - ask_high > TRIM_MARGINS * margin:
            self.ask_high = ask_high + margin
            stop = self.prices.searchsorted(floor_units(self.ask_high) + ASK_OFFSET, side="right")
            self._trim(0, int(stop))
        if added_bids or added_asks:
            self.apply(added_bids, added_asks)
        return len(added_bids) + len(added_asks)

    def _trim(self, start: int, stop: int) -> None:
        if start > 0 or stop < len(self.prices):
            self.prices, self.quantities = self.prices[start:stop].copy(), self.quantities[start:stop].copy()
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
        """Resting quantity (units) of each inclusive range [lows[i], highs[i]] of shifted prices
        (``offset_of`` the side added), all at once."""
        cumulative = self.cumulative()
        start = self.prices.searchsorted(lows, side="left")
        stop = self.prices.searchsorted(highs, side="right")
        return np.asarray(cumulative[stop] - cumulative[start], dtype=np.int64)

    def notional_between(self, side: Side, low: int, high: int) -> int:
        """sum(price x qty) of a side's levels in [low, high] (units), in 1e-16 units, exact: one int64
        dot product of the prices divided by their common tick when that cannot overflow (the largest
        reduced price x the range's quantity < 2**63), else Python integers."""
        offset = offset_of(side)
        start = int(self.prices.searchsorted(low + offset, side="left"))
        stop = int(self.prices.searchsorted(high + offset, side="right"))
        if start == stop:
            return 0
        prices, quantities = self.prices[start:stop] - offset, self.quantities[start:stop]
        cumulative = self.cumulative()
        total = int(cumulative[stop] - cumulative[start])
        tick = self._tick
        if tick > 0 and int(prices[-1]) // tick * total < _INT64_LIMIT:
            return tick * int(np.dot(prices // tick, quantities))
        return sum(map(mul, prices.tolist(), quantities.tolist()))
