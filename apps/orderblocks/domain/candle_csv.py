"""Read candle CSV files as a stream of Bars with line-numbered errors. Pure: bytes in, data out, the
clock passed in.

Two formats are recognised from the first non-empty line:

- Binance public kline CSV (data.binance.vision): no header (an `open_time,...` header is tolerated),
  12 columns `open_time, open, high, low, close, volume, close_time, quote_volume, count,
  taker_buy_base, taker_buy_quote, ignore`; times in ms (microseconds in files from 2025 on).
- Plain CSV with the header `time,open,high,low,close,volume` where time is ISO 8601 (UTC, e.g.
  `2017-07-01T11:00:00Z`; an explicit offset is converted, no offset means UTC), epoch seconds or
  epoch ms.

Limits, so that memory stays bounded whatever the file holds:

- a line is at most MAX_LINE_BYTES bytes of ASCII text without NUL (a UTF-8 BOM at the start is
  skipped); a line that breaks this stops the reading, since what follows is no candle CSV;
- a quoted field may run over lines, but a record never spans more than MAX_RECORD_LINES lines (an
  unclosed quote stops the reading there) and a record over several lines is a bad row (a candle
  row is one line);
- every error names the physical line where its record starts;
- each candle passes check_bar (what the table can hold) and the plausibility rules
  (domain.plausibility: not in the future, not before 2009, prices and volumes within bounds);
- an open time repeated within the file is a bad row; the times seen are kept one slot per interval
  since 2009 (about 1.3 MB for 1h candles up to today), not per row.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from apps.orderblocks.domain.candles import HOUR_MS, Bar, check_bar
from apps.orderblocks.domain.plausibility import EARLIEST_OPEN_MS, implausibility

PLAIN_HEADER = ("time", "open", "high", "low", "close", "volume")
BINANCE_COLUMNS = 12
FORMAT_BINANCE = "binance"
FORMAT_PLAIN = "plain"

MAX_LINE_BYTES = 4096  # a Binance kline row is about 130 bytes
MAX_RECORD_LINES = 16
MAX_ERRORS_KEPT = 20  # bad rows listed; the rest are counted
PROGRESS_ROWS = 1000  # check_candle_csv reports its progress every so many rows
BOM = b"\xef\xbb\xbf"

# epoch magnitude thresholds: below 1e11 reads as seconds (up to year 5138), below 1e14 as ms,
# below 1e17 as microseconds
_SECONDS_BELOW = 10**11
_MS_BELOW = 10**14
_US_BELOW = 10**17


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CandleCsvError(ValueError):
    """A file that cannot be imported: its first bad rows (at most MAX_ERRORS_KEPT) by line number,
    how many bad rows there are, and whether reading stopped at the last one listed."""

    def __init__(self, errors: Sequence[RowError], total: int = 0, *, stopped: bool = False) -> None:
        if not errors:
            raise ValueError("CandleCsvError needs at least one RowError")
        self.errors = list(errors)
        self.total = max(total, len(self.errors))
        self.stopped = stopped
        super().__init__(str(self.errors[0]))

    @property
    def line(self) -> int:
        """The line of the first problem."""
        return self.errors[0].line


class _Stop(Exception):
    """Reading cannot go on past this problem."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class CsvSummary:
    """What a checked file holds."""

    format: str = ""
    rows: int = 0  # good candle rows
    read: int = 0  # candle rows read, good or bad
    first_ms: int | None = None  # earliest open time
    last_ms: int | None = None  # latest open time
    lines: int = 0  # physical lines read

    def add(self, bar: Bar) -> None:
        self.rows += 1
        t = bar.open_time_ms
        self.first_ms = t if self.first_ms is None else min(self.first_ms, t)
        self.last_ms = t if self.last_ms is None else max(self.last_ms, t)


# ---------------------------------------------------------------------------------- times, numbers


def parse_epoch(text: str) -> int:
    """Epoch seconds, ms or microseconds (told apart by magnitude) -> ms."""
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"not an epoch time or ISO 8601 time: {text!r}")
    value = int(text)
    if value < _SECONDS_BELOW:
        return value * 1000
    if value < _MS_BELOW:
        return value
    if value < _US_BELOW:
        if value % 1000:
            raise ValueError(f"microsecond time {text} is not a whole millisecond")
        return value // 1000
    raise ValueError(f"epoch time {text} is too large")


