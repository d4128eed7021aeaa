"""The body of GET /api/heatmap, assembled from per-column JSON fragments kept per process.

A stored column never changes, so neither does an aggregated column built from the same stored
columns. Formatting numbers dominates an answer (a day at 60 s is ~200,000 of them), so each
column's JSON text, and its deflated form, is kept in a small cache (``FragmentCache``, bounded in
bytes) under a key that names its content: grid, resolution, start, and the starts of the stored
columns in it (a stored column is written once and never changed). A request reads those starts
(one query on the index), takes the fragments it has, and reads, aggregates and formats only the
columns it has not seen yet: the last one, mostly. A column that gains a stored column (a write
retried late), or loses one to pruning, has another key. The answer's ETag is a hash of the same
(the same stored columns are the same bytes), and its gzip form is joined from the fragments'
deflated pieces (apps/json_http/compression.py), so neither hashes nor compresses megabytes per
request.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from apps.heatmap import selectors
from apps.heatmap.domain.aggregate import aggregate_columns
from apps.heatmap.domain.packing import ColumnRows, StoredRow
from apps.heatmap.presentation import column_overlays, heatmap_document
from apps.json_http.compression import deflate_piece
from apps.json_http.endpoint import EncodedJson

CACHE_BYTES = 48 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Fragment:
    text: bytes  # the column's JSON
    deflated: bytes  # deflate_piece(b"," + text): the column as a non-first element of the list

    @classmethod
    def of(cls, text: bytes) -> Fragment:
        return cls(text, deflate_piece(b"," + text))

    @property
    def size(self) -> int:
        return len(self.text) + len(self.deflated)


class FragmentCache:
    """Fragments by key, bounded by their total size; the oldest entries leave first. Reads take no
    lock (one dict read under the GIL); writes take one (Django serves requests on threads)."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: dict[Hashable, Fragment] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Fragment | None:
        return self._items.get(key)

    def put(self, key: Hashable, fragment: Fragment) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = fragment
            self._bytes += fragment.size
            while self._bytes > self.max_bytes and self._items:
                oldest = next(iter(self._items))
                self._bytes -= self._items.pop(oldest).size

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


def _bucket_keys(query: HeatmapQuery, starts: np.ndarray) -> dict[int, Hashable]:
    """Per aggregated column start T: the key naming its content (its stored columns' starts)."""
    if len(starts) == 0:
        return {}
    buckets = starts - starts % query.resolution_s
    edges = [0, *(np.flatnonzero(buckets[1:] != buckets[:-1]) + 1).tolist(), len(starts)]
    grid = (query.symbol, str(query.bin_size), query.column_s, query.resolution_s)
    return {
        int(buckets[low]): (*grid, int(buckets[low]), starts[low:high].tobytes())
        for low, high in itertools.pairwise(edges)
    }


def _render(query: HeatmapQuery, rows: Sequence[StoredRow]) -> dict[int, tuple[Hashable, Fragment]]:
    """Aggregate and format ``rows``: per T, (its key, its fragment)."""
    keys = _bucket_keys(query, np.array([row[0] for row in rows], dtype=np.int64))
    columns = aggregate_columns(ColumnRows.from_rows(rows), query.resolution_s)
    encode = json.JSONEncoder(separators=(",", ":")).encode
    return {
        overlay["t"]: (keys[overlay["t"]], Fragment.of(encode(overlay).encode()))
        for overlay in column_overlays(columns, query.bin_size)
    }


def _fragments(query: HeatmapQuery, keys: dict[int, Hashable]) -> list[Fragment]:
    """The fragments of every column, oldest first: cached, or read and formatted now."""
    found: dict[int, Fragment] = {}
    missing = []
    for start, key in keys.items():
        fragment = fragments.get(key)
        if fragment is None:
            missing.append(start)
        else:
            found[start] = fragment
    if missing:
        low = max(query.from_s, min(missing))
        high = min(query.to_s, max(missing) + query.resolution_s - 1)
        wanted = set(missing)
        rows = [
            row
            for row in selectors.stored_rows(query.symbol, query.bin_size, query.column_s, low, high)
            if row[0] - row[0] % query.resolution_s in wanted
        ]
        for start, (key, fragment) in _render(query, rows).items():
            fragments.put(key, fragment)
            found[start] = fragment
    return [found[start] for start in sorted(found)]


def heatmap_answer(query: HeatmapQuery) -> EncodedJson:
    """The answer: JSON bytes, ETag, deflated pieces (see the module docstring)."""
    args = (query.symbol, query.bin_size, query.column_s, query.from_s, query.to_s)
    stored = selectors.column_starts(*args)
    keys = _bucket_keys(query, stored)
    parts = _fragments(query, keys)
    document = heatmap_document(query.symbol, query.bin_size, query.resolution_s, [])
    head = json.dumps(document, separators=(",", ":")).encode()[: -len(b"[]}")] + b"["
    tail = b"]}"
    body = head + b",".join(part.text for part in parts) + tail
    # the same document head and stored columns are the same bytes (a stored column never changes)
    tag = hashlib.blake2b(repr(document).encode(), digest_size=16)
    tag.update(stored.tobytes())
    if parts:
        pieces = (deflate_piece(head + parts[0].text), *(part.deflated for part in parts[1:]))
    else:
        pieces = (deflate_piece(head),)
    return EncodedJson(body, etag=f'"{tag.hexdigest()}"', gzip_pieces=(*pieces, deflate_piece(tail)))
