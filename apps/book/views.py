"""GET /api/book (a plain GET is answered ahead of Django from the same document:
apps/overlays/fast_path.py). /api/health adds the web process's counters, so it lives in the edge app
(apps/overlays/views.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.book.selectors import BOOK_LIMIT_CAP, book_document
from apps.json_http.endpoint import json_endpoint
from apps.json_http.query_params import QueryParams


@json_endpoint(["limit"])
def book(request: HttpRequest, params: QueryParams) -> dict[str, Any]:
    limit = params.limit(default=BOOK_LIMIT_CAP, cap=BOOK_LIMIT_CAP)
    return book_document(settings.CONFIG.symbol, limit)
