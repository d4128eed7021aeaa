"""GET /api/alerts?from=&to=&limit= — the alerts that fired, oldest first, with their delivery."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.alerts.selectors import recent_alerts
from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams

DEFAULT_LIMIT = 200


@json_endpoint(allowed_params=("from", "to", "limit"))
def alerts(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    """Alerts whose time lies in [from, to] (UTC seconds; without from: everything kept, which is
    ALERT_RETENTION_D days), the most recent ``limit`` of them; ``truncated`` says older ones matched."""
    config = settings.CONFIG
    span = params.time_range()
    limit = params.limit(default=DEFAULT_LIMIT, cap=config.api_max_limit)
    kept_from_ms = int(time.time() * 1000 - config.alert_retention_d * 86_400_000)
    found, truncated = recent_alerts(config.symbol, max(kept_from_ms, span.from_ms or 0), span.to_ms, limit)
    return {
        "symbol": config.symbol,
        "alerts": found,
        "truncated": truncated,
        "webhook": bool(config.alert_webhook_url),
    }
