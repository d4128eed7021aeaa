"""The hot reads: plain GET/HEAD of /api/overlays, /api/book and /api/health, answered from the
process's shared reads (state_cache.py) ahead of Django by `HotReadsFastPath`
(apps/core/framework_bypasses.py, which says why and what it relies on).

A query string, another method, a bad Host or any other path goes to the Django application
unchanged. The answer is the same document, ETag and caching headers the Django view gives.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from apps.book.selectors import health_http_status
from apps.core.framework_bypasses import HotReadsFastPath, HotRoute
from apps.overlays.local_fanout import web_health
from apps.overlays.state_cache import CachedState, book_cache, encode_state, health_cache, state_cache


async def _health(symbol: str) -> CachedState:
    entry = await health_cache.get(symbol)
    status = health_http_status(entry.state, time.time(), settings.CONFIG.health_stale_s)
    return encode_state(
        {**entry.state, "web": web_health(settings.CONFIG.health_details)}, entry.read_at, status
    )


ROUTES: dict[str, HotRoute] = {
    "/api/overlays": state_cache.get,
    "/api/book": book_cache.get,
    "/api/health": _health,
}


def hot_reads_fast_path(app: Any) -> HotReadsFastPath:
    """`app` (Django) behind the hot reads."""
    return HotReadsFastPath(app, dict(ROUTES))
