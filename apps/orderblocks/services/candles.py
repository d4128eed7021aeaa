"""Writes and reads of the candle tables: 1h (CANDLE_TABLE) and the chart's 5m and 15m tables
(`tf=`). Idempotent upserts keyed by open time; pruning of the intraday tables in batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from apps.orderblocks.domain.candles import Bar, Gap, find_gaps
from apps.orderblocks.domain.timeframes import timeframe_ms
from apps.orderblocks.models import CANDLE_MODELS, CandleColumns

log = logging.getLogger("apps.orderblocks.candles")

CANDLE_COLUMNS = ("open_time_ms", "open", "high", "low", "close", "volume")
IMPORT_BATCH = 2000  # candles per transaction in store_in_batches (see docs/security-imports.md)
LOOKUP_CHUNK = 500  # open times per IN (...) lookup: under SQLite's old 999-parameter limit


class CandleTableError(RuntimeError):
    """The configured candle table exists but cannot be used."""


class CandleHistoryGapError(CandleTableError):
    """The stored history has a gap longer than CANDLE_GAP_MAX_H: no order blocks across it."""


_checked_tables: set[str] = set()


def candle_model(tf: str = "1h") -> type[CandleColumns]:
    """The model of a stored timeframe's table (5m, 15m, 1h); KeyError for 4h/1d (never stored)."""
    return CANDLE_MODELS[tf]


def ensure_candle_table(tf: str = "1h") -> None:
    """Create the candle table of `tf` if it is missing (e.g. CANDLE_TABLE changed after migrating),
    and check an existing one has the columns this service reads. Checked once per process and table."""
    model = candle_model(tf)
    table = model._meta.db_table
    if table in _checked_tables:
        return
    with connection.cursor() as cursor:
        existing = connection.introspection.table_names(cursor)
        if table not in existing:
            with connection.schema_editor() as editor:
                editor.create_model(model)
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


def _stored_values(model: type[CandleColumns], open_times: Sequence[int]) -> dict[int, tuple[Decimal, ...]]:
    """The stored (open, high, low, close, volume) of those open times that are in the table."""
    stored: dict[int, tuple[Decimal, ...]] = {}
    for i in range(0, len(open_times), LOOKUP_CHUNK):
        rows = model.objects.filter(open_time_ms__in=open_times[i : i + LOOKUP_CHUNK])
        stored.update((row[0], row[1:]) for row in rows.values_list(*CANDLE_COLUMNS))
    return stored


def _writes(model: type[CandleColumns], bars: Sequence[Bar]) -> tuple[list[Bar], int]:
    """The candles that are new or differ from the stored ones (the last one per open time), and how
    many of them are new."""
    latest = {bar.open_time_ms: bar for bar in bars}
    stored = _stored_values(model, sorted(latest))
    writes = [
        bar
        for t, bar in sorted(latest.items())
        if stored.get(t) != (bar.open, bar.high, bar.low, bar.close, bar.volume)
    ]
    return writes, sum(1 for bar in writes if bar.open_time_ms not in stored)


