"""Reads of the heatmap for the API and the overlay state."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import numpy as np

from apps.heatmap.domain.packing import StoredRow
from apps.heatmap.models import HeatmapColumn, HeatmapDepth

_ROW_FIELDS = ("t", "live_cycles", "bid_first", "bid_count", "ask_first", "ask_count", "data")


def _columns(symbol: str, bin_size: Decimal, column_s: int, from_s: int, to_s: int) -> Any:
    return HeatmapColumn.objects.filter(
        symbol=symbol, bin_size=bin_size, column_s=column_s, t__gte=from_s, t__lte=to_s
    ).order_by("t")


def column_starts(symbol: str, bin_size: Decimal, column_s: int, from_s: int, to_s: int) -> np.ndarray:
    """The starts t of the stored columns of one grid in [from_s, to_s], oldest first (int64): what
    identifies their content, as a stored column never changes. Read from the index alone."""
    starts = _columns(symbol, bin_size, column_s, from_s, to_s).values_list("t", flat=True)
    return np.array(list(starts), dtype=np.int64)


def stored_rows(symbol: str, bin_size: Decimal, column_s: int, from_s: int, to_s: int) -> list[StoredRow]:
    """The stored columns of one grid starting in [from_s, to_s], oldest first, as stored."""
    rows = _columns(symbol, bin_size, column_s, from_s, to_s).values_list(*_ROW_FIELDS)
    return [(t, cycles, bf, bc, af, ac, bytes(data)) for t, cycles, bf, bc, af, ac, data in rows]


def latest_depth(symbol: str) -> dict[str, Any] | None:
    """The last depth profile the streamer wrote, or None before the first live cycle."""
    row = HeatmapDepth.objects.filter(symbol=symbol).values_list("profile", flat=True).first()
    return json.loads(row) if row is not None else None
