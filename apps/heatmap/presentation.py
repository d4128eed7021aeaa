"""Chart-ready JSON of heatmap columns and of the depth profile (REST, the push, the snapshot).

Quantities are numbers in the base asset, one per bin in ascending price, from the side's ``*_from``
(the lower edge of its lowest bin, a decimal string; null when the side has no bin). Heatmap values
are rounded to 0.00001 (Binance's BTC quantity step; they are stored as float32, ~7 significant
digits); an absent bin (not observed in the column: outside the band or the trusted window) is null.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from apps.heatmap.domain.binned_book import BookPicture, SharedNumbers
from apps.heatmap.domain.columns import FinishedColumn
from apps.json_http.decimal_text import decimal_text

QTY_DECIMALS = 5
__all__ = ["DepthOverlay", "SharedNumbers", "SharedProfile", "depth_overlay"]


class SharedProfile(dict[str, Any]):
    """A depth profile as pushed every cycle: never changed once made (a greyed one is a new dict),
    so the in-process channel layer, which deep-copies each group message once, shares it instead of
    copying it key by key. JSON encodes it as an object. Its quantities are ``SharedNumbers``."""

    __slots__ = ()

    def __deepcopy__(self, memo: Any) -> SharedProfile:
        return self


def numbers(values: np.ndarray) -> list[float | None]:
    """Rounded floats, NaN as None (JSON null)."""
    rounded = np.round(values.astype(np.float64), QTY_DECIMALS)
    out: list[float | None] = rounded.tolist()
    for at in np.flatnonzero(np.isnan(rounded)).tolist():
        out[at] = None
    return out


def bin_edge(index: int, bin_size: Decimal) -> str:
    """The lower edge of bin ``index`` as a decimal string."""
    return decimal_text(index * bin_size)


def column_overlays(columns: Sequence[FinishedColumn], bin_size: Decimal) -> list[dict[str, Any]]:
    """Columns: {"t", "live_cycles", "bid_from", "bid_qty", "bid_max", "ask_from", "ask_qty",
    "ask_max"}. All their numbers are rounded in one pass (a day is ~200,000 of them)."""
    arrays = [a for c in columns for a in (c.bid.mean, c.bid.peak, c.ask.mean, c.ask.peak)]
    values = numbers(np.concatenate(arrays)) if arrays else []
    out, at = [], 0
    for column in columns:
        sides: list[Any] = []
        for side in (column.bid, column.ask):
            n = side.count
            sides += [
                bin_edge(side.first, bin_size) if n else None,
                values[at : at + n],
                values[at + n : at + 2 * n],
            ]
            at += 2 * n
        out.append(
            {
                "t": column.t,
                "live_cycles": column.live_cycles,
                "bid_from": sides[0],
                "bid_qty": sides[1],
                "bid_max": sides[2],
                "ask_from": sides[3],
                "ask_qty": sides[4],
                "ask_max": sides[5],
            }
        )
    return out


def column_overlay(column: FinishedColumn, bin_size: Decimal) -> dict[str, Any]:
    """One column (the push's; see ``column_overlays``)."""
    return column_overlays([column], bin_size)[0]


def heatmap_document(
    symbol: str, bin_size: Decimal, resolution_s: int, columns: list[dict[str, Any]]
) -> dict[str, Any]:
    """GET /api/heatmap, and the data of a kind="heatmap" push (one column)."""
    return {
        "symbol": symbol,
        "bin_size": decimal_text(bin_size),
        "resolution_s": resolution_s,
        "columns": columns,
    }


def depth_overlay(picture: BookPicture, bin_size: Decimal, ts_ms: int, live: bool) -> dict[str, Any]:
    """The depth profile: this cycle's book on the heatmap grid (the bins it observed), as pushed
    (kind "depth") and in the overlay state (``depth``). ``live`` false: the last live profile,
    shown greyed while the book is not live."""
    return DepthOverlay(bin_size).of(picture, ts_ms, live)


class DepthOverlay:
    """``depth_overlay`` for one bin size, every cycle: the texts of the bin size and of the bins'
    lower edges are worked out once."""

    MAX_EDGES = 4096  # edge texts kept (the band's first bins as the price moves)

    def __init__(self, bin_size: Decimal) -> None:
        self.bin_size = bin_size
        self._size_text = decimal_text(bin_size)
        self._edges: dict[int, str] = {}

    def of(self, picture: BookPicture, ts_ms: int, live: bool) -> SharedProfile:
        bid, ask = picture.bid, picture.ask
        return SharedProfile(
            ts_ms=ts_ms,
            time=ts_ms // 1000,
            live=live,
            bin_size=self._size_text,
            bid_from=self._edge(bid.first) if bid.qty else None,
            bid_qty=bid.qty if isinstance(bid.qty, SharedNumbers) else SharedNumbers(bid.qty),
            ask_from=self._edge(ask.first) if ask.qty else None,
            ask_qty=ask.qty if isinstance(ask.qty, SharedNumbers) else SharedNumbers(ask.qty),
        )

    def greyed(self, profile: dict[str, Any]) -> SharedProfile:
        """The last live profile with live=false (a new dict: the pushed one is never changed)."""
        return SharedProfile({**profile, "live": False})

    def _edge(self, index: int) -> str:
        text = self._edges.get(index)
        if text is None:
            if len(self._edges) >= self.MAX_EDGES:
                self._edges.clear()
            text = self._edges[index] = bin_edge(index, self.bin_size)
        return text
