"""Writes of liquidity zones: the current set, the rolling history, and its pruning.

Every cycle's changes go in one short transaction: upsert (idempotent, keyed by zone id) of the
zones that were added or changed, delete of the zones that left, and one history row per zone
state (unique per zone and cycle, so re-writing a cycle changes nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import models, transaction
from django.db.models import BigIntegerField, F, Max, Value

from apps.book.domain.events import Side
from apps.zones.domain.ended import EndedZone
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import ZoneRecord, persistence_s
from apps.zones.models import ZoneCurrent, ZoneEnded, ZoneHistory

log = logging.getLogger(__name__)

# the scale of the DecimalFields (decimal_places=8): what is pushed equals what is stored
STORED_QUANTUM = Decimal("0.00000001")
_UPDATED_FIELDS = [
    "ts_ms",
    "symbol",
    "side",
    "price_low",
    "price_high",
    "notional",
    "strength",
    "persistence_s",
    "status",
    "first_seen_ts_ms",
    "last_seen_ts_ms",
    "book_update_id",
]


def storable(record: ZoneRecord) -> ZoneRecord:
    """The record with its Decimals at the stored scale (the push then shows what REST shows)."""
    return replace(
        record,
        price_low=record.price_low.quantize(STORED_QUANTUM, ROUND_HALF_EVEN),
        price_high=record.price_high.quantize(STORED_QUANTUM, ROUND_HALF_EVEN),
        notional=record.notional.quantize(STORED_QUANTUM, ROUND_HALF_EVEN),
    )


def _values(record: ZoneRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in _UPDATED_FIELDS}


@dataclass(frozen=True)
class SeenAgain:
    """Zones seen this cycle with an unchanged shape: only their clock fields move on."""

    ids: Sequence[str]
    ts_ms: int
    book_update_id: int


def write_cycle(
    symbol: str,
    upserts: Sequence[ZoneRecord],
    removed_ids: Sequence[str],
    history: Sequence[ZoneRecord] = (),
    *,
    seen_again: SeenAgain | None = None,
    replace_all: bool = False,
    ended: Sequence[EndedZone] = (),
) -> None:
    """Apply one cycle in one transaction (``ended``: zones that ended this cycle, for the zone
    history; their peaks come from their history rows, this cycle's included). ``seen_again`` zones get last_seen_ts_ms = ts_ms =
    the cycle's time and persistence_s recomputed, in one UPDATE (the database evaluates the
    domain's ``persistence_s`` on each row's first_seen_ts_ms). ``replace_all``: ``upserts`` is
    the whole current set of the symbol and every other stored row of it goes (used after a
    restart or a failed write)."""
    with transaction.atomic():
        if seen_again is not None and seen_again.ids:
            now = Value(seen_again.ts_ms, output_field=BigIntegerField())
            ZoneCurrent.objects.filter(symbol=symbol, id__in=list(seen_again.ids)).update(
                ts_ms=now,
                last_seen_ts_ms=now,
                book_update_id=seen_again.book_update_id,
                persistence_s=persistence_s(F("first_seen_ts_ms"), now),
            )
        if upserts:
            ZoneCurrent.objects.bulk_create(
                [ZoneCurrent(id=r.id, **_values(r)) for r in upserts],
                update_conflicts=True,
                unique_fields=["id"],
                update_fields=_UPDATED_FIELDS,
            )
        if replace_all:
            ZoneCurrent.objects.filter(symbol=symbol).exclude(id__in=[r.id for r in upserts]).delete()
        elif removed_ids:
            ZoneCurrent.objects.filter(symbol=symbol, id__in=list(removed_ids)).delete()
        if history:
            ZoneHistory.objects.bulk_create(
                [ZoneHistory(zone_id=r.id, **_values(r)) for r in history], ignore_conflicts=True
            )
        if ended:
            ZoneEnded.objects.bulk_create([_ended_row(zone) for zone in ended], ignore_conflicts=True)


def _ended_row(zone: EndedZone) -> ZoneEnded:
    """The zone-history row of a zone that ended: peak notional and strength over its stored states."""
    r = zone.record
    peaks = ZoneHistory.objects.filter(zone_id=r.id, first_seen_ts_ms=r.first_seen_ts_ms).aggregate(
        notional=Max("notional"), strength=Max("strength")
    )
    return ZoneEnded(
        zone_id=r.id,
        symbol=r.symbol,
        side=r.side,
        status=r.status,
        end_reason=zone.reason[:300],
        price_low=r.price_low,
        price_high=r.price_high,
        peak_notional=max(r.notional, peaks["notional"] or r.notional),
        peak_strength=max(r.strength, peaks["strength"] or r.strength),
        first_seen_ts_ms=r.first_seen_ts_ms,
        last_seen_ts_ms=r.last_seen_ts_ms,
        ended_ts_ms=r.ts_ms,
    )


def load_current(symbol: str) -> list[ZoneRecord]:
    """The stored current set of a symbol (to continue tracking after a restart)."""
    rows = ZoneCurrent.objects.filter(symbol=symbol).order_by("side", "price_low", "id")
    return [
        ZoneRecord(
            id=row.id,
            ts_ms=row.ts_ms,
            symbol=row.symbol,
            side=Side(row.side),
            price_low=row.price_low,
            price_high=row.price_high,
            notional=row.notional,
            strength=row.strength,
            persistence_s=row.persistence_s,
            status=ZoneStatus(row.status),
            first_seen_ts_ms=row.first_seen_ts_ms,
            last_seen_ts_ms=row.last_seen_ts_ms,
            book_update_id=row.book_update_id,
        )
        for row in rows
    ]


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    finished: bool  # False: max_batches was reached and older rows remain


def prune_history(
    before_ts_ms: int,
    batch_size: int = 5000,
    max_batches: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> PruneResult:
    """Delete history rows older than ``before_ts_ms``, ``batch_size`` rows per short transaction
    so a writer is never blocked for long. ``progress`` gets the running total after each batch."""
    return _prune(ZoneHistory, "ts_ms", before_ts_ms, batch_size, max_batches, progress, "zone history")


def prune_ended(before_ts_ms: int, batch_size: int = 5000, max_batches: int | None = None) -> PruneResult:
    """Delete the zone-history rows of zones that ended before ``before_ts_ms`` (ZONE_HISTORY_H)."""
    return _prune(ZoneEnded, "ended_ts_ms", before_ts_ms, batch_size, max_batches, None, "ended zones")


def _prune(
    model: type[models.Model],
    ts_field: str,
    before_ts_ms: int,
    batch_size: int,
    max_batches: int | None,
    progress: Callable[[int], None] | None,
    what: str,
) -> PruneResult:
    deleted = batches = 0
    older = {f"{ts_field}__lt": before_ts_ms}
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            ids = list(
                model._default_manager.filter(**older)
                .order_by(ts_field)
                .values_list("id", flat=True)[:batch_size]
            )
            if ids:
                deleted += model._default_manager.filter(id__in=ids).delete()[0]
        batches += 1
        if progress is not None and ids:
            progress(deleted)
        if len(ids) < batch_size:
            if deleted:
                log.info("%s pruned: %d rows older than ts_ms=%d", what, deleted, before_ts_ms)
            return PruneResult(deleted=deleted, finished=True)
    log.info("%s pruned: %d rows older than ts_ms=%d, more remain", what, deleted, before_ts_ms)
    return PruneResult(deleted=deleted, finished=False)
