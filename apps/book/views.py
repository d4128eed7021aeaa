"""GET /api/book and GET /api/health (plain GETs of both are answered ahead of Django, from the
same documents: apps/overlays/fast_path.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.book.selectors import BOOK_LIMIT_CAP, book_document, health_document
from apps.overlays.json_api import json_endpoint
from apps.overlays.local_fanout import web_health
from apps.overlays.query_params import QueryParams


@json_endpoint(["limit"])
def book(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    limit = params.limit(default=BOOK_LIMIT_CAP, cap=BOOK_LIMIT_CAP)
    return book_document(settings.CONFIG.symbol, limit)


@json_endpoint([])
def health(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    return {**health_document(settings.CONFIG.symbol), "web": web_health()}
