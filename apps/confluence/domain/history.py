"""A block's mean resting quantity over the last hour, from the stored heatmap columns. Pure.

Rules:
- ``heatmap_bins_of``: the heatmap bins holding any price of [low, high]: floor(low/bin) ..
  floor(high/bin) (bin k covers [k*bin, (k+1)*bin)). The heatmap's grid is coarser than a price, so the
  average covers those whole bins.
- ``range_average``: over the columns of the window (the last hour), the time-weighted mean of the
  resting quantity in those bins: per column, the sum of the bins' means (each the time-weighted mean
  over the column's live cycles), weighted by the column's live cycles. A column counts only if it
  observed every one of those bins (a bin outside the band or the trusted window is absent there,
  never 0). None when no column counts: the heatmap has no data there.

``range_averages`` applies them to many ranges at once (numpy, a few dozen columns); the plain
``range_average`` is its reference. ``block_averages``: the average of each block's padded range.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from apps.book.domain.events import Side
from apps.confluence.domain.liquidity import BlockRange, ConfluenceParams, padded_range
from apps.heatmap.domain.packing import ColumnRows, StoredRow

_NONE = np.empty(0, dtype=np.float64)


def heatmap_bins_of(low: Decimal, high: Decimal, bin_size: Decimal) -> tuple[int, int]:
    """(first, last) heatmap bin holding any price of [low, high] (prices >= 0)."""
    return int(low // bin_size), int(high // bin_size)


def side_means(rows: ColumnRows, row: int, side: Side) -> tuple[int, np.ndarray]:
    """(first bin, mean quantity per bin as float64, NaN = absent) of one side of one stored column."""
    offset, bids = int(rows.offsets[row]), int(rows.bid_count[row])
    if side is Side.BID:
        return int(rows.bid_first[row]), rows.data[offset : offset + bids].astype(np.float64)
    start = offset + 2 * bids
    return int(rows.ask_first[row]), rows.data[start : start + int(rows.ask_count[row])].astype(np.float64)


def range_average(rows: ColumnRows, side: Side, first: int, last: int) -> float | None:
    """The reference: the weighted mean over the columns observing every bin first..last."""
    total = weight = 0.0
    for row in range(len(rows)):
        start, means = side_means(rows, row, side)
        if first < start or last >= start + len(means):
            continue
        picked = means[first - start : last - start + 1]
        if np.isnan(picked).any():
            continue
        cycles = float(rows.live_cycles[row])
        total += cycles * float(picked.sum())
        weight += cycles
    return total / weight if weight > 0 else None


def range_averages(rows: ColumnRows, side: Side, firsts: np.ndarray, lasts: np.ndarray) -> np.ndarray:
    """``range_average`` of many bin ranges (NaN: None), one pass over the columns."""
    totals = np.zeros(len(firsts), dtype=np.float64)
    weights = np.zeros(len(firsts), dtype=np.float64)
    if len(firsts) == 0:
        return _NONE
    for row in range(len(rows)):
        start, means = side_means(rows, row, side)
        absent = np.isnan(means)
        sums = np.concatenate(([0.0], np.cumsum(np.where(absent, 0.0, means))))
        gaps = np.concatenate(([0], np.cumsum(absent)))
        inside = (firsts >= start) & (lasts < start + len(means))
        a = np.clip(firsts - start, 0, len(means))
        b = np.clip(lasts - start + 1, 0, len(means))
        counted = inside & (gaps[b] - gaps[a] == 0)
        cycles = float(rows.live_cycles[row])
        totals[counted] += cycles * (sums[b] - sums[a])[counted]
        weights[counted] += cycles
    out = np.full(len(firsts), np.nan)
    np.divide(totals, weights, out=out, where=weights > 0)
    return out


HOUR_S = 3600


def hour_window(now_ms: int) -> int:
    """The first column start the last hour holds (UTC seconds): columns starting at or after it."""
    return now_ms // 1000 - HOUR_S


def block_averages(
    rows: Sequence[StoredRow], blocks: Sequence[BlockRange], params: ConfluenceParams, heatmap_bin: Decimal
) -> dict[str, float | None]:
    """``range_average`` of every block's padded range (key -> None where the heatmap has no data)."""
    columns = ColumnRows.from_rows(rows)
    out: dict[str, float | None] = {}
    for side in (Side.BID, Side.ASK):
        mine = [b for b in blocks if b.side is side]
        bins = [heatmap_bins_of(*padded_range(b.price_low, b.price_high, params), heatmap_bin) for b in mine]
        firsts = np.array([first for first, _ in bins], dtype=np.int64)
        lasts = np.array([last for _, last in bins], dtype=np.int64)
        averages = range_averages(columns, side, firsts, lasts).tolist()
        for block, average in zip(mine, averages, strict=True):
            out[block.key] = None if average != average else average  # NaN: no data
    return out
