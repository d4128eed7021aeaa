"""Candles as plain data (1h for the order blocks, 5m/15m for the chart): candles from Binance klines (parsed by apps.book.domain.wire, REST rows
and WebSocket `k` objects), forward paging over /api/v3/klines with an injected fetch function, and
gap detection. No Django, no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.book.domain.events import Kline, KlineRow
from apps.book.domain.wire import WireError, parse_kline_row

HOUR_MS = 3_600_000
KLINE_PAGE_LIMIT = 1000  # Binance's maximum rows per /api/v3/klines request
PRICE_PLACES = 8
INTEGER_DIGITS = 16  # DecimalField(max_digits=24, decimal_places=8)


@dataclass(frozen=True, slots=True)
class Bar:
    """One candle (1h unless said otherwise). `open_time_ms` is its open time (UTC epoch ms)."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class KlineError(ValueError):
    """A kline from the exchange has a shape or value this service cannot use."""


def check_bar(bar: Bar, interval_ms: int = HOUR_MS) -> str | None:
    """The first thing wrong with a candle, as a message naming the field; None when it is fine."""
    if bar.open_time_ms < 0:
        return "time: must not be before 1970"
    if bar.open_time_ms % interval_ms:
        return f"time: {bar.open_time_ms} is not on an interval boundary ({interval_ms} ms)"
    for name in ("open", "high", "low", "close", "volume"):
        value: Decimal = getattr(bar, name)
        if not value.is_finite():
            return f"{name}: must be a finite number"
        if value < 0 or (name != "volume" and value == 0):
            return f"{name}: must be {'>= 0' if name == 'volume' else '> 0'}"
        if value.adjusted() >= INTEGER_DIGITS:
            return f"{name}: more than {INTEGER_DIGITS} digits before the decimal point"
        exponent = value.as_tuple().exponent
        if (
            isinstance(exponent, int)
            and exponent < -PRICE_PLACES
            and value != value.quantize(Decimal(1).scaleb(-PRICE_PLACES))
        ):
            return f"{name}: more than {PRICE_PLACES} decimal places"
    if bar.high < max(bar.open, bar.close, bar.low):
        return "high: below open/close/low"
    if bar.low > min(bar.open, bar.close):
        return "low: above open/close"
    return None


def bar_of(kline: Kline | KlineRow, interval_ms: int = HOUR_MS) -> Bar:
    """The candle of a kline parsed by apps.book.domain.wire; KlineError if it is no valid candle of
    that interval."""
    bar = Bar(
        open_time_ms=kline.open_time_ms,
        open=kline.open,
        high=kline.high,
        low=kline.low,
        close=kline.close,
        volume=kline.volume,
    )
    problem = check_bar(bar, interval_ms)
    if problem:
        raise KlineError(problem)
    return bar


def parse_rest_kline(row: Sequence[Any], interval_ms: int = HOUR_MS) -> tuple[Bar, int]:
    """One /api/v3/klines row `[open_time, o, h, l, c, v, close_time, ...]` -> (bar, close_time_ms)."""
    try:
        parsed = parse_kline_row(row)
    except WireError as exc:
        raise KlineError(str(exc)) from None
    return bar_of(parsed, interval_ms), parsed.close_time_ms


# ------------------------------------------------------------------------------------------ paging

FetchKlines = Callable[[int, int | None, int], Awaitable[list[list[Any]]]]
"""fetch(start_ms, end_ms, limit) -> raw kline rows, oldest first (startTime/endTime inclusive)."""


@dataclass(frozen=True, slots=True)
class KlinePage:
    bars: list[Bar]
    requested_from_ms: int
    complete: bool  # True on the last page of the range


async def klines_forward(
    fetch: FetchKlines,
    start_ms: int,
    end_ms: int | None,
    now_ms: int,
    *,
    limit: int = KLINE_PAGE_LIMIT,
    interval_ms: int = HOUR_MS,
) -> AsyncIterator[KlinePage]:
    """Async generator of KlinePage from `start_ms` forward until `end_ms` (inclusive) or the last
    closed candle. A candle is closed when its close time is before `now_ms` or a later candle exists
    (only the newest candle can be open); the open candle is never yielded. An `end_ms` is only given
    with a stored candle after it (a gap, the part before the first stored candle), so every candle
    up to `end_ms` is closed whatever the clock says."""
    cursor = start_ms
    while True:
        rows = await fetch(cursor, end_ms, limit)
        parsed: list[tuple[Bar, int]] = []
        last_open = cursor - 1
        for row in rows:
            bar, close_time_ms = parse_rest_kline(row, interval_ms)
            if bar.open_time_ms <= last_open:
                raise KlineError(
                    f"klines not ascending from startTime={cursor}: got open time {bar.open_time_ms}"
                )
            last_open = bar.open_time_ms
            if end_ms is not None and bar.open_time_ms > end_ms:
                break
            parsed.append((bar, close_time_ms))
        bounded = end_ms is not None
        bars = [
            bar for i, (bar, close) in enumerate(parsed) if bounded or close < now_ms or i + 1 < len(parsed)
        ]
        newest_open = len(bars) < len(parsed)  # the last row is a candle still open
        done = len(rows) < limit or (end_ms is not None and last_open >= end_ms) or not bars
        yield KlinePage(bars=bars, requested_from_ms=cursor, complete=done)
        if done:
            return
        # a full page whose last row looks open: ask again from that row; later rows prove it closed
        cursor = parsed[-1][0].open_time_ms if newest_open else last_open + 1


# -------------------------------------------------------------------------------------------- gaps


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing candles strictly between two stored ones."""

    after_ms: int  # open time of the candle before the gap
    before_ms: int  # open time of the candle after the gap
    interval_ms: int = HOUR_MS

    @property
    def first_missing_ms(self) -> int:
        return self.after_ms + self.interval_ms

    @property
    def last_missing_ms(self) -> int:
        return self.before_ms - self.interval_ms

    @property
    def missing(self) -> int:
        return (self.before_ms - self.after_ms) // self.interval_ms - 1


def find_gaps(open_times_ms: Iterable[int], interval_ms: int = HOUR_MS) -> list[Gap]:
    """Gaps in an ascending sequence of open times."""
    gaps: list[Gap] = []
    previous: int | None = None
    for current in open_times_ms:
        if previous is not None and current - previous > interval_ms:
            gaps.append(Gap(previous, current, interval_ms))
        previous = current
    return gaps


def gaps_too_long(gaps: list[Gap], max_missing_hours: int) -> list[Gap]:
    """Gaps the order blocks must not be computed across: more than `max_missing_hours` candles missing
    (a demo series appended to real history, a feed that was down for days)."""
    return [gap for gap in gaps if gap.missing * gap.interval_ms > max_missing_hours * HOUR_MS]
