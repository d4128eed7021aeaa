"""The body of GET /api/heatmap, assembled from per-column JSON fragments kept per process.

A stored column never changes, so neither does an aggregated column built from the same stored
columns. Formatting numbers dominates an answer (a day at 60 s is ~200,000 of them), so each
column's JSON text is kept in a small LRU (``FragmentCache``, bounded in bytes) under a key that
names its content: grid, resolution, start, and the (t, live_cycles) of every stored column in it.
A request reads those keys (one small query), takes the fragments it has, and reads, aggregates
and formats only the columns it has not seen yet: the last one, mostly. A column that gains a
stored column, or loses one to pruning, has another key.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.heatmap import selectors
from apps.heatmap.domain.aggregate import aggregate_columns
from apps.heatmap.domain.packing import ColumnRows, StoredRow
from apps.heatmap.presentation import column_overlay, heatmap_document

CACHE_BYTES = 32 * 1024 * 1024


class FragmentCache:
    """LRU of JSON fragments bounded by their total size; thread-safe (Django's request threads)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            text = self._items.get(key)
            if text is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return text

    def put(self, key: Hashable, text: str) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = text
            self._bytes += len(text)
            while self._bytes > self.max_bytes and self._items:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


fragments = FragmentCache()


@dataclass(frozen=True)
class HeatmapQuery:
    symbol: str
    bin_size: Decimal
    column_s: int
    from_s: int
    to_s: int
    resolution_s: int


def _bucket_keys(query: HeatmapQuery, stored: Sequence[tuple[int, int]]) -> dict[int, Hashable]:
    """Per aggregated column start T: the key naming its content."""
    members: dict[int, list[tuple[int, int]]] = {}
    resolution = query.resolution_s
    for t, cycles in stored:
        members.setdefault(t - t % resolution, []).append((t, cycles))
    grid = (query.symbol, str(query.bin_size), query.column_s, resolution)
    return {start: (*grid, start, tuple(items)) for start, items in members.items()}


def _render(query: HeatmapQuery, rows: Sequence[StoredRow]) -> dict[int, tuple[Hashable, str]]:
    """Aggregate and format ``rows``: per T, (its key, its JSON)."""
    keys = _bucket_keys(query, [(row[0], row[1]) for row in rows])
    out = {}
    for column in aggregate_columns(ColumnRows.from_rows(rows), query.resolution_s):
        text = json.dumps(column_overlay(column, query.bin_size), separators=(",", ":"))
        out[column.t] = (keys[column.t], text)
    return out


def heatmap_body(query: HeatmapQuery) -> bytes:
    """The answer as JSON bytes (see the module docstring)."""
    args = (query.symbol, query.bin_size, query.column_s, query.from_s, query.to_s)
    keys = _bucket_keys(query, selectors.column_keys(*args))
    texts: dict[int, str] = {}
    missing = []
    for start, key in keys.items():
        text = fragments.get(key)
        if text is None:
            missing.append(start)
        else:
            texts[start] = text
    if missing:
        low = max(query.from_s, min(missing))
        high = min(query.to_s, max(missing) + query.resolution_s - 1)
        wanted = set(missing)
        rows = [
            row
            for row in selectors.stored_rows(query.symbol, query.bin_size, query.column_s, low, high)
            if row[0] - row[0] % query.resolution_s in wanted
        ]
        for start, (key, text) in _render(query, rows).items():
            fragments.put(key, text)
            texts[start] = text
    head = json.dumps(heatmap_document(query.symbol, query.bin_size, query.resolution_s, []))
    body = head[: -len("[]}")] + "[" + ",".join(texts[start] for start in sorted(texts)) + "]}"
    return body.encode()
