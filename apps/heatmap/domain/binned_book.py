"""The book's resting quantity per heatmap bin, followed from what changed. Pure.

Re-reading every level within +-2 % of mid each cycle costs ~0.1 us a level on the event loop
(thousands of levels on a real book); the book's change log (apps/book/domain/change_log.py) says
which levels were written since the last cycle, usually a few hundred. So ``BinnedBook`` reads the
whole book once (``from_levels``, off the event loop), keeps each level's quantity and bin, and
then only applies the diff events (``follow``): each moves one level's quantity out of its bin and
the new one in. Sums are exact integers of 1e-8 units of the base asset (Binance's quantities have
at most 8 decimals); ``picture`` turns the bins a cycle observes into floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from apps.book.domain.change_log import ChangeCursor, LevelWrites
from apps.book.domain.events import Level
from apps.heatmap.domain.grid import BinSpan, BookSpans, heatmap_bin_of

UNIT_SCALE = 10**8


def quantity_units(qty: Decimal) -> int:
    """The quantity in 1e-8 units (truncated beyond 8 decimals, which Binance never sends)."""
    return int(qty.scaleb(8))


@dataclass(frozen=True, slots=True)
class SideBins:
    """One side of one cycle's binned book: ``qty[i]`` is the resting quantity of bin first + i."""

    first: int
    qty: np.ndarray  # float64, base asset, ascending price

    @property
    def last(self) -> int:
        return self.first + len(self.qty) - 1


@dataclass(frozen=True, slots=True)
class BookPicture:
    """One cycle's book on the heatmap grid: only the bins it observed (``trusted_bins``)."""

    bid: SideBins
    ask: SideBins


class _Side:
    __slots__ = ("levels", "sums")

    def __init__(self) -> None:
        self.levels: dict[Decimal, tuple[int, int]] = {}  # price -> (quantity units, bin)
        self.sums: dict[int, int] = {}  # bin -> quantity units

    def write(self, price: Decimal, qty: Decimal, bin_size: Decimal) -> None:
        """One level's absolute quantity (zero: the level is gone)."""
        old = self.levels.get(price)
        if old is not None:
            units, index = old
            self.sums[index] -= units
        if not qty:
            if old is not None:
                del self.levels[price]
            return
        index = old[1] if old is not None else heatmap_bin_of(price, bin_size)
        units = quantity_units(qty)
        self.levels[price] = (units, index)
        self.sums[index] = self.sums.get(index, 0) + units

    def bins(self, span: BinSpan) -> SideBins:
        get = self.sums.get
        # int / int: correctly rounded at any size (a float of the units would round twice)
        qty = [get(index, 0) / UNIT_SCALE for index in range(span.first, span.last + 1)]
        return SideBins(span.first, np.array(qty, dtype=np.float64))


class BinnedBook:
    """Quantity per bin of each side of one book, as of ``cursor`` in its change log."""

    def __init__(self, bin_size: Decimal, cursor: ChangeCursor) -> None:
        self.bin_size = bin_size
        self.cursor = cursor
        self._bids = _Side()
        self._asks = _Side()

    @classmethod
    def from_levels(
        cls, bids: Iterable[Level], asks: Iterable[Level], bin_size: Decimal, cursor: ChangeCursor
    ) -> BinnedBook:
        """From the whole book read at ``cursor`` (its level lists copied before any await)."""
        binned = cls(bin_size, cursor)
        for side, levels in ((binned._bids, bids), (binned._asks, asks)):
            for price, qty in levels:
                side.write(price, qty, bin_size)
        return binned

    @property
    def level_count(self) -> int:
        return len(self._bids.levels) + len(self._asks.levels)

    def follow(self, events: Sequence[LevelWrites], cursor: ChangeCursor) -> int:
        """Apply the diff events logged since ``self.cursor`` (oldest first); now at ``cursor``.
        Returns how many level writes that was."""
        size = self.bin_size
        bid_write, ask_write = self._bids.write, self._asks.write
        writes = 0
        for bids, asks in events:
            for price, qty in bids:
                bid_write(price, qty, size)
            for price, qty in asks:
                ask_write(price, qty, size)
            writes += len(bids) + len(asks)
        self.cursor = cursor
        return writes

    def picture(self, spans: BookSpans) -> BookPicture:
        """The observed bins of both sides (bins without a level are 0: trusted and empty)."""
        return BookPicture(bid=self._bids.bins(spans.bid), ask=self._asks.bins(spans.ask))
