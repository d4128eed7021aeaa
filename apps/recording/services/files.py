"""Recording files on disk: which files a path names, their lines (plain or gzip), the recording.

A path may name a file or a directory (every file in it, by name); a gzip file is recognised by its
first bytes, whatever its name. A gzip file cut short (a process killed while writing) is read up to
where it ends. The whole recording is held in memory, its frames compactly (``FrameStore``).
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from apps.recording.domain.frame_store import FrameStore
from apps.recording.domain.lines import LineReader, Record, RecordKind
from apps.recording.domain.recording import Recording, build_recording, merge_sorted

log = logging.getLogger("apps.recording")

GZIP_MAGIC = b"\x1f\x8b"


class RecordingNotFound(ValueError):
    """A path that names no recording file."""


def recording_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files the paths name: a file as is, a directory's files (not hidden ones) by name."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not inside:
                raise RecordingNotFound(f"{path}: the directory holds no file")
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise RecordingNotFound(f"{path}: no such file or directory")
    return files


def _open(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else path.open("rb")


def read_lines(path: Path) -> Iterator[str]:
    """The lines of a plain or gzip file (UTF-8; an undecodable byte becomes U+FFFD)."""
    with _open(path) as stream:
        try:
            for raw in stream:
                yield raw.decode("utf-8", "replace")
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            log.warning("recording %s ends early (%s): read up to there", path, exc)


@dataclass(frozen=True)
class FileRecords:
    """One file's records in receive-time order: its frames held compactly, the rest as read."""

    path: Path
    frames: FrameStore
    others: list[Record]  # snapshots, other REST answers, markers
    bad_lines: int
    first_bad: str | None

    def in_time_order(self) -> Iterator[Record]:
        return merge_sorted([self.frames, self.others])


def read_file(path: Path) -> FileRecords:
    """The file's records, sorted by receive time (stably). Frames are stored as they are read, so
    a file in time order (a recorder writes in the order it receives) is never held as records."""
    reader = LineReader()
    frames, others = FrameStore(), []
    last_ns, in_order = -1, True
    for line in read_lines(path):
        record = reader.read(line)
        if record is None:
            continue
        if record.kind is RecordKind.FRAME:
            in_order = in_order and record.receive_ns >= last_ns
            last_ns = record.receive_ns
            frames.append(record)
        else:
            others.append(record)
    if not in_order:
        frames = _sorted_frames(frames)
    others.sort(key=lambda r: r.receive_ns)
    if reader.bad_lines:
        log.warning(
            "recording %s: %d unreadable line(s), the first: %s", path, reader.bad_lines, reader.first_bad
        )
    return FileRecords(path, frames, others, reader.bad_lines, reader.first_bad)


def _sorted_frames(frames: FrameStore) -> FrameStore:
    out = FrameStore()
    for record in sorted(frames, key=lambda r: r.receive_ns):
        out.append(record)
    return out


def load_recording(paths: Sequence[str | Path]) -> Recording:
    """The recording the paths hold, their records merged by receive time (equal times: the files in
    the order given). Each file is made compact as soon as it is read."""
    files = [read_file(path) for path in recording_files(paths)]
    merged = merge_sorted([f.in_time_order() for f in files])
    return build_recording(merged, bad_lines=sum(f.bad_lines for f in files))
