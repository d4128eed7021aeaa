"""The book's resting quantity per heatmap bin, followed from what changed. Pure.

Re-reading every level within +-2 % of mid each cycle costs ~0.1 us a level on the event loop
(thousands of levels on a real book); the book's change log (apps/book/domain/change_log.py) says
which levels were written since the last cycle, usually a few hundred. So ``BinnedBook`` reads the
whole book once (``from_levels``, off the event loop), keeps each level's quantity and bin, and
then only applies the diff events (``follow``): each moves one level's quantity out of its bin and
the new one in. Sums are exact (Decimal sums of the book's Decimal quantities); ``picture`` turns
the bins a cycle observes into floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.book.domain.change_log import ChangeCursor, LevelWrites
from apps.book.domain.events import Level
from apps.heatmap.domain.grid import BinSpan, BookSpans, heatmap_bin_of


@dataclass(frozen=True, slots=True)
class SideBins:
    """One side of one cycle's binned book: ``qty[i]`` is the resting quantity of bin first + i."""

    first: int
    qty: tuple[float, ...]  # base asset, ascending price (plain floats: ~35 a side, numpy would cost more)

    @property
    def last(self) -> int:
        return self.first + len(self.qty) - 1


@dataclass(frozen=True, slots=True)
class BookPicture:
    """One cycle's book on the heatmap grid: only the bins it observed (``trusted_bins``)."""

    bid: SideBins
    ask: SideBins


_ZERO = Decimal(0)


class _Side:
    __slots__ = ("changed", "floats", "levels", "sums")

    def __init__(self) -> None:
        # price -> [quantity, bin]: a mutable cell, so a new quantity at a known price is one read
        self.levels: dict[Decimal, list[Any]] = {}
        self.sums: dict[int, Decimal] = {}  # bin -> quantity (exact: Decimal sums of Decimals)
        self.floats: dict[int, float] = {}  # bin -> float(sums[bin]) as last read
        self.changed: set[int] = set()  # bins whose sum moved since the last read

    def write(self, writes: Iterable[Level], bin_size: Decimal) -> None:
        """Levels' absolute quantities (zero: the level is gone), in order. The hot loop of a cycle:
        one dict read and two Decimal operations per write; the bin of a price is computed once,
        when the price first appears."""
        levels, sums = self.levels, self.sums
        known, changed = levels.get, self.changed.add
        for price, qty in writes:
            cell = known(price)
            if cell is None:
                if qty:
                    index = heatmap_bin_of(price, bin_size)
                    levels[price] = [qty, index]
                    sums[index] = sums.get(index, _ZERO) + qty
                    changed(index)
                continue
            index = cell[1]
            sums[index] += qty - cell[0]
            changed(index)
            if qty:
                cell[0] = qty
            else:
                del levels[price]

    def bins(self, span: BinSpan) -> SideBins:
        """The span's quantities; a bin's float is converted again only after its sum moved
        (float(Decimal) is correctly rounded: the float nearest the exact sum)."""
        floats, sums = self.floats, self.sums
        first, last = span
        for index in self.changed:
            if first <= index <= last:
                floats[index] = float(sums[index])
            else:
                floats.pop(index, None)  # out of sight: converted when it comes into the span
        self.changed.clear()
        get = floats.get
        qty = [get(index) for index in range(first, last + 1)]
        if None in qty:  # bins not read before (the band moved onto them)
            for at, value in enumerate(qty):
                if value is None:
                    qty[at] = floats[first + at] = float(sums.get(first + at, _ZERO))
        return SideBins(first, tuple(qty))  # type: ignore[arg-type]


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
        binned._bids.write(bids, bin_size)
        binned._asks.write(asks, bin_size)
        return binned

    @property
    def level_count(self) -> int:
        return len(self._bids.levels) + len(self._asks.levels)

    def follow(self, events: Sequence[LevelWrites], cursor: ChangeCursor) -> int:
        """Apply the diff events logged since ``self.cursor`` (oldest first); now at ``cursor``.
        Returns how many level writes that was."""
        size = self.bin_size
        writes = 0
        for bids, asks in events:
            self._bids.write(bids, size)
            self._asks.write(asks, size)
            writes += len(bids) + len(asks)
        self.cursor = cursor
        return writes

    def picture(self, spans: BookSpans) -> BookPicture:
        """The observed bins of both sides (bins without a level are 0: trusted and empty)."""
        return BookPicture(bid=self._bids.bins(spans.bid), ask=self._asks.bins(spans.ask))
