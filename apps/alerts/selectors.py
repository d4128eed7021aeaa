"""Reads of stored alerts for GET /api/alerts."""

from __future__ import annotations

from typing import Any

from apps.alerts.models import Alert
from apps.alerts.presentation import alert_overlay, delivery_overlay


def recent_alerts(
    symbol: str, from_ms: int, to_ms: int | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Alerts that fired in [from_ms, to_ms], oldest first: the most recent ``limit`` of them, and
    whether older ones were left out."""
    rows = Alert.objects.filter(symbol=symbol, ts_ms__gte=from_ms)
    if to_ms is not None:
        rows = rows.filter(ts_ms__lte=to_ms)
    picked = list(rows.order_by("-ts_ms", "-id")[: limit + 1])
    alerts = [{**alert_overlay(row), "delivery": delivery_overlay(row)} for row in reversed(picked[:limit])]
    return alerts, len(picked) > limit
