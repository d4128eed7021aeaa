"""GET /api/book and GET /api/health."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.book.selectors import published_book, stream_health
from apps.overlays.json_api import json_endpoint
from apps.overlays.local_fanout import fanout_stats
from apps.overlays.query_params import QueryParams

BOOK_LIMIT_CAP = 100


@json_endpoint(["limit"])
def book(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    symbol = settings.CONFIG.symbol
    limit = params.limit(default=BOOK_LIMIT_CAP, cap=BOOK_LIMIT_CAP)
    data = published_book(symbol, limit)
    if data is None:
        return {"symbol": symbol, "update_id": None, "ts_ms": None, "status": "connecting", "bids": [], "asks": []}
    return data


@json_endpoint([])
def health(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    data = stream_health(settings.CONFIG.symbol)
    simulator_url = data["stream"].get("simulator_url")
    if simulator_url:  # only when `serve --simulator` feeds the stream
        data["simulator_url"] = simulator_url
    # The web process that answered (with several, each answers for itself): its overlay fan-out.
    data["web"] = {"pid": os.getpid(), "overlay_fanout": fanout_stats()}
    return data
