"""Writes of alerts and their webhook deliveries (the ``alerts`` table), and its pruning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from apps.alerts.domain.alert import Alert
from apps.alerts.domain.delivery import OPEN_DELIVERIES, AttemptOutcome, Delivery
from apps.alerts.models import Alert as AlertRow

MAX_ERROR_CHARS = 300


def insert_alerts(alerts: Sequence[Alert], delivery: Delivery) -> list[Alert]:
    """Store the alerts whose key is not stored yet; return those, in order (an event that fired
    again, e.g. re-fed after a restart, is stored, pushed and delivered once)."""
    unique = list({alert.key: alert for alert in alerts}.values())
    with transaction.atomic():
        stored = set(AlertRow.objects.filter(key__in=[a.key for a in unique]).values_list("key", flat=True))
        new = [alert for alert in unique if alert.key not in stored]
        AlertRow.objects.bulk_create([_row(alert, delivery) for alert in new], ignore_conflicts=True)
    return new


def _row(alert: Alert, delivery: Delivery) -> AlertRow:
    return AlertRow(
        key=alert.key,
        symbol=alert.symbol,
        rule=str(alert.rule),
        object_id=alert.object_id[:160],
        ts_ms=alert.ts_ms,
        title=alert.title[:80],
        text=alert.text[:500],
        details=dict(alert.details),
        delivery=str(delivery),
    )


def record_attempt(key: str, outcome: AttemptOutcome, now_ms: int) -> None:
    """One delivery attempt's outcome: state, attempts made, the last error, the next attempt."""
    retry_at = None if outcome.retry_in_s is None else now_ms + int(outcome.retry_in_s * 1000)
    fields: dict[str, Any] = {
        "delivery": str(outcome.delivery),
        "attempts": outcome.attempts,
        "last_error": outcome.last_error[:MAX_ERROR_CHARS],
        "last_attempt_ts_ms": now_ms,
        "next_attempt_ts_ms": retry_at,
    }
    if outcome.delivery == Delivery.DELIVERED:
        fields["delivered_ts_ms"] = now_ms
    AlertRow.objects.filter(key=key).update(**fields)


def open_deliveries(symbol: str) -> list[AlertRow]:
    """Alerts whose delivery is not finished (pending or retrying), oldest first."""
    rows = AlertRow.objects.filter(symbol=symbol, delivery__in=[str(d) for d in OPEN_DELIVERIES])
    return list(rows.order_by("ts_ms", "id"))


def give_up(keys: Sequence[str], reason: str) -> int:
    """Close deliveries that will not be tried (again), saying why."""
    return AlertRow.objects.filter(key__in=list(keys)).update(
        delivery=str(Delivery.GIVEN_UP), last_error=reason[:MAX_ERROR_CHARS], next_attempt_ts_ms=None
    )


def fired_since(symbol: str, since_ms: int) -> list[tuple[str, str, int]]:
    """(rule, object_id, ts_ms) of the alerts that fired at or after ``since_ms``."""
    rows = AlertRow.objects.filter(symbol=symbol, ts_ms__gte=since_ms).order_by("ts_ms")
    return [
        (rule, object_id, ts_ms) for rule, object_id, ts_ms in rows.values_list("rule", "object_id", "ts_ms")
    ]


def entered_blocks(symbol: str, block_ids: Sequence[str], rule: str) -> list[str]:
    """Which of these blocks an ``orderblock_entered`` alert already fired for."""
    rows = AlertRow.objects.filter(symbol=symbol, rule=rule, object_id__in=list(block_ids))
    return list(rows.values_list("object_id", flat=True).distinct())


def prune(older_than_ms: int, batch_size: int = 2000, max_batches: int = 4) -> int:
    """Delete alerts older than ``older_than_ms``, a batch at a time; how many were deleted."""
    deleted = 0
    for _ in range(max_batches):
        ids = list(AlertRow.objects.filter(ts_ms__lt=older_than_ms).values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        deleted += AlertRow.objects.filter(id__in=ids).delete()[0]
        if len(ids) < batch_size:
            break
    return deleted
