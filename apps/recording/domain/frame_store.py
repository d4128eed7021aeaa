"""A recording's frames held compactly: their texts compressed in blocks, the rest in flat arrays. Pure.

A replay holds every frame of its recording, to send each at its time and to jump to a recorded
snapshot. As ``Record`` objects a frame costs about twice its text (the text, the object, its time
and ids); a day of a busy pair is hundreds of MB of text. Here the texts of ``block_frames``
consecutive frames are UTF-8 bytes compressed together (zlib level 1: JSON frames shrink 4-8x), and a
frame's time, stream and update ids are entries in ``array`` columns (a few bytes each). Reading
frame ``i`` gives back the very ``Record`` that was appended, rebuilt: its block is decompressed once
and kept while the reads stay in it (a replay reads in order).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import overload

from apps.recording.domain.lines import Record, RecordKind

BLOCK_FRAMES = 512
COMPRESSION_LEVEL = 1
_TEXT_ERRORS = "surrogatepass"  # a frame's text is kept as it was, even a lone surrogate from a JSON escape
_NO_ID = 0


class FrameStore(Sequence[Record]):
    """Frames (``RecordKind.FRAME`` records) in the order appended."""

    def __init__(self, block_frames: int = BLOCK_FRAMES) -> None:
        if block_frames < 1:
            raise ValueError("block_frames must be at least 1")
        self.block_frames = block_frames
        self._receive_ns = array("q")
        self._first_id = array("q")
        self._final_id = array("q")
        self._has_ids = array("b")  # bit 1: first_id is set, bit 2: final_id (0 is an id too)
        self._label = array("i")  # index into _labels: the frame's (stream, symbol)
        self._labels: list[tuple[str | None, str | None]] = []
        self._label_of: dict[tuple[str | None, str | None], int] = {}
        self._lengths = array("i")  # bytes of each frame's text
        self._blocks: list[bytes] = []  # compressed texts of the full blocks
        self._open: list[bytes] = []  # texts of the block being filled
        self._cached: tuple[int, bytes, list[int]] = (-1, b"", [])  # block, its texts, their offsets
        self.text_bytes = 0  # the texts' size before compression

    def append(self, record: Record) -> None:
        if record.kind is not RecordKind.FRAME or record.request is not None or record.limit is not None:
            raise ValueError(f"not a frame record: {record.kind}")
        label = (record.stream, record.symbol)
        at = self._label_of.get(label)
        if at is None:
            at = self._label_of[label] = len(self._labels)
            self._labels.append(label)
        first, final = record.first_id, record.final_id
        self._receive_ns.append(record.receive_ns)
        self._first_id.append(_NO_ID if first is None else first)
        self._final_id.append(_NO_ID if final is None else final)
        self._has_ids.append((first is not None) | (final is not None) << 1)
        self._label.append(at)
        data = record.text.encode("utf-8", _TEXT_ERRORS)
        self._lengths.append(len(data))
        self.text_bytes += len(data)
        self._open.append(data)
        if len(self._open) == self.block_frames:
            self._blocks.append(zlib.compress(b"".join(self._open), COMPRESSION_LEVEL))
            self._open = []

    @property
    def stored_bytes(self) -> int:
        """About what the store holds: compressed blocks, the open block and the columns."""
        columns = (
            self._receive_ns,
            self._first_id,
            self._final_id,
            self._has_ids,
            self._label,
            self._lengths,
        )
        return (
            sum(map(len, self._blocks))
            + sum(map(len, self._open))
            + sum(len(c) * c.itemsize for c in columns)
        )

    def __len__(self) -> int:
        return len(self._receive_ns)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("frame index out of range")
        return self._record(index)

    def __iter__(self) -> Iterator[Record]:
        for i in range(len(self)):
            yield self._record(i)

    def receive_ns(self, index: int) -> int:
        """A frame's receive time, without rebuilding its record."""
        return self._receive_ns[index]

    def _record(self, index: int) -> Record:
        has_ids = self._has_ids[index]
        stream, symbol = self._labels[self._label[index]]
        return Record(
            self._receive_ns[index],
            RecordKind.FRAME,
            self._text(index),
            stream,
            symbol,
            self._first_id[index] if has_ids & 1 else None,
            self._final_id[index] if has_ids & 2 else None,
        )

    def _text(self, index: int) -> str:
        block, at = divmod(index, self.block_frames)
        if block == len(self._blocks):
            return self._open[at].decode("utf-8", _TEXT_ERRORS)
        cached_block, texts, offsets = self._cached
        if cached_block != block:
            texts = zlib.decompress(self._blocks[block])
            start = block * self.block_frames
            offsets = [0, *accumulate(self._lengths[start : start + self.block_frames])]
            self._cached = (block, texts, offsets)
        return texts[offsets[at] : offsets[at + 1]].decode("utf-8", _TEXT_ERRORS)
