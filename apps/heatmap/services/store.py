"""Writes of the heatmap: finished columns, the latest depth profile, and pruning by retention.

Synchronous ORM functions; the listener runs them on the sync threads (apps/core/sync_threads.py),
never on the event loop. Each is one short transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from apps.heatmap.domain.packing import StoredRow
from apps.heatmap.models import HeatmapColumn, HeatmapDepth

log = logging.getLogger(__name__)


def write_columns(symbol: str, bin_size: Decimal, column_s: int, rows: Sequence[StoredRow]) -> None:
    """Insert finished columns (a column already stored stays as it is: idempotent)."""
    HeatmapColumn.objects.bulk_create(
        [
            HeatmapColumn(
                symbol=symbol,
                bin_size=bin_size,
                column_s=column_s,
                t=t,
                live_cycles=live_cycles,
                bid_first=bid_first,
                bid_count=bid_count,
                ask_first=ask_first,
                ask_count=ask_count,
                data=data,
            )
            for t, live_cycles, bid_first, bid_count, ask_first, ask_count, data in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )


def write_depth(symbol: str, ts_ms: int, profile: dict[str, Any]) -> None:
    """Replace the symbol's latest depth profile (one UPDATE once the row exists)."""
    profile_json = json.dumps(profile, separators=(",", ":"))
    with transaction.atomic():
        if not HeatmapDepth.objects.filter(symbol=symbol).update(ts_ms=ts_ms, profile=profile_json):
            HeatmapDepth.objects.create(symbol=symbol, ts_ms=ts_ms, profile=profile_json)


def has_columns(symbol: str) -> bool:
    return HeatmapColumn.objects.filter(symbol=symbol).exists()


@dataclass(frozen=True)
class PruneResult:
    deleted: int
    finished: bool  # False: max_batches was reached and older columns remain


def prune_columns(
    symbol: str, before_t: int, batch_size: int = 2000, max_batches: int | None = None
) -> PruneResult:
    """Delete the symbol's columns that start before ``before_t`` (UTC seconds), ``batch_size`` per
    short transaction so no writer waits long."""
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            ids = list(
                HeatmapColumn.objects.filter(symbol=symbol, t__lt=before_t)
                .order_by("t")
                .values_list("id", flat=True)[:batch_size]
            )
            if ids:
                deleted += HeatmapColumn.objects.filter(id__in=ids).delete()[0]
        batches += 1
        if len(ids) < batch_size:
            if deleted:
                log.info("heatmap pruned: %d columns before t=%d", deleted, before_t)
            return PruneResult(deleted=deleted, finished=True)
    log.info("heatmap pruned: %d columns before t=%d, more remain", deleted, before_t)
    return PruneResult(deleted=deleted, finished=False)
