"""Every error answer under /api/ is JSON, whoever produced it.

Django's own error answers are HTML: the 404 of an unknown path, the 400 of a bad Host or of too
many query parameters (TooManyFieldsSent), the 500 of an exception (with DEBUG on, a traceback
page). `ApiErrorsAsJson` replaces such an answer under /api/ with `{"error", "detail"}` and the
same status; the traceback, if any, stays in the log. The endpoints' own JSON errors (400 naming
the parameter, 405) pass unchanged.
"""

from __future__ import annotations

from http import HTTPStatus

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from apps.json_http.endpoint import json_error

API_PREFIX = "/api/"
KEPT_HEADERS = ("Allow",)  # what a replaced answer keeps of the original's headers


def error_code(status: int) -> str:
    """The `error` field for an HTTP status: its reason phrase in snake case (404 -> not_found)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace(" ", "_").replace("-", "_")


DETAILS = {
    400: "the request was refused as malformed (e.g. a Host that is not allowed, or over 1000 query parameters)",
    404: "no such endpoint; GET /api/schema lists them",
    500: "the server failed to answer this request; the error is in its log",
}


def error_detail(status: int) -> str:
    """What the `detail` field says for a status that no endpoint explained itself."""
    if status in DETAILS:
        return DETAILS[status]
    return DETAILS[500] if status >= 500 else error_code(status).replace("_", " ")


def is_json(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


class ApiErrorsAsJson(MiddlewareMixin):
    """Turns a non-JSON error answer (status >= 400) under /api/ into a JSON one, same status.
    Sync and async capable (MiddlewareMixin): no thread hop of its own."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code < 400 or is_json(response) or not request.path.startswith(API_PREFIX):
            return response
        status = response.status_code
        replaced = json_error(status, {"error": error_code(status), "detail": error_detail(status)})
        for name in KEPT_HEADERS:
            if name in response:
                replaced[name] = response[name]
        replaced["Content-Length"] = str(len(replaced.content))
        return replaced
