"""OpenAPI descriptions of the query parameters `query_params.QueryParams` reads, shared by every
app that documents an endpoint (each app's openapi module)."""

from __future__ import annotations

from typing import Any

from apps.json_http.query_params import MAX_TIME_S


def time_param(name: str, description: str) -> dict[str, Any]:
    """An optional time in UTC seconds, as `QueryParams.integer(name, minimum=0, maximum=MAX_TIME_S)`
    reads it."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TIME_S},
    }
