"""Writes and reads of the candle table (CANDLE_TABLE). Idempotent upserts keyed by open time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from apps.orderblocks.domain.candles import HOUR_MS, Bar, Gap, find_gaps
from apps.orderblocks.models import Candle

log = logging.getLogger("apps.orderblocks.candles")

CANDLE_COLUMNS = ("open_time_ms", "open", "high", "low", "close", "volume")
IMPORT_BATCH = 2000  # candles per transaction in store_in_batches (see docs/security-imports.md)
LOOKUP_CHUNK = 500  # open times per IN (...) lookup: under SQLite's old 999-parameter limit


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
            if not _open_time_is_unique(cursor, table):
                raise CandleTableError(
                    f"candle table {table} needs open_time_ms as its primary key or a unique column "
                    "(candles are stored by open time, never twice)"
                )
    _checked_tables.add(table)


def _open_time_is_unique(cursor: Any, table: str) -> bool:
    constraints = connection.introspection.get_constraints(cursor, table)
    return any(
        (c["primary_key"] or c["unique"]) and c["columns"] == ["open_time_ms"] for c in constraints.values()
    )


@dataclass(frozen=True, slots=True)
class StoreResult:
    received: int
    inserted: int
    updated: int  # existing candles whose values changed

    @property
    def unchanged(self) -> int:
        return self.received - self.inserted - self.updated

    def __add__(self, other: StoreResult) -> StoreResult:
        return StoreResult(
            self.received + other.received, self.inserted + other.inserted, self.updated + other.updated
        )


def _stored_values(open_times: Sequence[int]) -> dict[int, tuple[Decimal, ...]]:
    """The stored (open, high, low, close, volume) of those open times that are in the table."""
    stored: dict[int, tuple[Decimal, ...]] = {}
    for i in range(0, len(open_times), LOOKUP_CHUNK):
        rows = Candle.objects.filter(open_time_ms__in=open_times[i : i + LOOKUP_CHUNK])
        stored.update((row[0], row[1:]) for row in rows.values_list(*CANDLE_COLUMNS))
    return stored


def _writes(bars: Sequence[Bar]) -> tuple[list[Bar], int]:
    """The candles that are new or differ from the stored ones (the last one per open time), and how
    many of them are new."""
    latest = {bar.open_time_ms: bar for bar in bars}
    stored = _stored_values(sorted(latest))
    writes = [
        bar
        for t, bar in sorted(latest.items())
        if stored.get(t) != (bar.open, bar.high, bar.low, bar.close, bar.volume)
    ]
    return writes, sum(1 for bar in writes if bar.open_time_ms not in stored)


def _upsert_sql() -> str:
    """INSERT ... ON CONFLICT (open_time_ms) DO UPDATE for the candle table (SQLite >= 3.24 and
    Postgres: the backends this service supports)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in CANDLE_COLUMNS)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in CANDLE_COLUMNS[1:])
    return (
        f"INSERT INTO {quote(Candle._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(CANDLE_COLUMNS))}) "
        f"ON CONFLICT ({quote(CANDLE_COLUMNS[0])}) DO UPDATE SET {updates}"
    )


def store_bars(bars: Sequence[Bar]) -> StoreResult:
    """Insert new candles and update changed ones in one short write transaction (all or nothing).

    The write lock is held for the upsert alone: the stored values are compared before it (a
    concurrent write of the same candle is overwritten; only the counts may be off), unchanged
    candles are not written, and the rows go to the database as prepared parameters through one
    `executemany` (the ORM's bulk_create built its SQL inside the transaction: ~100 ms per 2,000
    rows with SQLite's lock held, against ~10 ms)."""
    if not bars:
        return StoreResult(0, 0, 0)
    ensure_candle_table()
    writes, inserted = _writes(bars)
    if writes:
        rows = [(b.open_time_ms, b.open, b.high, b.low, b.close, b.volume) for b in writes]
        sql = _upsert_sql()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, rows)
    return StoreResult(len(bars), inserted, len(writes) - inserted)


def store_in_batches(
    bars: Iterable[Bar],
    *,
    batch_size: int = IMPORT_BATCH,
    progress: Callable[[StoreResult], None] | None = None,
) -> StoreResult:
    """`store_bars` for every `batch_size` candles, each batch its own short transaction, so other
    writers (the streamer's publications) get the database between them. Not all or nothing: check
    the whole input first. `progress` gets the running total after each batch."""
    total = StoreResult(0, 0, 0)
    batch: list[Bar] = []
    for bar in bars:
        batch.append(bar)
        if len(batch) >= batch_size:
            total += store_bars(batch)
            batch = []
            if progress is not None:
                progress(total)
    if batch:
        total += store_bars(batch)
        if progress is not None:
            progress(total)
    return total


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
