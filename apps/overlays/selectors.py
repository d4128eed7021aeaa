"""Reads for the overlay endpoints and the push snapshot: metrics, stream status, full state."""

from __future__ import annotations

from typing import Any

from apps.book.models import OrderbookMetric, PublishedBook
from apps.orderblocks.selectors import chart_orderblocks
from apps.overlays.presentation import metric_overlay
from apps.zones.selectors import current_zones

# Invalid order blocks stay in the chart state while they ended within this window (the
# default candle history the page loads: 1000 hours).
INVALID_BLOCK_LOOKBACK_MS = 1000 * 3600 * 1000


def metrics(symbol: str, from_ms: int | None, to_ms: int | None, limit: int) -> list[dict[str, Any]]:
    """orderbook_metrics rows, oldest first: the first ``limit`` from ``from_ms``, else the last ``limit``."""
    rows = OrderbookMetric.objects.filter(symbol=symbol)
    if from_ms is not None:
        rows = rows.filter(ts_ms__gte=from_ms)
    if to_ms is not None:
        rows = rows.filter(ts_ms__lte=to_ms)
    if from_ms is not None:
        picked = list(rows.order_by("ts_ms", "id")[:limit])
    else:
        picked = list(rows.order_by("-ts_ms", "-id")[:limit])[::-1]
    return [metric_overlay(row) for row in picked]


def latest_metric(symbol: str) -> dict[str, Any] | None:
    row = OrderbookMetric.objects.filter(symbol=symbol).order_by("-ts_ms", "-id").first()
    return metric_overlay(row) if row is not None else None


def stream_status(symbol: str) -> dict[str, Any]:
    """The streamer's published status; ``connecting`` before it ever published."""
    row = PublishedBook.objects.filter(symbol=symbol).only("status", "ts_ms", "update_id", "health").first()
    if row is None:
        return {"status": "connecting", "reason": "nothing published yet"}
    status: dict[str, Any] = {}
    if isinstance(row.health, dict):
        status.update(row.health.get("stream", row.health))
    status.update({"status": row.status, "ts_ms": row.ts_ms, "update_id": row.update_id})
    return status


def overlay_state(symbol: str, now_ms: int) -> dict[str, Any]:
    """Everything the chart overlays need in one read: zones, order blocks, latest metrics, status."""
    return {
        "symbol": symbol,
        "zones": current_zones(symbol),
        "orderblocks": chart_orderblocks(symbol, invalid_since_ms=now_ms - INVALID_BLOCK_LOOKBACK_MS),
        "metrics": latest_metric(symbol),
        "status": stream_status(symbol),
    }
