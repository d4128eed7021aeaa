"""The OpenAPI parts of alerts: GET /api/alerts, the Alert schema and the `alert` push message.
Pure data, merged into the document by apps/overlays/openapi.py."""

from __future__ import annotations

from typing import Any

from apps.alerts.domain.alert import Rule
from apps.alerts.domain.delivery import Delivery
from apps.alerts.views import DEFAULT_LIMIT
from apps.json_http.openapi_params import time_param

_NULLABLE_INT = {"type": ["integer", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _delivery_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["state", "attempts", "last_error"],
        "properties": {
            "state": {
                "type": "string",
                "enum": [str(d) for d in Delivery],
                "description": "off: no ALERT_WEBHOOK_URL; pending: not tried yet; retrying: the last "
                "attempt failed (last_error), another is scheduled; delivered; given_up: after "
                "ALERT_WEBHOOK_MAX_ATTEMPTS attempts, a refusal (4xx), or not delivered within 1 h.",
            },
            "attempts": {"type": "integer", "minimum": 0},
            "last_error": {"type": ["string", "null"]},
            "delivered_ts_ms": _NULLABLE_INT,
        },
    }


def alert_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One alert that fired: GET /api/alerts and the data of push kind 'alert'.",
        "required": ["key", "symbol", "rule", "object_id", "ts_ms", "time", "title", "text", "details"],
        "properties": {
            "key": {
                "type": "string",
                "pattern": "^[0-9a-f]{32}$",
                "description": "Unique per alert; the webhook's Idempotency-Key.",
            },
            "symbol": {"type": "string"},
            "rule": {"type": "string", "enum": [str(r) for r in Rule]},
            "object_id": {
                "type": "string",
                "description": "What it is about: an order-block id, a zone id, or 'book'.",
            },
            "ts_ms": {"type": "integer", "description": "When the event happened (UTC ms)."},
            "time": {"type": "integer", "description": "ts_ms in UTC seconds."},
            "title": {"type": "string"},
            "text": {"type": "string", "description": "One line for a person (also the webhook's text)."},
            "details": {
                "type": "object",
                "additionalProperties": True,
                "description": "The rule's structured facts: zone, blocks, price, mid, distance_pct, "
                "reason, status, outage_s, ... (decimals as strings).",
            },
            "delivery": _delivery_schema(),
        },
    }


def alert_push_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "WebSocket /ws/overlays delta of kind 'alert': one alert as it fired.",
        "required": ["type", "epoch", "seq", "kind", "data"],
        "properties": {
            "type": {"const": "delta"},
            "epoch": {"type": "string"},
            "seq": {"type": "integer"},
            "kind": {"const": "alert"},
            "data": _ref("Alert"),
        },
    }


def alert_schemas() -> dict[str, Any]:
    return {"Alert": alert_schema(), "AlertPush": alert_push_schema()}


def alert_paths(api_max_limit: int) -> dict[str, dict[str, Any]]:
    """{path: {summary, description, parameters, ok: (schema, description)}}, for openapi._get."""
    limit = {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"Maximum alerts (the most recent). Above {api_max_limit} is rejected with 400.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": api_max_limit,
            "default": min(DEFAULT_LIMIT, api_max_limit),
        },
    }
    answer = {
        "type": "object",
        "required": ["symbol", "alerts", "truncated", "webhook"],
        "properties": {
            "symbol": {"type": "string"},
            "alerts": {"type": "array", "items": _ref("Alert")},
            "truncated": {"type": "boolean", "description": "Older alerts in the range were left out."},
            "webhook": {"type": "boolean", "description": "ALERT_WEBHOOK_URL is set."},
        },
    }
    return {
        "/api/alerts": {
            "summary": "Alerts",
            "description": "The alerts that fired (kept ALERT_RETENTION_D days), oldest first, each with "
            "its webhook delivery. The same alerts are pushed as they fire (WebSocket delta kind "
            "'alert', schema AlertPush). Times are UTC seconds, inclusive; from after to is "
            "rejected with 400.",
            "parameters": [
                time_param("from", "Alerts at or after this time."),
                time_param("to", "Alerts at or before this time."),
                limit,
            ],
            "ok": (answer, "Alerts, oldest first."),
        }
    }
