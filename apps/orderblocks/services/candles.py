"""Writes and reads of the candle table (CANDLE_TABLE). Idempotent upserts keyed by open time."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from apps.orderblocks.domain.candles import HOUR_MS, Bar, Gap, find_gaps
from apps.orderblocks.models import Candle

log = logging.getLogger("apps.orderblocks.candles")

CANDLE_COLUMNS = ("open_time_ms", "open", "high", "low", "close", "volume")
WRITE_BATCH = 2000


class CandleTableError(RuntimeError):
    """The configured candle table exists but cannot be used."""


class CandleHistoryGapError(CandleTableError):
    """The stored history has a gap longer than CANDLE_GAP_MAX_H: no order blocks across it."""


_checked_tables: set[str] = set()


def ensure_candle_table() -> None:
    """Create the CANDLE_TABLE table if it is missing (e.g. the setting changed after migrating), and
    check an existing one has the columns this service reads. Checked once per process and table."""
    table = Candle._meta.db_table
    if table in _checked_tables:
        return
    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
        if table not in existing:
            with connection.schema_editor() as editor:
                editor.create_model(Candle)
            log.info("candle table %s created reason=missing", table)
        else:
            columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            missing = [c for c in CANDLE_COLUMNS if c not in columns]
            if missing:
                raise CandleTableError(f"candle table {table} lacks the columns {', '.join(missing)}")
    _checked_tables.add(table)


@dataclass(frozen=True, slots=True)
class StoreResult:
    received: int
    inserted: int
    updated: int  # existing candles whose values changed

    @property
    def unchanged(self) -> int:
        return self.received - self.inserted - self.updated


def _as_model(bar: Bar) -> Candle:
    return Candle(
        open_time_ms=bar.open_time_ms,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
    )


def store_bars(bars: Sequence[Bar]) -> StoreResult:
    """Insert new candles and update changed ones, in one transaction (all or nothing)."""
    if not bars:
        return StoreResult(0, 0, 0)
    ensure_candle_table()
    ordered = sorted(bars, key=lambda b: b.open_time_ms)
    lo, hi = ordered[0].open_time_ms, ordered[-1].open_time_ms
    with transaction.atomic():
        existing = {
            row[0]: row[1:]
            for row in Candle.objects.filter(open_time_ms__gte=lo, open_time_ms__lte=hi).values_list(
                *CANDLE_COLUMNS
            )
        }
        fresh: list[Candle] = []
        changed: list[Candle] = []
        for bar in ordered:
            stored = existing.get(bar.open_time_ms)
            if stored is None:
                fresh.append(_as_model(bar))
            elif stored != (bar.open, bar.high, bar.low, bar.close, bar.volume):
                changed.append(_as_model(bar))
        if fresh:
            Candle.objects.bulk_create(fresh, batch_size=WRITE_BATCH)
        if changed:
            Candle.objects.bulk_update(
                changed, ["open", "high", "low", "close", "volume"], batch_size=WRITE_BATCH
            )
    return StoreResult(len(ordered), len(fresh), len(changed))


def latest_open_time_ms() -> int | None:
    ensure_candle_table()
    return Candle.objects.order_by("-open_time_ms").values_list("open_time_ms", flat=True).first()


def earliest_open_time_ms() -> int | None:
    ensure_candle_table()
    return Candle.objects.order_by("open_time_ms").values_list("open_time_ms", flat=True).first()


def candle_count(*, through_ms: int | None = None) -> int:
    ensure_candle_table()
    rows = Candle.objects.all()
    if through_ms is not None:
        rows = rows.filter(open_time_ms__lte=through_ms)
    return rows.count()


def candle_gaps(interval_ms: int = HOUR_MS, *, from_ms: int | None = None) -> list[Gap]:
    """Holes in the stored history (missing hours between the first and the last candle), or in its
    part from `from_ms` on."""
    ensure_candle_table()
    rows = Candle.objects.all() if from_ms is None else Candle.objects.filter(open_time_ms__gte=from_ms)
    times = rows.order_by("open_time_ms").values_list("open_time_ms", flat=True).iterator(chunk_size=10_000)
    return find_gaps(times, interval_ms)


def load_bars(*, from_ms: int | None = None) -> list[Bar]:
    """Stored candles (from `from_ms` on, inclusive), oldest first."""
    ensure_candle_table()
    rows = Candle.objects.order_by("open_time_ms")
    if from_ms is not None:
        rows = rows.filter(open_time_ms__gte=from_ms)
    return [Bar(*row) for row in rows.values_list(*CANDLE_COLUMNS).iterator(chunk_size=10_000)]


def open_time_before(open_time_ms: int, bars_back: int) -> int | None:
    """Open time of the candle `bars_back` stored candles before `open_time_ms` (or the first one)."""
    ensure_candle_table()
    times = list(
        Candle.objects.filter(open_time_ms__lt=open_time_ms)
        .order_by("-open_time_ms")
        .values_list("open_time_ms", flat=True)[:bars_back]
    )
    return times[-1] if times else None