def parse_time(text: str) -> int:
    """ISO 8601 (UTC unless an offset is given) or epoch seconds/ms -> epoch ms."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return parse_epoch(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"time {text!r} is neither ISO 8601 (like 2017-07-01T11:00:00Z) nor epoch seconds/ms"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _decimal(text: str, name: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except ArithmeticError:  # decimal.InvalidOperation
        raise ValueError(f"{name}: not a number ({text.strip()[:40]!r})") from None


# ------------------------------------------------------------------------------ lines and records


def physical_lines(chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """The lines of a byte stream, each with its b"\\n" (the last one may lack it). _Stop on a line
    longer than `max_line_bytes` (its terminator not counted), holding no more of it than that."""
    pending = b""
    line_no = 0
    for chunk in chunks:
        pending += chunk
        start = 0
        while (end := pending.find(b"\n", start)) >= 0:
            line_no += 1
            if end - start > max_line_bytes:
                raise _Stop(RowError(line_no, f"longer than {max_line_bytes} bytes"))
            yield pending[start : end + 1]
            start = end + 1
        pending = pending[start:]
        if len(pending.rstrip(b"\r")) > max_line_bytes:
            raise _Stop(RowError(line_no + 1, f"longer than {max_line_bytes} bytes"))
    if pending:
        yield pending


def text_lines(raw_lines: Iterable[bytes]) -> Iterator[str]:
    """ASCII text of each line (a UTF-8 BOM at the start skipped); _Stop on NUL or a non-ASCII byte."""
    for line_no, raw in enumerate(raw_lines, start=1):
        line = raw[len(BOM) :] if line_no == 1 and raw.startswith(BOM) else raw
        if b"\0" in line:
            raise _Stop(RowError(line_no, "contains a NUL byte: not a CSV text file"))
        if not line.isascii():
            column = next(i for i, byte in enumerate(line) if byte > 0x7F) + 1
            raise _Stop(
                RowError(line_no, f"byte {line[column - 1]:#04x} at column {column} is not ASCII text")
            )
        yield line.decode("ascii")


class _Feed:
    """The csv reader's source: numbered text lines, refusing to let one record run over more than
    MAX_RECORD_LINES lines."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.count = 0  # lines handed out
        self.record_start = 1  # physical line where the record being read starts

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.count + 1 - self.record_start >= MAX_RECORD_LINES:
            raise _Stop(
                RowError(self.record_start, f"a quoted field is not closed within {MAX_RECORD_LINES} lines")
            )
        line = next(self.lines)
        self.count += 1
        return line


def csv_records(chunks: Iterable[bytes]) -> Iterator[tuple[int, int, list[str] | str]]:
    """(first line, last line, cells or what is wrong) of each CSV record; _Stop where reading
    cannot go on. `csv.reader.line_num` is where a record ends; its start is tracked here."""
    feed = _Feed(text_lines(physical_lines(chunks)))
    reader = csv.reader(feed, strict=True)
    while True:
        feed.record_start = feed.count + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield feed.record_start, max(feed.count, feed.record_start), f"not valid CSV: {exc}"
            continue
        yield feed.record_start, feed.count, cells


# ------------------------------------------------------------------------------------------- rows


def _row_bar(cells: list[str], fmt: str) -> Bar:
    if fmt == FORMAT_BINANCE:
        if len(cells) != BINANCE_COLUMNS:
            raise ValueError(f"expected {BINANCE_COLUMNS} columns (Binance kline CSV), got {len(cells)}")
        open_time = parse_epoch(cells[0].strip())
    else:
        if len(cells) != len(PLAIN_HEADER):
            raise ValueError(
                f"expected {len(PLAIN_HEADER)} columns ({','.join(PLAIN_HEADER)}), got {len(cells)}"
            )
        open_time = parse_time(cells[0])
    return Bar(
        open_time_ms=open_time,
        open=_decimal(cells[1], "open"),
        high=_decimal(cells[2], "high"),
        low=_decimal(cells[3], "low"),
        close=_decimal(cells[4], "close"),
        volume=_decimal(cells[5], "volume"),
    )


def row_candle(cells: list[str], fmt: str, now_ms: int, interval_ms: int = HOUR_MS) -> Bar | str:
    """The candle of one row, or the first thing wrong with it (naming the field)."""
    try:
        bar = _row_bar(cells, fmt)
        return check_bar(bar, interval_ms) or implausibility(bar, now_ms, interval_ms) or bar
    except (ValueError, ArithmeticError) as exc:
        return str(exc)


