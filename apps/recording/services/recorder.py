"""The recorder: the streamer's wire tap, written to hourly gzip files on a thread of its own.

The streamer (event loop) only appends ``(receive ns, what)`` to a bounded queue: no formatting, no
I/O, no lock. When the queue is full the line is dropped and counted (`health`: /api/health
``stream.recording``); the book never waits. Once a second the writer thread takes what is queued,
formats each line (apps/recording/domain/lines.py), compresses (gzip level 1) and writes them in one
go, starting a new file at each UTC hour and flushing every few seconds (a file cut short by a crash
is still readable up to there). A write error (a full disk) is counted and logged, the lines of that
write lost; the next one opens the file again.

Files: with a directory, ``<dir>/<symbol>-<YYYYmmddTHH>Z.jsonl.gz``; with a file name, that file for
the first hour and ``<name>-<YYYYmmddTHH>Z<suffixes>`` beside it for each later one. An existing
file is appended to (gzip reads the members in turn).
"""

from __future__ import annotations

import gzip
import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apps.core.repeated_errors import LinesPerInterval
from apps.recording.domain.lines import frame_line, header_line, marker_line, rest_line

log = logging.getLogger("apps.recording")

HOUR_NS = 3_600_000_000_000
POLL_S = 1.0  # the writer takes what is queued this often (each wake-up costs ~70 us of CPU here)
FLUSH_EVERY_S = 5.0
MAX_BATCH = 10_000  # lines formatted and written in one go
# gzip level 1: ~20x less CPU than gzip's default 9 for ~25 % more bytes (a live hour's recording of the
# simulator: 1.9 against 43 CPU-s); `gzip -9` a recording later if its size matters
COMPRESS_LEVEL = 1

_FRAME, _REST, _MARKER = 0, 1, 2


def hour_label(hour: int) -> str:
    """UTC hour (ns // HOUR_NS) as 20261202T10Z."""
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y%m%dT%HZ")


class HourlyFiles:
    """The gzip file of each UTC hour, named after `out` (a directory, or the first file's name)."""

    def __init__(self, out: Path, symbol: str, *, as_directory: bool) -> None:
        self.out = out
        self.symbol = symbol
        self.as_directory = as_directory
        self.current: Path | None = None
        self.files: list[Path] = []
        self._hour: int | None = None
        self._stream: gzip.GzipFile | None = None

    def path_for(self, hour: int) -> Path:
        if self.as_directory:
            return self.out / f"{self.symbol.lower()}-{hour_label(hour)}.jsonl.gz"
        if not self.files:
            return self.out
        stem, dot, suffixes = self.out.name.partition(".")
        return self.out.with_name(f"{stem}-{hour_label(hour)}{dot}{suffixes}")

    def is_current(self, receive_ns: int) -> bool:
        """A line received then goes to the open file (a late line too)."""
        return self._stream is not None and self._hour is not None and receive_ns // HOUR_NS <= self._hour

    def opens_for(self, receive_ns: int) -> bool:
        """A line received then opens a file (the first, or a later hour's): a header is due."""
        return not self.is_current(receive_ns)

    def stream_for(self, receive_ns: int | None) -> gzip.GzipFile:
        """The open file for a line received at ``receive_ns`` (a later hour starts a new one; a late
        line goes to the current file); None: the current file."""
        if self._stream is not None and (receive_ns is None or self.is_current(receive_ns)):
            return self._stream
        if receive_ns is None:
            raise ValueError("no recording file is open")
        self.close()
        hour = receive_ns // HOUR_NS
        path = self.path_for(hour)
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = gzip.GzipFile(path, "ab", compresslevel=COMPRESS_LEVEL)
        self._stream, self._hour, self.current = stream, hour, path
        self.files.append(path)
        log.info("recording to %s", path)
        return stream

    def flush(self) -> None:
        if self._stream is not None:
            self._stream.flush()

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()
            except OSError as exc:  # the data of this file is lost; the recorder counts the error
                log.error("recording file %s could not be closed: %s", self.current, exc)


