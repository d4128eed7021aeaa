"""GET /api/reactions?from=&to= — order-block reactions touched in the range; GET
/api/reactions/stats?from=&to= — their held / invalidated / undecided counts and rates."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams
from apps.reactions.selectors import reactions_between, stats_between


@json_endpoint(allowed_params=("from", "to"))
def reactions(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    """Each reaction whose touch is in [from, to] (UTC seconds, inclusive), oldest first: the most
    recent API_MAX_LIMIT of them (``truncated`` says more were left out)."""
    span = params.time_range()
    config = settings.CONFIG
    found, truncated = reactions_between(config.symbol, span.from_ms, span.to_ms, config.api_max_limit)
    return {"symbol": config.symbol, "reactions": found, "truncated": truncated}


@json_endpoint(allowed_params=("from", "to"))
def reaction_stats(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    span = params.time_range()
    symbol = settings.CONFIG.symbol
    return {
        "symbol": symbol,
        "from": span.from_s,
        "to": span.to_s,
        **stats_between(symbol, span.from_ms, span.to_ms),
    }
