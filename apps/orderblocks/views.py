"""GET /api/candles — candles of any chart timeframe, chart-ready — and the order-block boxes of
GET /api/orderblocks (served by apps.confluence.views, which adds the liquidity inside each block)."""

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


def orderblock_list(params: QueryParams) -> dict[str, Any]:
    """The answer of GET /api/orderblocks without the liquidity inside the blocks (served with it by
    apps.confluence.views, which adds it)."""
    statuses = params.statuses(OB_STATUSES)
    span = params.time_range()
    limit = params.limit(default=DEFAULT_ORDERBLOCK_LIMIT, cap=settings.CONFIG.api_max_limit)
    symbol = settings.CONFIG.symbol
    return {
        "symbol": symbol,
        "orderblocks": selectors.orderblocks(symbol, statuses, span.from_ms, span.to_ms, limit),
    }
