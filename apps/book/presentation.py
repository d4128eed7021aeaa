"""JSON shapes of the published book and metrics (decimal strings, never floats for prices)."""

from __future__ import annotations

from typing import Any

from apps.book.domain.events import Level
from apps.book.domain.metrics import BookMetrics
from apps.json_http.decimal_text import decimal_text


def levels_json(levels: tuple[Level, ...] | list[Level]) -> list[list[str]]:
    return [[decimal_text(p), decimal_text(q)] for p, q in levels]


def metrics_dict(symbol: str, ts_ms: int, metrics: BookMetrics) -> dict[str, Any]:
    return {
        "ts_ms": ts_ms,
        "symbol": symbol,
        "best_bid": decimal_text(metrics.best_bid),
        "best_ask": decimal_text(metrics.best_ask),
        "spread": decimal_text(metrics.spread),
        "mid": decimal_text(metrics.mid),
        "imbalance_topn": round(metrics.imbalance_topn, 6),
        "update_id": metrics.update_id,
    }
