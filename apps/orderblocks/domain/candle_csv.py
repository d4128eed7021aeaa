"""Parse candle CSV files into Bars, all-or-nothing, with line-numbered errors. Pure (text in, data out).

Two formats are recognised from the first non-empty line:

- Binance public kline CSV (data.binance.vision): no header (an `open_time,...` header is tolerated),
  12 columns `open_time, open, high, low, close, volume, close_time, quote_volume, count,
  taker_buy_base, taker_buy_quote, ignore`; times in ms (microseconds in files from 2025 on).
- Plain CSV with the header `time,open,high,low,close,volume` where time is ISO 8601 (UTC, e.g.
  `2017-07-01T11:00:00Z`; an explicit offset is converted, no offset means UTC), epoch seconds or
  epoch ms.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from apps.orderblocks.domain.candles import HOUR_MS, Bar, check_bar

PLAIN_HEADER = ("time", "open", "high", "low", "close", "volume")
BINANCE_COLUMNS = 12
FORMAT_BINANCE = "binance"
FORMAT_PLAIN = "plain"

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


@dataclass
class CsvCandles:
    format: str = ""
    bars: list[Bar] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.format)


def parse_epoch(text: str) -> int:
    """Epoch seconds, ms or microseconds (told apart by magnitude) -> ms."""
    if not text.isdigit():
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
    if text.isdigit():
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
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name}: not a number ({text.strip()!r})") from None
    return value


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


def _detect_format(cells: list[str]) -> tuple[str, bool] | str:
    """(format, first line is a header) or an error message."""
    first = cells[0].strip().lower()
    if first.isdigit():
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
    return f"header must be {','.join(PLAIN_HEADER)} (got {','.join(c.strip() for c in cells)})"


def parse_candle_csv(lines: Iterable[str], interval_ms: int = HOUR_MS) -> CsvCandles:
    """Every row checked; `errors` lists each bad row by its 1-based line number."""
    result = CsvCandles()
    seen: dict[int, int] = {}
    header_checked = False
    for line_no, cells in enumerate(csv.reader(lines), start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if not header_checked:
            header_checked = True
            detected = _detect_format(cells)
            if isinstance(detected, str):
                result.errors.append(RowError(line_no, detected))
                return result
            result.format, is_header = detected
            if is_header:
                continue
        result.rows += 1
        try:
            bar = _row_bar(cells, result.format)
        except ValueError as exc:
            result.errors.append(RowError(line_no, str(exc)))
            continue
        problem = check_bar(bar, interval_ms)
        if problem:
            result.errors.append(RowError(line_no, problem))
            continue
        if bar.open_time_ms in seen:
            result.errors.append(
                RowError(line_no, f"time: {bar.open_time_ms} repeats line {seen[bar.open_time_ms]}")
            )
            continue
        seen[bar.open_time_ms] = line_no
        result.bars.append(bar)
    if not header_checked:
        result.errors.append(RowError(1, "the file is empty"))
    result.bars.sort(key=lambda b: b.open_time_ms)
    return result
