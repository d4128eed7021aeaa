"""Chart timeframes and the rules that make 4h and 1d candles out of 1h ones. Pure: no Django, no I/O.

- 5m and 15m are stored, each in its own table, from Binance's own klines (backfill + live streams),
  kept for CANDLE_RETENTION_D_INTRADAY days;
- 1h is the order blocks' table (CANDLE_TABLE);
- 4h and 1d are aggregated from the 1h table when asked for, in UTC-aligned buckets
  (`bucket_start`): 00:00, 04:00, ... 20:00 UTC and 00:00 UTC, as Binance aligns them.

`aggregate_candles` works on Decimal (the live push) and on float rows (the API reads floats, which is
what the chart draws); open/high/low/close are picked, not computed, so only the volume sum depends
on the number type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

TIMEFRAME_MS: dict[str, int] = {
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "1h": HOUR_MS,
    "4h": 4 * HOUR_MS,
    "1d": DAY_MS,
}
TIMEFRAMES: tuple[str, ...] = tuple(TIMEFRAME_MS)  # shortest first: the page's switcher order
DEFAULT_TIMEFRAME = "1h"
INTRADAY: tuple[str, ...] = ("5m", "15m")  # own tables, from their own klines, rolling retention
AGGREGATED: tuple[str, ...] = ("4h", "1d")  # from the 1h table at query time
SQL_NAME_MAX = 63  # Postgres truncates longer identifiers

N = TypeVar("N", Decimal, float)
N_co = TypeVar("N_co", Decimal, float, covariant=True)


class UnknownTimeframeError(ValueError):
    """A timeframe this service does not draw."""


def timeframe_ms(tf: str) -> int:
    """Length of one candle of `tf` in milliseconds."""
    try:
        return TIMEFRAME_MS[tf]
    except KeyError:
        raise UnknownTimeframeError(
            f"unknown timeframe {tf[:20]!r}; known: {', '.join(TIMEFRAMES)}"
        ) from None


def is_aggregated(tf: str) -> bool:
    """4h and 1d: made from 1h candles when asked for, never stored."""
    return tf in AGGREGATED


def bucket_start(time_ms: int, bucket_ms: int) -> int:
    """Open time of the UTC-aligned bucket holding `time_ms`: buckets start at whole multiples of
    `bucket_ms` since the epoch (1970-01-01T00:00Z), so 4h buckets start at 00, 04, ... 20 UTC and
    1d buckets at midnight UTC."""
    return time_ms - time_ms % bucket_ms


def first_bucket_from(time_ms: int, bucket_ms: int) -> int:
    """Open time of the first bucket that starts at or after `time_ms`."""
    start = bucket_start(time_ms, bucket_ms)
    return start if start == time_ms else start + bucket_ms


def intraday_table_name(candle_table: str, tf: str) -> str:
    """The table of an intraday timeframe, named after CANDLE_TABLE: its `_1h` suffix (if any)
    replaced by `_<tf>` (btc_eur_1h -> btc_eur_5m, btc_eur_15m; ohlcv -> ohlcv_5m), the base cut so
    the name stays a valid SQL identifier."""
    base = candle_table.removesuffix("_1h")
    suffix = f"_{tf}"
    return base[: SQL_NAME_MAX - len(suffix)] + suffix


class OhlcvRow(Protocol[N_co]):
    """A candle with its open time: apps.orderblocks.domain.candles.Bar (Decimal) or a row of floats."""

    @property
    def open_time_ms(self) -> int: ...
    @property
    def open(self) -> N_co: ...
    @property
    def high(self) -> N_co: ...
    @property
    def low(self) -> N_co: ...
    @property
    def close(self) -> N_co: ...
    @property
    def volume(self) -> N_co: ...


@dataclass(frozen=True, slots=True)
class AggregatedCandle(Generic[N]):
    """One 4h/1d candle: `parts` is how many source candles it holds (4 or 24 when complete)."""

    open_time_ms: int
    open: N
    high: N
    low: N
    close: N
    volume: N
    parts: int
    closed: bool


def aggregate_candles(
    rows: Iterable[OhlcvRow[N]],
    bucket_ms: int,
    *,
    source_ms: int = HOUR_MS,
    later_exists: bool = False,
    last_open: bool = False,
) -> list[AggregatedCandle[N]]:
    """Candles of `bucket_ms` from ascending source candles of `source_ms`: open of the first, close
    of the last, highest high, lowest low, summed volume, per UTC-aligned bucket (`bucket_start`).

    A bucket is closed once it holds all its source candles, or once a later source candle exists (a
    later row, or `later_exists`: one is stored after the last row): a bucket missing candles at a
    gap in the history is drawn from the candles it has. The last bucket, while incomplete and
    nothing follows it, is the open candle; `last_open` says the last source row is itself still open.
    """
    per_bucket = bucket_ms // source_ms
    out: list[AggregatedCandle[N]] = []
    current: list[OhlcvRow[N]] = []
    for row in rows:
        if current and bucket_start(row.open_time_ms, bucket_ms) != bucket_start(
            current[0].open_time_ms, bucket_ms
        ):
            out.append(_bucket(current, bucket_ms, closed=True))
            current = []
        current.append(row)
    if current:
        complete = len(current) >= per_bucket and not last_open
        out.append(_bucket(current, bucket_ms, closed=complete or (later_exists and not last_open)))
    return out


def _bucket(rows: list[OhlcvRow[N]], bucket_ms: int, *, closed: bool) -> AggregatedCandle[N]:
    volume = rows[0].volume
    for row in rows[1:]:
        volume += row.volume
    return AggregatedCandle(
        open_time_ms=bucket_start(rows[0].open_time_ms, bucket_ms),
        open=rows[0].open,
        high=max(row.high for row in rows),
        low=min(row.low for row in rows),
        close=rows[-1].close,
        volume=volume,
        parts=len(rows),
        closed=closed,
    )
