"""Writes what the streamer publishes: the metrics row and the latest published book + health.

Synchronous ORM functions, called from the streamer through `sync_to_async`; one short
transaction per cycle. Raw book data never reaches the database beyond the published top N.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.book.domain.metrics import BookView
from apps.book.models import OrderbookMetric, PublishedBook
from apps.book.presentation import levels_json


def write_publication(
    symbol: str, ts_ms: int, status: str, view: BookView | None, health: dict[str, Any]
) -> None:
    """Upsert the published book and add a metrics row.

    Status and health always change; levels and update_id only from a live view, so while the
    stream is not live readers see the last in-sync book with an explicit non-live status.
    """
    fields: dict[str, Any] = {"ts_ms": ts_ms, "status": status, "health": health}
    if view is not None:
        fields.update(update_id=view.update_id, bids=levels_json(view.bids), asks=levels_json(view.asks))
    with transaction.atomic():
        # One UPDATE per cycle (the row exists after the first cycle): no SELECT, no savepoint.
        if not PublishedBook.objects.filter(symbol=symbol).update(**fields):
            PublishedBook.objects.create(symbol=symbol, **fields)
        if view is not None and view.metrics is not None:
            m = view.metrics
            OrderbookMetric.objects.create(
                ts_ms=ts_ms,
                symbol=symbol,
                best_bid=m.best_bid,
                best_ask=m.best_ask,
                spread=m.spread,
                mid=m.mid,
                imbalance_topn=m.imbalance_topn,
                update_id=m.update_id,
            )


def prune_metrics(symbol: str, older_than_ms: int, batch: int = 5000) -> int:
    """Delete metrics rows older than the retention, in batches so no transaction runs long."""
    deleted = 0
    while True:
        ids = list(
            OrderbookMetric.objects.filter(symbol=symbol, ts_ms__lt=older_than_ms).values_list(
                "id", flat=True
            )[:batch]
        )
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += OrderbookMetric.objects.filter(id__in=ids).delete()[0]
