"""Chart-ready dict for one orderbook_metrics row (REST /api/metrics, /api/overlays, push)."""

from __future__ import annotations

from typing import Any

from apps.json_http.decimal_text import decimal_text


def metric_overlay(row: Any) -> dict[str, Any]:
    """`row` is an OrderbookMetric or any object with the same attribute names."""
    return {
        "time": row.ts_ms // 1000,
        "ts_ms": row.ts_ms,
        "symbol": row.symbol,
        "best_bid": decimal_text(row.best_bid),
        "best_ask": decimal_text(row.best_ask),
        "spread": decimal_text(row.spread),
        "mid": decimal_text(row.mid),
        "imbalance_topn": round(float(row.imbalance_topn), 6),
        "update_id": row.update_id,
    }
