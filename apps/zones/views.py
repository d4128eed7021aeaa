"""GET /api/zones?status= — the current liquidity zones; GET /api/zones/history?from=&to=&status= —
the zones that ended within ZONE_HISTORY_H. Chart-ready."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams
from apps.zones.models import ENDED_ZONE_STATUSES, ZONE_STATUSES
from apps.zones.selectors import current_zones, ended_zones


@json_endpoint(allowed_params=("status",))
def zones(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    statuses = params.statuses(ZONE_STATUSES)
    symbol = settings.CONFIG.symbol
    return {"symbol": symbol, "zones": current_zones(symbol, statuses)}


@json_endpoint(allowed_params=("from", "to", "status"))
def zone_history(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    """Each zone that ended (broken, pulled, merged; not discarded) within the last ZONE_HISTORY_H,
    once, whose life overlaps [from, to]; the most recent API_MAX_LIMIT of them."""
    statuses = params.statuses(ENDED_ZONE_STATUSES)
    span = params.time_range()
    config = settings.CONFIG
    visible_from_ms = int(time.time() * 1000 - config.zone_history_h * 3_600_000)
    since_ms = max(visible_from_ms, span.from_ms or 0)
    zones, truncated = ended_zones(config.symbol, since_ms, span.to_ms, statuses, config.api_max_limit)
    return {
        "symbol": config.symbol,
        "history_h": config.zone_history_h,
        "zones": zones,
        "truncated": truncated,
    }
