"""The `data_sources` table: each source that wrote market data to this database, recorded on its
first write; `claim_source` refuses a source that would mix simulated with real data."""

from __future__ import annotations

import time

from django.core.management.base import CommandError

from apps.book.domain.data_source import DataSource, SourceKind, first_conflict
from apps.book.models import DataSource as DataSourceRow
from apps.core.database_state import database_name


class MixedSourcesError(Exception):
    """The database holds data of a source the new one must not be mixed with."""


def held_sources() -> list[DataSource]:
    return [DataSource(SourceKind(row.kind), row.url) for row in DataSourceRow.objects.order_by("id")]


def claim_source(source: DataSource, *, database: str, now_ms: int) -> None:
    """Record `source` as a writer of this database, or raise MixedSourcesError naming both sources."""
    conflict = first_conflict(held_sources(), source)
    if conflict is not None:
        raise MixedSourcesError(
            f"database {database} holds {conflict.describe()}; refusing to add {source.describe()}: "
            "point DATABASE_URL at another database (make demo uses var/demo.sqlite3)"
        )
    DataSourceRow.objects.get_or_create(
        kind=source.kind, url=source.url, defaults={"first_write_ts_ms": now_ms}
    )


def claim_source_for_command(kind: SourceKind, url: str) -> None:
    """`claim_source` for a management command: a refusal is its one-line CommandError (exit 1)."""
    try:
        claim_source(DataSource(kind, url), database=database_name(), now_ms=int(time.time() * 1000))
    except MixedSourcesError as exc:
        raise CommandError(str(exc)) from None
