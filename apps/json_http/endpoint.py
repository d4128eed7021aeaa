"""The edge shared by every JSON endpoint: GET only, query validation -> 400, caching headers.

Responses carry ``Cache-Control: no-cache`` so a polling client always revalidates; the
ConditionalGetMiddleware (project settings) adds a content ETag and answers ``If-None-Match``
with 304 when nothing changed. Errors are never cached.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.json_http.query_params import QueryParamError, QueryParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedJson:
    """A document a handler has already encoded (JSON bytes), e.g. one assembled from cached parts;
    with its ETag when the handler knows it cheaper than hashing the body, and its parts deflated
    (apps/json_http/compression.py) when it is worth compressing."""

    body: bytes
    etag: str | None = None
    gzip_pieces: tuple[bytes, ...] | None = None


# a handler answers its document, or its document and an HTTP status (e.g. /api/health's 503)
ApiHandler = Callable[[HttpRequest, QueryParams], dict[str, Any] | tuple[dict[str, Any], int] | EncodedJson]


def json_ok(payload: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(
        payload, status=status, encoder=DjangoJSONEncoder, json_dumps_params={"separators": (",", ":")}
    )
    response["Cache-Control"] = "no-cache"
    return response


def json_encoded(document: EncodedJson) -> HttpResponse:
    response = HttpResponse(document.body, content_type="application/json")
    response["Cache-Control"] = "no-cache"
    if document.etag is not None:
        response["ETag"] = document.etag
    if document.gzip_pieces is not None:
        response.gzip_pieces = document.gzip_pieces  # type: ignore[attr-defined]
    return response


def json_error(status: int, payload: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(payload, status=status)
    response["Cache-Control"] = "no-store"
    return response


def json_endpoint(
    allowed_params: Iterable[str],
) -> Callable[[ApiHandler], Callable[[HttpRequest], HttpResponse]]:
    """Wrap a handler ``(request, params) -> dict`` into a GET/HEAD JSON view.

    Bad query parameters become HTTP 400 ``{"error","parameter","detail"}``; other methods 405.
    """
    allowed = tuple(allowed_params)

    def decorate(handler: ApiHandler) -> Callable[[HttpRequest], HttpResponse]:
        @functools.wraps(handler)
        def view(request: HttpRequest) -> HttpResponse:
            if request.method not in ("GET", "HEAD"):
                response = json_error(
                    405,
                    {"error": "method_not_allowed", "detail": f"{request.method} is not supported; use GET"},
                )
                response["Allow"] = "GET, HEAD"
                return response
            try:
                params = QueryParams({k: request.GET.getlist(k) for k in request.GET}, allowed)
                payload = handler(request, params)
            except QueryParamError as exc:
                log.info("rejected %s reason=%s", request.path, exc)
                return json_error(400, exc.as_json())
            if isinstance(payload, tuple):
                return json_ok(*payload)
            if isinstance(payload, EncodedJson):
                return json_encoded(payload)
            return json_ok(payload)

        return view

    return decorate
