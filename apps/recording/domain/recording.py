"""A recording as the replay uses it: its frames in time order, its snapshots by symbol and update
id, its other REST answers, its candles and its markers. Pure: built from records, no I/O.

Several files (a cryptofeed ``.http`` + ``.ws`` pair, hourly files) are merged by receive time
(`merge_by_time`); records with equal times keep the order of the files given, then of their lines.
"""

from __future__ import annotations

import heapq
import json
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload
from urllib.parse import parse_qs, urlsplit

from apps.recording.domain.frame_store import FrameStore
from apps.recording.domain.klines import KlineArchive
from apps.recording.domain.lines import Record, RecordKind


@dataclass(frozen=True, slots=True)
class DepthMark:
    """Where a depth frame of one symbol is among the recording's frames, and its U..u."""

    index: int
    first_id: int
    final_id: int


class DepthMarks(Sequence[DepthMark]):
    """One symbol's depth marks, in frame order, as three integer columns (a day holds ~860,000)."""

    def __init__(self) -> None:
        self._index = array("q")
        self._first = array("q")
        self._final = array("q")

    def append(self, mark: DepthMark) -> None:
        self._index.append(mark.index)
        self._first.append(mark.first_id)
        self._final.append(mark.final_id)

    def __len__(self) -> int:
        return len(self._index)

    @overload
    def __getitem__(self, at: int) -> DepthMark: ...

    @overload
    def __getitem__(self, at: slice) -> list[DepthMark]: ...

    def __getitem__(self, at: int | slice) -> DepthMark | list[DepthMark]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        return DepthMark(self._index[at], self._first[at], self._final[at])


def merge_by_time(sources: Sequence[Sequence[Record]]) -> Iterator[Record]:
    """The records of every source in receive-time order (each source sorted first, stably)."""
    return merge_sorted([sorted(source, key=_receive_ns) for source in sources])


def merge_sorted(sources: Sequence[Iterable[Record]]) -> Iterator[Record]:
    """Sources each already in receive-time order, merged (equal times: the earlier source first)."""
    return heapq.merge(*sources, key=_receive_ns)


def _receive_ns(record: Record) -> int:
    return record.receive_ns


@dataclass
class Recording:
    frames: FrameStore = field(default_factory=FrameStore)  # compact: texts compressed in blocks
    snapshots: dict[str, list[Record]] = field(default_factory=dict)  # ascending lastUpdateId
    rest: list[Record] = field(default_factory=list)
    markers: list[Record] = field(default_factory=list)
    depth: dict[str, DepthMarks] = field(default_factory=dict)
    klines: KlineArchive = field(default_factory=KlineArchive)
    unassigned_snapshots: int = 0  # bare snapshots whose symbol no line named
    bad_lines: int = 0

    @property
    def symbols(self) -> list[str]:
        """Symbols with a depth stream, the busiest first."""
        return sorted(self.depth, key=lambda s: (-len(self.depth[s]), s))

    @property
    def start_ns(self) -> int | None:
        return self.frames.receive_ns(0) if self.frames else None

    @property
    def end_ns(self) -> int | None:
        return self.frames.receive_ns(len(self.frames) - 1) if self.frames else None

    def snapshot_ids(self, symbol: str) -> list[int]:
        return [s.first_id or 0 for s in self.snapshots.get(symbol, [])]

    def snapshot(self, symbol: str, last_update_id: int) -> Record | None:
        return next((s for s in self.snapshots.get(symbol, []) if s.first_id == last_update_id), None)

    def exchange_info(self) -> Record | None:
        """The last recorded exchangeInfo answer."""
        return next(
            (r for r in reversed(self.rest) if urlsplit(r.request or "").path.endswith("/exchangeInfo")), None
        )

    def depth_limit(self, symbol: str) -> int | None:
        """The levels per side its snapshots were asked for, when the recording says (the request or
        our file header); else the longest side any of them has (a book at least that deep)."""
        snapshots = self.snapshots.get(symbol, [])
        limits = [s.limit for s in snapshots if s.limit is not None]
        if limits:
            return max(limits)
        sides = [len(side) for s in snapshots for side in _sides(s.text)]
        return max(sides) if sides else None

    def counts(self) -> dict[str, int]:
        """How many records of each kind, for a status line."""
        return {
            "frames": len(self.frames),
            "snapshots": sum(len(s) for s in self.snapshots.values()),
            "rest": len(self.rest),
            "markers": len(self.markers),
        }


def _sides(body: str) -> tuple[list[object], list[object]]:
    try:
        payload = json.loads(body)
        bids, asks = payload["bids"], payload["asks"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return [], []
    return (bids if isinstance(bids, list) else []), (asks if isinstance(asks, list) else [])


def build_recording(records: Iterable[Record], bad_lines: int = 0) -> Recording:
    """The recording of records in time order. A bare snapshot with no symbol goes to the only
    symbol with a depth stream, or is counted as unassigned when there are several."""
    recording = Recording(bad_lines=bad_lines)
    bare: list[Record] = []
    for record in records:
        if record.kind is RecordKind.FRAME:
            _add_frame(recording, record)
        elif record.kind is RecordKind.SNAPSHOT:
            if record.symbol is None:
                bare.append(record)
            else:
                recording.snapshots.setdefault(record.symbol, []).append(record)
        elif record.kind is RecordKind.REST:
            recording.rest.append(record)
            _add_klines(recording, record)
        else:
            recording.markers.append(record)
    symbols = recording.symbols
    for record in bare:
        if len(symbols) == 1:
            recording.snapshots.setdefault(symbols[0], []).append(record)
        else:
            recording.unassigned_snapshots += 1
    for snapshots in recording.snapshots.values():
        snapshots.sort(key=lambda s: s.first_id or 0)  # stable: equal ids keep their time order
    return recording


def _add_frame(recording: Recording, record: Record) -> None:
    index = len(recording.frames)
    recording.frames.append(record)
    if record.symbol is None or record.stream is None:
        return
    if record.first_id is not None and record.final_id is not None:
        mark = DepthMark(index, record.first_id, record.final_id)
        marks = recording.depth.get(record.symbol)
        if marks is None:
            marks = recording.depth[record.symbol] = DepthMarks()
        marks.append(mark)
    elif "@kline_" in record.stream and '"x":true' in record.text:
        recording.klines.add_kline_frame(record.text)


def _add_klines(recording: Recording, record: Record) -> None:
    request = urlsplit(record.request or "")
    if not request.path.endswith("/klines"):
        return
    query = parse_qs(request.query)
    interval = query.get("interval", [""])[0]
    if record.symbol and interval:
        recording.klines.add_rest_body(record.symbol, interval, record.text)