class FileRecorder:
    """A `WireTap` (apps/book/services/wire_tap.py) that records to hourly gzip files."""

    def __init__(
        self,
        out: str | Path,
        *,
        symbol: str,
        snapshot_limit: int,
        queue_max: int = 100_000,
        header: dict[str, Any] | None = None,
        directory: bool | None = None,
    ) -> None:
        """``directory``: whether ``out`` names a directory (None: when it is one, or ends with a
        slash)."""
        if directory is None:
            directory = Path(out).is_dir() or str(out).endswith(("/", os.sep))
        self.files = HourlyFiles(Path(out), symbol.upper(), as_directory=directory)
        self.symbol = symbol.upper()
        self.snapshot_limit = snapshot_limit
        self.header = dict(header or {})
        self.queue_max = queue_max
        self.lines_written = 0
        self.lines_dropped = 0
        self.bytes_written = 0  # uncompressed
        self.write_errors = 0
        self.last_error: str | None = None
        self.writer_cpu_s = 0.0  # CPU time of the writer thread so far (formatting, gzip, writes)
        self._queue: deque[tuple[Any, ...]] = deque()
        self._log_lines = LinesPerInterval(60.0)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    # -- the tap (event loop) --------------------------------------------------------------------
    def frame(self, receive_ns: int, frame: str | bytes) -> None:
        self._put((receive_ns, _FRAME, frame))

    def rest_answer(self, receive_ns: int, request: str, body: str) -> None:
        self._put((receive_ns, _REST, request, body))

    def marker(self, receive_ns: int, kind: str, detail: str) -> None:
        self._put((receive_ns, _MARKER, kind, detail))

    def _put(self, item: tuple[Any, ...]) -> None:
        if len(self._queue) >= self.queue_max:
            self.lines_dropped += 1
            skipped = self._log_lines.allow("dropped")
            if skipped is not None:
                log.warning(
                    "recording queue full (%d lines): line dropped (%d dropped so far)",
                    self.queue_max,
                    self.lines_dropped,
                )
            return
        self._queue.append(item)

    def close(self) -> None:
        """Write what is queued, close the file and stop the thread (blocks until done)."""
        self._stopping.set()
        self._thread.join()

    def health(self) -> dict[str, Any]:
        """/api/health ``stream.recording``."""
        current = self.files.current
        return {
            "file": str(current) if current is not None else None,
            "files": len(self.files.files),
            "lines_written": self.lines_written,
            "lines_dropped": self.lines_dropped,
            "queued": len(self._queue),
            "queue_max": self.queue_max,
            "bytes_written": self.bytes_written,
            "write_errors": self.write_errors,
            "last_error": self.last_error,
            "writer_cpu_s": round(self.writer_cpu_s, 3),
        }

    # -- the writer thread ------------------------------------------------------------------------
    def _run(self) -> None:
        flushed = time.monotonic()
        try:
            while True:
                if self._drain():
                    self.writer_cpu_s = time.thread_time()
                if self._stopping.is_set() and not self._queue:
                    break
                if time.monotonic() - flushed >= FLUSH_EVERY_S:
                    self._guarded(self.files.flush)
                    flushed = time.monotonic()
                if len(self._queue) < MAX_BATCH:  # no backlog: let lines gather (close() wakes it)
                    self._stopping.wait(POLL_S)
        finally:
            self._guarded(self.files.close)

    def _drain(self) -> bool:
        """Write what is queued (at most MAX_BATCH lines) in as few writes as the hours allow."""
        queue = self._queue
        items: list[tuple[Any, ...]] = []
        while queue and len(items) < MAX_BATCH:
            items.append(queue.popleft())
        if items:
            self._guarded(lambda: self._write(items))
        return bool(items)

    def _write(self, items: list[tuple[Any, ...]]) -> None:
        files = self.files
        pending: list[str] = []
        taken = 0  # items among the pending lines (the rest are file headers)
        for item in items:
            receive_ns, what = item[0], item[1]
            if pending and not files.is_current(receive_ns):
                self._put_down(pending, taken)  # the hour is over: its file gets its lines first
                pending, taken = [], 0
            if files.opens_for(receive_ns):
                pending.append(header_line(receive_ns, self.symbol, self.snapshot_limit, **self.header))
            if what == _FRAME:
                pending.append(frame_line(receive_ns, item[2]))
            elif what == _REST:
                pending.append(rest_line(receive_ns, item[2], item[3]))
            else:
                pending.append(marker_line(receive_ns, item[2], detail=item[3]))
            taken += 1
            files.stream_for(receive_ns)
        self._put_down(pending, taken)

    def _put_down(self, lines: list[str], items: int) -> None:
        """Write the lines to the current file (one compressed write) and count them."""
        data = "".join(lines).encode()
        self.files.stream_for(None).write(data)
        self.lines_written += items
        self.bytes_written += len(data)

    def _guarded(self, action: Any) -> None:
        try:
            action()
        except (OSError, ValueError) as exc:
            self.write_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            if self._log_lines.allow("write") is not None:
                log.error("recording write failed (%d so far): %s", self.write_errors, self.last_error)
            self.files.close()  # the next line opens the file again (or the next hour's)
