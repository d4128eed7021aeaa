"""GET /api/zones?status= — the current liquidity zones, chart-ready."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams
from apps.zones.models import ZONE_STATUSES
from apps.zones.selectors import current_zones


@json_endpoint(allowed_params=("status",))
def zones(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    statuses = params.statuses(ZONE_STATUSES)
    symbol = settings.CONFIG.symbol
    return {"symbol": symbol, "zones": current_zones(symbol, statuses)}
