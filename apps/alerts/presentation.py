"""The alert dict shared by GET /api/alerts, the `alert` push and the webhook body."""

from __future__ import annotations

from typing import Any


def alert_overlay(alert: Any) -> dict[str, Any]:
    """`alert` is an Alert row or a domain Alert (the same attribute names). Delivery fields come
    from the row only (a just-fired alert is shown as its first row will be: see ``delivery``)."""
    overlay = {
        "key": alert.key,
        "symbol": alert.symbol,
        "rule": str(alert.rule),
        "object_id": alert.object_id,
        "ts_ms": alert.ts_ms,
        "time": alert.ts_ms // 1000,
        "title": alert.title,
        "text": alert.text,
        "details": dict(alert.details),
    }
    return overlay


def delivery_overlay(row: Any) -> dict[str, Any]:
    """How a stored alert's webhook delivery went."""
    return {
        "state": row.delivery,
        "attempts": row.attempts,
        "last_error": row.last_error or None,
        "delivered_ts_ms": row.delivered_ts_ms,
    }
