"""A finished column in its stored form, and many stored columns as arrays. Pure.

One row per column: the bin index of each side's first bin, the number of bins per side, and ONE
blob of little-endian float32: bid means, bid maxima, ask means, ask maxima (NaN = absent bin).
At the defaults (+-2 % of ~87,000 at 50 a bin: ~35 bins a side) that is ~560 bytes a column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from apps.heatmap.domain.columns import EMPTY_SIDE, FinishedColumn, SideColumn

STORED = np.dtype("<f4")

# (t, live_cycles, bid_first, bid_count, ask_first, ask_count, data)
StoredRow = tuple[int, int, int, int, int, int, bytes]


def pack_column(column: FinishedColumn) -> bytes:
    """The column's four arrays as one little-endian float32 blob."""
    parts = (column.bid.mean, column.bid.peak, column.ask.mean, column.ask.peak)
    return np.concatenate([np.asarray(part, dtype=STORED) for part in parts]).tobytes()


def stored_row(column: FinishedColumn) -> StoredRow:
    return (
        column.t,
        column.live_cycles,
        column.bid.first,
        column.bid.count,
        column.ask.first,
        column.ask.count,
        pack_column(column),
    )


@dataclass(frozen=True, slots=True)
class ColumnRows:
    """Stored columns, oldest first, as parallel arrays; ``data`` is every blob concatenated and
    ``offsets[i]`` where row i's blob starts in it (in float32 elements)."""

    t: np.ndarray
    live_cycles: np.ndarray
    bid_first: np.ndarray
    bid_count: np.ndarray
    ask_first: np.ndarray
    ask_count: np.ndarray
    data: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[StoredRow]) -> ColumnRows:
        if not rows:
            empty = np.empty(0, dtype=np.int64)
            return cls(empty, empty, empty, empty, empty, empty, np.empty(0, dtype=STORED), empty)
        t, cycles, bid_first, bid_count, ask_first, ask_count, blobs = zip(*rows, strict=True)
        data = np.frombuffer(b"".join(blobs), dtype=STORED)
        bid_counts = np.array(bid_count, dtype=np.int64)
        ask_counts = np.array(ask_count, dtype=np.int64)
        sizes = 2 * (bid_counts + ask_counts)
        if int(sizes.sum()) != len(data):
            raise ValueError("stored heatmap columns: blob sizes do not match their bin counts")
        return cls(
            t=np.array(t, dtype=np.int64),
            live_cycles=np.array(cycles, dtype=np.int64),
            bid_first=np.array(bid_first, dtype=np.int64),
            bid_count=bid_counts,
            ask_first=np.array(ask_first, dtype=np.int64),
            ask_count=ask_counts,
            data=data,
            offsets=np.cumsum(sizes) - sizes,
        )

    def __len__(self) -> int:
        return len(self.t)

    def column(self, i: int) -> FinishedColumn:
        """Row i as a column (its arrays are views of ``data``)."""
        at, bids, asks = int(self.offsets[i]), int(self.bid_count[i]), int(self.ask_count[i])
        data = self.data
        bid = SideColumn(int(self.bid_first[i]), data[at : at + bids], data[at + bids : at + 2 * bids])
        at += 2 * bids
        ask = SideColumn(int(self.ask_first[i]), data[at : at + asks], data[at + asks : at + 2 * asks])
        return FinishedColumn(
            t=int(self.t[i]),
            live_cycles=int(self.live_cycles[i]),
            bid=bid if bids else EMPTY_SIDE,
            ask=ask if asks else EMPTY_SIDE,
        )