def _upsert_sql(model: type[CandleColumns]) -> str:
    """INSERT ... ON CONFLICT (open_time_ms) DO UPDATE for the candle table (SQLite >= 3.24 and
    Postgres: the backends this service supports)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in CANDLE_COLUMNS)
    updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in CANDLE_COLUMNS[1:])
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(CANDLE_COLUMNS))}) "
        f"ON CONFLICT ({quote(CANDLE_COLUMNS[0])}) DO UPDATE SET {updates}"
    )


def store_bars(bars: Sequence[Bar], tf: str = "1h") -> StoreResult:
    """Insert new candles and update changed ones in one short write transaction (all or nothing).

    The write lock is held for the upsert alone: the stored values are compared before it (a
    concurrent write of the same candle is overwritten; only the counts may be off), unchanged
    candles are not written, and the rows go to the database as prepared parameters through one
    `executemany` (the ORM's bulk_create built its SQL inside the transaction: ~100 ms per 2,000
    rows with SQLite's lock held, against ~10 ms)."""
    if not bars:
        return StoreResult(0, 0, 0)
    ensure_candle_table(tf)
    model = candle_model(tf)
    writes, inserted = _writes(model, bars)
    if writes:
        rows = [(b.open_time_ms, b.open, b.high, b.low, b.close, b.volume) for b in writes]
        sql = _upsert_sql(model)
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


def latest_open_time_ms(tf: str = "1h") -> int | None:
    ensure_candle_table(tf)
    return candle_model(tf).objects.order_by("-open_time_ms").values_list("open_time_ms", flat=True).first()


def earliest_open_time_ms(tf: str = "1h") -> int | None:
    ensure_candle_table(tf)
    return candle_model(tf).objects.order_by("open_time_ms").values_list("open_time_ms", flat=True).first()


def candle_count(*, through_ms: int | None = None, tf: str = "1h") -> int:
    ensure_candle_table(tf)
    rows = candle_model(tf).objects.all()
    if through_ms is not None:
        rows = rows.filter(open_time_ms__lte=through_ms)
    return rows.count()


def candle_gaps(*, from_ms: int | None = None, tf: str = "1h") -> list[Gap]:
    """Holes in the stored history (missing candles between the first and the last one), or in its
    part from `from_ms` on."""
    ensure_candle_table(tf)
    rows = candle_model(tf).objects.all()
    if from_ms is not None:
        rows = rows.filter(open_time_ms__gte=from_ms)
    times = rows.order_by("open_time_ms").values_list("open_time_ms", flat=True).iterator(chunk_size=10_000)
    return find_gaps(times, timeframe_ms(tf))


def load_bars(*, from_ms: int | None = None, to_ms: int | None = None, tf: str = "1h") -> list[Bar]:
    """Stored candles (open time from `from_ms` through `to_ms`, inclusive), oldest first."""
    ensure_candle_table(tf)
    rows = candle_model(tf).objects.order_by("open_time_ms")
    if from_ms is not None:
        rows = rows.filter(open_time_ms__gte=from_ms)
    if to_ms is not None:
        rows = rows.filter(open_time_ms__lte=to_ms)
    return [Bar(*row) for row in rows.values_list(*CANDLE_COLUMNS).iterator(chunk_size=10_000)]


def open_time_before(open_time_ms: int, bars_back: int) -> int | None:
    """Open time of the 1h candle `bars_back` stored candles before `open_time_ms` (or the first one)."""
    ensure_candle_table()
    times = list(
        candle_model()
        .objects.filter(open_time_ms__lt=open_time_ms)
        .order_by("-open_time_ms")
        .values_list("open_time_ms", flat=True)[:bars_back]
    )
    return times[-1] if times else None


@dataclass(frozen=True, slots=True)
class PruneResult:
    deleted: int
    finished: bool  # False: max_batches was reached and older rows remain


def prune_candles(
    tf: str, before_ms: int, *, batch_size: int = 5000, max_batches: int | None = None
) -> PruneResult:
    """Delete the candles of `tf` that opened before `before_ms`, at most `batch_size` per short
    transaction (by open-time range: the key), so the streamer's writes never wait long."""
    ensure_candle_table(tf)
    model = candle_model(tf)
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        times = list(
            model.objects.filter(open_time_ms__lt=before_ms)
            .order_by("open_time_ms")
            .values_list("open_time_ms", flat=True)[:batch_size]
        )
        if not times:
            return _pruned(tf, deleted, before_ms, finished=True)
        with transaction.atomic():
            deleted += model.objects.filter(open_time_ms__lte=times[-1]).delete()[0]
        if len(times) < batch_size:
            return _pruned(tf, deleted, before_ms, finished=True)
    return _pruned(tf, deleted, before_ms, finished=False)


def _pruned(tf: str, deleted: int, before_ms: int, *, finished: bool) -> PruneResult:
    if deleted:
        more = "" if finished else ", more remain"
        log.info("%s candles pruned: %d opened before %d%s", tf, deleted, before_ms, more)
    return PruneResult(deleted, finished)
