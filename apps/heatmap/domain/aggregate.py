"""Stored columns to the resolution a request asks for. Pure.

``aggregate_columns``: the columns whose start t falls in [T, T + resolution) form the column T
(T a multiple of the resolution, UTC seconds). Per bin and side: mean = the mean of the columns'
means weighted by their live cycles, over the columns that observed the bin (an absent bin counts
for nothing, never as 0); max = the largest of their maxima; live_cycles = their sum. Bins run
from the lowest to the highest bin any of the columns observed. Vectorised over all columns at
once (7 days of 60 s columns is ~350,000 values a side).
"""

from __future__ import annotations

import numpy as np

from apps.heatmap.domain.columns import EMPTY_SIDE, FinishedColumn, SideColumn
from apps.heatmap.domain.packing import ColumnRows

_BIG = np.iinfo(np.int64).max


def bucket_starts(t: np.ndarray, resolution_s: int) -> np.ndarray:
    """The start T of the column of the requested resolution each stored column belongs to."""
    return t - t % resolution_s


def aggregate_columns(rows: ColumnRows, resolution_s: int) -> list[FinishedColumn]:
    """The columns of ``rows`` (oldest first) at ``resolution_s`` (see the module docstring)."""
    if len(rows) == 0:
        return []
    buckets = bucket_starts(rows.t, resolution_s)
    if len(buckets) == len(np.unique(buckets)):  # one stored column each: nothing to combine
        columns = [rows.column(i) for i in range(len(rows))]
        return [
            FinishedColumn(int(b), c.live_cycles, c.bid, c.ask)
            for b, c in zip(buckets.tolist(), columns, strict=True)
        ]
    new_bucket = np.concatenate(([True], buckets[1:] != buckets[:-1]))
    index = np.cumsum(new_bucket) - 1  # bucket number of each row
    count = int(index[-1]) + 1
    weights = rows.live_cycles.astype(np.float64)
    cycles = np.bincount(index, weights=weights, minlength=count).astype(np.int64)
    bid_offsets = rows.offsets
    ask_offsets = rows.offsets + 2 * rows.bid_count
    bids = _aggregate_side(rows, rows.bid_first, rows.bid_count, bid_offsets, index, count, weights)
    asks = _aggregate_side(rows, rows.ask_first, rows.ask_count, ask_offsets, index, count, weights)
    starts = buckets[new_bucket].tolist()
    return [FinishedColumn(int(starts[b]), int(cycles[b]), bids[b], asks[b]) for b in range(count)]


def _aggregate_side(
    rows: ColumnRows,
    first: np.ndarray,
    counts: np.ndarray,
    offsets: np.ndarray,
    bucket: np.ndarray,
    bucket_count: int,
    weights: np.ndarray,
) -> list[SideColumn]:
    total = int(counts.sum())
    if total == 0:
        return [EMPTY_SIDE] * bucket_count
    row_of = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    means = rows.data[np.repeat(offsets, counts) + position].astype(np.float64)
    peaks = rows.data[np.repeat(offsets + counts, counts) + position].astype(np.float64)
    bins = np.repeat(first, counts) + position
    element_bucket = bucket[row_of]

    present = counts > 0
    low = np.full(bucket_count, _BIG, dtype=np.int64)
    high = np.full(bucket_count, -_BIG, dtype=np.int64)
    np.minimum.at(low, bucket[present], first[present])
    np.maximum.at(high, bucket[present], (first + counts - 1)[present])
    width = np.where(high >= low, high - low + 1, 0)
    out_at = np.cumsum(width) - width
    key = out_at[element_bucket] + bins - low[element_bucket]

    observed = ~np.isnan(means)
    key, w = key[observed], weights[row_of][observed]
    size = int(width.sum())
    weight_sum = np.bincount(key, weights=w, minlength=size)
    weighted = np.bincount(key, weights=w * means[observed], minlength=size)
    peak = np.full(size, -np.inf)
    np.maximum.at(peak, key, peaks[observed])
    seen = weight_sum > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_out = np.where(seen, weighted / weight_sum, np.nan).astype(np.float32)
    peak_out = np.where(seen, peak, np.nan).astype(np.float32)
    sides = []
    for b, (at, span) in enumerate(zip(out_at.tolist(), width.tolist(), strict=True)):
        sides.append(
            SideColumn(int(low[b]), mean_out[at : at + span], peak_out[at : at + span])
            if span
            else EMPTY_SIDE
        )
    return sides