def _detect_format(cells: list[str]) -> tuple[str, bool] | str:
    """(format, first line is a header) or an error message."""
    first = cells[0].strip().lower()
    if first.isascii() and first.isdigit():
        if len(cells) == BINANCE_COLUMNS:
            return FORMAT_BINANCE, False
        return (
            f"a headerless file must be a Binance kline CSV with {BINANCE_COLUMNS} columns "
            f"(got {len(cells)}); plain files need the header {','.join(PLAIN_HEADER)}"
        )
    names = tuple(c.strip().lower() for c in cells)
    if names == PLAIN_HEADER:
        return FORMAT_PLAIN, True
    if first in {"open_time", "open time"} and len(cells) == BINANCE_COLUMNS:
        return FORMAT_BINANCE, True
    got = ",".join(c.strip() for c in cells)
    return f"header must be {','.join(PLAIN_HEADER)} (got {got[:80]!r})"


@dataclass
class _SeenTimes:
    """The line of each open time read so far: one slot per interval from EARLIEST_OPEN_MS (only
    plausible times get here), so memory is bounded by the time span, not by the file."""

    interval_ms: int
    lines: array[int] = field(default_factory=lambda: array("Q"))

    def earlier_line(self, open_time_ms: int, line: int) -> int | None:
        """The line where `open_time_ms` was read before, else None (and it is recorded at `line`)."""
        slot = (open_time_ms - EARLIEST_OPEN_MS) // self.interval_ms
        if slot >= len(self.lines):
            self.lines.frombytes(bytes(self.lines.itemsize * (slot + 1 - len(self.lines))))
        earlier = self.lines[slot]
        if earlier:
            return int(earlier)
        self.lines[slot] = line
        return None


def candle_rows(
    chunks: Iterable[bytes], summary: CsvSummary, *, now_ms: int, interval_ms: int = HOUR_MS
) -> Iterator[tuple[int, Bar | str]]:
    """(line, candle or what is wrong with the row) for each row, in file order; the format and the
    lines read go into `summary`. Raises _Stop where reading cannot go on."""
    seen = _SeenTimes(interval_ms)
    for first, last, cells in csv_records(chunks):
        summary.lines = last
        if isinstance(cells, str):
            yield first, cells
            continue
        if first != last:
            yield first, f"a quoted field runs over lines {first}-{last}; a candle row is one line"
            continue
        if not cells or all(not c.strip() for c in cells):
            continue
        if not summary.format:
            detected = _detect_format(cells)
            if isinstance(detected, str):
                raise _Stop(RowError(first, detected))
            summary.format, is_header = detected
            if is_header:
                continue
        candle = row_candle(cells, summary.format, now_ms, interval_ms)
        if isinstance(candle, Bar) and (earlier := seen.earlier_line(candle.open_time_ms, first)):
            candle = f"time: {candle.open_time_ms} repeats line {earlier}"
        yield first, candle
    if not summary.format:
        yield 1, "the file is empty"


# ----------------------------------------------------------------------------------------- passes


def check_candle_csv(
    chunks: Iterable[bytes],
    *,
    now_ms: int,
    interval_ms: int = HOUR_MS,
    progress: Callable[[CsvSummary], None] | None = None,
) -> CsvSummary:
    """Check every row; CandleCsvError lists the first MAX_ERRORS_KEPT bad rows by line number and
    counts them all. `progress` gets the summary every PROGRESS_ROWS rows read."""
    summary = CsvSummary()
    errors: list[RowError] = []
    total = 0
    stopped = False
    try:
        for line, candle in candle_rows(chunks, summary, now_ms=now_ms, interval_ms=interval_ms):
            summary.read += 1
            if progress is not None and summary.read % PROGRESS_ROWS == 0:
                progress(summary)
            if isinstance(candle, Bar):
                summary.add(candle)
                continue
            total += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(RowError(line, candle))
    except _Stop as stop:
        total, stopped = total + 1, True
        errors.append(stop.error)
    if not errors and not summary.rows:
        errors.append(RowError(max(summary.lines, 1), "no candle rows (only a header)"))
    if errors:
        raise CandleCsvError(errors, total, stopped=stopped)
    return summary


def read_candles(chunks: Iterable[bytes], *, now_ms: int, interval_ms: int = HOUR_MS) -> Iterator[Bar]:
    """The candles of a file, in file order; CandleCsvError at the first bad row (check_candle_csv
    first to list every bad row before anything is used)."""
    summary = CsvSummary()
    try:
        for line, candle in candle_rows(chunks, summary, now_ms=now_ms, interval_ms=interval_ms):
            if not isinstance(candle, Bar):
                raise CandleCsvError([RowError(line, candle)])
            yield candle
    except _Stop as stop:
        raise CandleCsvError([stop.error], stopped=True) from None
