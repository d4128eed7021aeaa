"""Reads for the overlay endpoints and the push snapshot: metrics, stream status, full state."""

from __future__ import annotations

from typing import Any

from apps.book.models import OrderbookMetric
from apps.book.selectors import stream_status
from apps.confluence.selectors import blocks_with_confluence
from apps.heatmap.selectors import latest_depth
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


def overlay_state(symbol: str, now_ms: int) -> dict[str, Any]:
    """Everything the chart overlays need in one read: zones, order blocks with the liquidity inside
    them (and whether that is computed), latest metrics, status, and the depth profile (the last
    cycle's book on the heatmap grid)."""
    blocks = chart_orderblocks(symbol, invalid_since_ms=now_ms - INVALID_BLOCK_LOOKBACK_MS)
    orderblocks, confluence = blocks_with_confluence(symbol, blocks)
    return {
        "symbol": symbol,
        "zones": current_zones(symbol),
        "orderblocks": orderblocks,
        "confluence": confluence,
        "metrics": latest_metric(symbol),
        "status": _without_clock(stream_status(symbol, now_ms)),
        "depth": latest_depth(symbol),
    }


def _without_clock(status: dict[str, Any]) -> dict[str, Any]:
    """Drop fields that change with the wall clock alone, so an unchanged state keeps its ETag."""
    return {key: value for key, value in status.items() if key != "age_s"}
