"""GET /api/candles and GET /api/orderblocks — candles of any chart timeframe and order-block boxes,
chart-ready."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams
from apps.orderblocks import selectors
from apps.orderblocks.domain.timeframes import DEFAULT_TIMEFRAME, TIMEFRAMES
from apps.orderblocks.models import OB_STATUSES

DEFAULT_CANDLE_LIMIT = 1000
DEFAULT_ORDERBLOCK_LIMIT = 1000


@json_endpoint(allowed_params=("tf", "from", "to", "limit"))
def candles(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    tf = params.choice("tf", TIMEFRAMES, default=DEFAULT_TIMEFRAME)
    span = params.time_range()
    limit = params.limit(default=DEFAULT_CANDLE_LIMIT, cap=settings.CONFIG.api_max_limit)
    return {
        "symbol": settings.CONFIG.symbol,
        "interval": tf,
        "candles": selectors.candles(tf, span.from_ms, span.to_ms, limit),
    }


@json_endpoint(allowed_params=("status", "from", "to", "limit"))
def orderblocks(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    statuses = params.statuses(OB_STATUSES)
    span = params.time_range()
    limit = params.limit(default=DEFAULT_ORDERBLOCK_LIMIT, cap=settings.CONFIG.api_max_limit)
    symbol = settings.CONFIG.symbol
    return {
        "symbol": symbol,
        "orderblocks": selectors.orderblocks(symbol, statuses, span.from_ms, span.to_ms, limit),
    }
