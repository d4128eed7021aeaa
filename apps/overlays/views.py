"""The chart page (/), GET /api/overlays, GET /api/metrics, GET /api/health and GET /api/schema."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import views as staticfiles_views
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.book.selectors import health_document, health_http_status
from apps.core.security_headers import PAGE_CSP
from apps.json_http.decimal_text import decimal_text
from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams
from apps.orderblocks.domain.timeframes import TIMEFRAMES
from apps.overlays import selectors
from apps.overlays.local_fanout import web_health
from apps.overlays.openapi import openapi_document

DEFAULT_METRICS_LIMIT = 3600
POLL_INTERVAL_MS = 3000


def memory_page_config(config: Any) -> dict[str, Any]:
    """What the page's heatmap, zone history and depth profile need (static/chart/liquidity-memory.js)."""
    return {
        "heatmapApi": "/api/heatmap",
        "historyApi": "/api/zones/history",
        "columnS": config.heatmap_column_s,
        "binSize": decimal_text(config.heatmap_bin_size),
        "retentionH": float(config.heatmap_retention_h),
        "historyH": float(config.zone_history_h),
    }


@require_safe
def chart_page(request: HttpRequest) -> HttpResponse:
    config = settings.CONFIG
    page_config = {
        "symbol": config.symbol,
        "renderTouched": config.render_touched,
        "pollIntervalMs": POLL_INTERVAL_MS,
        "candleLimit": 1000,
        "wsPath": "/ws/overlays",
        "api": {"candles": "/api/candles", "overlays": "/api/overlays", "alerts": "/api/alerts"},
        "staleAfterS": config.stale_after_s,
        "zoneDrawMinS": config.zone_draw_min_s,
        "obDisplayAtr": config.ob_display_atr,
        "obDisplayMax": config.ob_display_max,
        # the book's state as last published, so a reload shows it before any push
        "initialStatus": selectors.stream_status(config.symbol),
    }
    page_config["memory"] = memory_page_config(config)
    page_config["reactions"] = {"api": "/api/reactions", "statsApi": "/api/reactions/stats"}
    response = render(
        request,
        "overlays/chart.html",
        {"page_config": page_config, "symbol": config.symbol, "timeframes": TIMEFRAMES},
    )
    response["Cache-Control"] = "no-cache"
    response["Content-Security-Policy"] = PAGE_CSP  # what the page loads; nothing inline
    return response


@require_safe
def static_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """The page's JS/CSS and the pinned Lightweight Charts build, found by the staticfiles finders.

    daphne serves no static files itself; this keeps `serve` a single process. Browsers
    revalidate (Last-Modified -> 304), so a redeploy is picked up on the next load.
    """
    response = staticfiles_views.serve(request, path, insecure=True)
    response["Cache-Control"] = "no-cache"
    return response


@json_endpoint(allowed_params=())
def overlays(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    return selectors.overlay_state(settings.CONFIG.symbol, now_ms=int(time.time() * 1000))


@json_endpoint(allowed_params=("from", "to", "limit"))
def metrics(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    span = params.time_range()
    limit = params.limit(default=DEFAULT_METRICS_LIMIT, cap=settings.CONFIG.api_max_limit)
    symbol = settings.CONFIG.symbol
    return {"symbol": symbol, "metrics": selectors.metrics(symbol, span.from_ms, span.to_ms, limit)}


@json_endpoint(allowed_params=())
def schema(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    config = settings.CONFIG
    return openapi_document(config.symbol, config.api_max_limit, config.heatmap_column_s)


@json_endpoint([])
def health(request: HttpRequest, params: QueryParams) -> tuple[dict[str, Any], int]:
    """The stream's health as the streamer last wrote it, and this web process's fan-out counters;
    503 once the book has not been live for longer than HEALTH_STALE_S."""
    document = health_document(settings.CONFIG.symbol)
    status = health_http_status(document, time.time(), settings.CONFIG.health_stale_s)
    return {**document, "web": web_health(settings.CONFIG.health_details)}, status
