"""Heatmap columns: publication cycles accumulated over HEATMAP_COLUMN_S. Pure.

Rules, one function each:
- ``accumulate_cycle``: a live cycle's picture adds, per bin it observed and side, weight x quantity
  and its weight (``cycle_weight_ms``) to the open column, and raises the bin's maximum.
- ``finish_column``: per bin, mean = sum(weight x quantity) / sum(weight) over the cycles that
  observed it (the time-weighted mean resting quantity), max = the largest quantity seen; a bin no
  cycle of the column observed is absent (NaN here, null in JSON), never 0. A side's bins run from
  its lowest to its highest observed bin. The column records how many live cycles it holds.
- ``ColumnBuilder.cycle``: every cycle (live or not) in time order; the cycle that falls in a new
  column finishes the open one. Cycles while the book is not live are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from apps.heatmap.domain.binned_book import BookPicture, SideBins
from apps.heatmap.domain.grid import HeatmapParams, column_start, cycle_weight_ms


@dataclass(frozen=True, slots=True)
class SideColumn:
    """One side of a finished column: ``mean[i]``/``peak[i]`` belong to bin first + i (NaN: absent)."""

    first: int
    mean: np.ndarray
    peak: np.ndarray

    @property
    def count(self) -> int:
        return len(self.mean)


EMPTY_SIDE = SideColumn(0, np.empty(0, dtype=np.float32), np.empty(0, dtype=np.float32))


@dataclass(frozen=True, slots=True)
class FinishedColumn:
    t: int  # UTC seconds at which the column starts
    live_cycles: int
    bid: SideColumn
    ask: SideColumn


@dataclass(slots=True)
class SideSums:
    """The open column's running sums of one side over bins first..first+len-1 (plain lists: a
    cycle adds ~35 values a side, fewer operations in Python than numpy's per-call cost)."""

    first: int
    weighted: list[float]  # sum(weight_ms * qty)
    weight: list[float]  # sum(weight_ms) of the cycles that observed the bin
    peak: list[float]  # max qty (-1 where never observed)

    @classmethod
    def of(cls, bins: SideBins, weight_ms: int) -> SideSums:
        return cls(
            bins.first, [q * weight_ms for q in bins.qty], [float(weight_ms)] * len(bins.qty), list(bins.qty)
        )

    def cover(self, first: int, last: int) -> None:
        """Widen to bins first..last (new bins: never observed)."""
        below = max(0, self.first - first)
        above = max(0, last - (self.first + len(self.weight) - 1))
        if below or above:
            self.weighted = [0.0] * below + self.weighted + [0.0] * above
            self.weight = [0.0] * below + self.weight + [0.0] * above
            self.peak = [-1.0] * below + self.peak + [-1.0] * above
            self.first -= below


@dataclass(slots=True)
class OpenColumn:
    t: int
    live_cycles: int = 0
    sides: dict[str, SideSums | None] = field(default_factory=lambda: {"bid": None, "ask": None})


def _add_side(sums: SideSums | None, bins: SideBins, weight_ms: int) -> SideSums | None:
    if not bins.qty:
        return sums
    if sums is None:
        return SideSums.of(bins, weight_ms)
    sums.cover(bins.first, bins.last)
    at = slice(bins.first - sums.first, bins.first - sums.first + len(bins.qty))
    qty = bins.qty
    sums.weighted[at] = [w + q * weight_ms for w, q in zip(sums.weighted[at], qty, strict=True)]
    sums.weight[at] = [w + weight_ms for w in sums.weight[at]]
    sums.peak[at] = [q if q > p else p for p, q in zip(sums.peak[at], qty, strict=True)]
    return sums


def accumulate_cycle(column: OpenColumn, picture: BookPicture, weight_ms: int) -> None:
    """Add one live cycle's picture to the open column (in place)."""
    column.sides["bid"] = _add_side(column.sides["bid"], picture.bid, weight_ms)
    column.sides["ask"] = _add_side(column.sides["ask"], picture.ask, weight_ms)
    column.live_cycles += 1


def _finish_side(sums: SideSums | None) -> SideColumn:
    if sums is None:
        return EMPTY_SIDE
    weight = np.array(sums.weight)
    observed = weight > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed, np.array(sums.weighted) / weight, np.nan)
    peak = np.where(observed, np.array(sums.peak), np.nan)
    return SideColumn(sums.first, mean.astype(np.float32), peak.astype(np.float32))


def finish_column(column: OpenColumn) -> FinishedColumn:
    """The finished column: time-weighted means and maxima per bin (see the module docstring)."""
    return FinishedColumn(
        t=column.t,
        live_cycles=column.live_cycles,
        bid=_finish_side(column.sides["bid"]),
        ask=_finish_side(column.sides["ask"]),
    )


class ColumnBuilder:
    """The open column and the time of the last live cycle. Feed every cycle, in time order."""

    def __init__(self, params: HeatmapParams) -> None:
        self.params = params
        self.open: OpenColumn | None = None
        self.previous_live_ms: int | None = None

    def cycle(self, now_ms: int, picture: BookPicture | None) -> FinishedColumn | None:
        """Count one cycle (``picture`` None: the book was not live). Returns the column this cycle
        finished, if any (a column with no live cycle is never finished: there is nothing in it)."""
        t = column_start(now_ms, self.params.column_s)
        finished = None
        if self.open is not None and self.open.t != t:
            if self.open.live_cycles:
                finished = finish_column(self.open)
            self.open = None
        if picture is None:
            self.previous_live_ms = None
            return finished
        weight = cycle_weight_ms(now_ms, self.previous_live_ms, self.params.publish_interval_ms)
        self.previous_live_ms = now_ms
        if self.open is None:
            self.open = OpenColumn(t)
        accumulate_cycle(self.open, picture, weight)
        return finished
