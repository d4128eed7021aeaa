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

A live cycle only keeps its picture (``accumulate_cycle``: one append on the event loop); the sums
are worked out when the column is finished (``ColumnBuilder.advance`` hands the closed column over,
so the live listener finishes it on a worker thread), with the same float operations in the same
order as adding each cycle as it came.
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
    """The open column's running sums of one side over bins first..first+len-1 (float64)."""

    first: int
    weighted: np.ndarray  # sum(weight_ms * qty)
    weight: np.ndarray  # sum(weight_ms) of the cycles that observed the bin
    peak: np.ndarray  # max qty (-1 where never observed)

    def cover(self, first: int, last: int) -> None:
        """Widen to bins first..last (new bins: never observed)."""
        below = max(0, self.first - first)
        above = max(0, last - (self.first + len(self.weight) - 1))
        if below or above:
            self.weighted = np.pad(self.weighted, (below, above), constant_values=0.0)
            self.weight = np.pad(self.weight, (below, above), constant_values=0.0)
            self.peak = np.pad(self.peak, (below, above), constant_values=-1.0)
            self.first -= below


@dataclass(slots=True)
class OpenColumn:
    """The column being filled. Live cycles' pictures wait in ``pending`` (appending one is all a
    cycle costs) and are added to ``sides`` in bulk: when the column is finished, or a few at a time
    once more than ``MAX_PENDING`` wait (a long column)."""

    t: int
    live_cycles: int = 0
    sides: dict[str, SideSums | None] = field(default_factory=lambda: {"bid": None, "ask": None})
    pending: list[tuple[int, BookPicture]] = field(default_factory=list)  # (weight_ms, picture)


MAX_PENDING = 120  # pictures (2 minutes at the defaults): a column of up to 2 minutes is summed once


def _add_run(sums: SideSums | None, first: int, qty: np.ndarray, weights: np.ndarray) -> SideSums:
    """Add consecutive cycles that observed the same bins (``qty[i]``: cycle i's quantities, weighing
    ``weights[i]`` ms) in their order: the same float operations, in the same order, as adding them
    one at a time (``ufunc.accumulate`` is sequential: r[i] = r[i-1] op a[i])."""
    weighted, weight = qty * weights[:, None], np.broadcast_to(weights[:, None], qty.shape)
    if sums is None:  # the side's first observation starts the sums
        sums = SideSums(first, weighted[0].copy(), weight[0].copy(), qty[0].copy())
        weighted, weight, qty = weighted[1:], weight[1:], qty[1:]
        if not len(qty):
            return sums
    sums.cover(first, first + qty.shape[1] - 1)
    at = slice(first - sums.first, first - sums.first + qty.shape[1])
    # no NaN can reach here (quantities are bounded plain decimals): max is "q if q > p else p"
    sums.weighted[at] = np.add.accumulate(np.vstack((sums.weighted[at], weighted)), axis=0)[-1]
    sums.weight[at] = np.add.accumulate(np.vstack((sums.weight[at], weight)), axis=0)[-1]
    sums.peak[at] = np.maximum.accumulate(np.vstack((sums.peak[at], qty)), axis=0)[-1]
    return sums


def _add_side(sums: SideSums | None, cycles: list[tuple[int, SideBins]]) -> SideSums | None:
    """Add one side of ``cycles`` (oldest first), runs of cycles with the same bins at once."""
    start = 0
    cycles = [(weight_ms, bins) for weight_ms, bins in cycles if bins.qty]
    while start < len(cycles):
        first, count = cycles[start][1].first, len(cycles[start][1].qty)
        end = start + 1
        while end < len(cycles) and cycles[end][1].first == first and len(cycles[end][1].qty) == count:
            end += 1
        run = cycles[start:end]
        qty = np.array([bins.qty for _, bins in run], dtype=np.float64)
        weights = np.array([weight_ms for weight_ms, _ in run], dtype=np.float64)
        sums = _add_run(sums, first, qty, weights)
        start = end
    return sums


def fold_pending(column: OpenColumn, count: int | None = None) -> None:
    """Add the oldest ``count`` (None: all) waiting pictures to the column's sums (in place)."""
    taken = column.pending[:count] if count is not None else column.pending
    column.pending = column.pending[len(taken) :]
    column.sides["bid"] = _add_side(column.sides["bid"], [(w, p.bid) for w, p in taken])
    column.sides["ask"] = _add_side(column.sides["ask"], [(w, p.ask) for w, p in taken])


def accumulate_cycle(column: OpenColumn, picture: BookPicture, weight_ms: int) -> None:
    """Add one live cycle's picture to the open column (in place)."""
    column.pending.append((weight_ms, picture))
    column.live_cycles += 1
    if len(column.pending) > MAX_PENDING:
        fold_pending(column, 1)


def _finish_side(sums: SideSums | None) -> SideColumn:
    if sums is None:
        return EMPTY_SIDE
    weight = sums.weight
    observed = weight > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(observed, sums.weighted / weight, np.nan)
    peak = np.where(observed, sums.peak, np.nan)
    return SideColumn(sums.first, mean.astype(np.float32), peak.astype(np.float32))


def finish_column(column: OpenColumn) -> FinishedColumn:
    """The finished column: time-weighted means and maxima per bin (see the module docstring). Adds
    the pictures still waiting to ``column`` first."""
    fold_pending(column)
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
        closed = self.advance(now_ms, picture)
        return finish_column(closed) if closed is not None else None

    def advance(self, now_ms: int, picture: BookPicture | None) -> OpenColumn | None:
        """``cycle`` without the finishing: returns the column this cycle closed, for the caller to
        ``finish_column`` (anywhere: nothing else refers to it any more)."""
        t = column_start(now_ms, self.params.column_s)
        closed = None
        if self.open is not None and self.open.t != t:
            if self.open.live_cycles:
                closed = self.open
            self.open = None
        if picture is None:
            self.previous_live_ms = None
            return closed
        weight = cycle_weight_ms(now_ms, self.previous_live_ms, self.params.publish_interval_ms)
        self.previous_live_ms = now_ms
        if self.open is None:
            self.open = OpenColumn(t)
        accumulate_cycle(self.open, picture, weight)
        return closed
