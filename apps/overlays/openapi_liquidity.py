"""The OpenAPI parts of the liquidity memory (issue 16): GET /api/heatmap, GET /api/zones/history and
the depth profile of the overlay state. Pure data, merged into the document by openapi.py."""

from __future__ import annotations

from typing import Any

from apps.heatmap.views import MAX_ANSWER_COLUMNS, MAX_RESOLUTION_S
from apps.json_http.openapi_params import time_param
from apps.zones.models import ENDED_ZONE_STATUSES

_DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
RANGE_NOTE = "Times are UTC seconds, inclusive; from after to is rejected with 400."


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _decimal(description: str, nullable: bool = False) -> dict[str, Any]:
    kind: Any = ["string", "null"] if nullable else "string"
    return {"type": kind, "pattern": _DECIMAL_PATTERN, "description": description}


def _quantities(description: str, nullable: bool) -> dict[str, Any]:
    item: Any = ["number", "null"] if nullable else "number"
    return {"type": "array", "items": {"type": item}, "description": description}


def heatmap_column_schema() -> dict[str, Any]:
    absent = "; null = a bin the column did not observe (outside the band or the trusted window), never 0"
    return {
        "type": "object",
        "description": "One column of the heatmap: the book's resting quantity per price bin over "
        "resolution_s seconds starting at t.",
        "required": ["t", "live_cycles", "bid_from", "bid_qty", "bid_max", "ask_from", "ask_qty", "ask_max"],
        "properties": {
            "t": {
                "type": "integer",
                "description": "UTC seconds: the column's start, a multiple of resolution_s.",
            },
            "live_cycles": {
                "type": "integer",
                "minimum": 1,
                "description": "Publication cycles with a live book in the column (the weight of its means).",
            },
            "bid_from": _decimal("Lower edge of the lowest bid bin (null: no bid bin).", nullable=True),
            "bid_qty": _quantities(
                f"Time-weighted mean resting bid quantity per bin, ascending{absent}.", True
            ),
            "bid_max": _quantities(f"Largest bid quantity seen per bin{absent}.", True),
            "ask_from": _decimal("Lower edge of the lowest ask bin (null: no ask bin).", nullable=True),
            "ask_qty": _quantities(
                f"Time-weighted mean resting ask quantity per bin, ascending{absent}.", True
            ),
            "ask_max": _quantities(f"Largest ask quantity seen per bin{absent}.", True),
        },
    }


def heatmap_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["symbol", "bin_size", "resolution_s", "columns"],
        "properties": {
            "symbol": {"type": "string"},
            "bin_size": _decimal("Bin width in quote currency: bin k covers [k*bin_size, (k+1)*bin_size)."),
            "resolution_s": {"type": "integer", "description": "Seconds per column."},
            "columns": {"type": "array", "items": _ref("HeatmapColumn")},
        },
    }


def depth_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The depth profile: the last cycle's book on the heatmap grid (push kind 'depth').",
        "required": ["ts_ms", "time", "live", "bin_size", "bid_from", "bid_qty", "ask_from", "ask_qty"],
        "properties": {
            "ts_ms": {"type": "integer"},
            "time": {"type": "integer", "description": "UTC seconds."},
            "live": {
                "type": "boolean",
                "description": "false: the last live profile, the book is not live now.",
            },
            "bin_size": _decimal("Bin width in quote currency."),
            "bid_from": _decimal("Lower edge of the lowest bid bin (null: no bid bin).", nullable=True),
            "bid_qty": _quantities("Resting bid quantity per bin, ascending price.", False),
            "ask_from": _decimal("Lower edge of the lowest ask bin (null: no ask bin).", nullable=True),
            "ask_qty": _quantities("Resting ask quantity per bin, ascending price.", False),
        },
    }


def ended_zone_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A zone that ended, once: first seen .. ended at its final range.",
        "required": [
            "id",
            "side",
            "status",
            "price_low",
            "price_high",
            "time_from",
            "time_to",
            "ended_ts_ms",
        ],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["zone"]},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["bid", "ask"]},
            "status": {"type": "string", "enum": list(ENDED_ZONE_STATUSES), "description": "How it ended."},
            "end_reason": {"type": "string", "description": "Why, as the tracker logged it."},
            "price_low": _decimal("Band bottom when it ended."),
            "price_high": _decimal("Band top when it ended."),
            "peak_notional": _decimal("Largest notional it had, quote currency."),
            "peak_strength": {"type": "number", "description": "Largest strength it had."},
            "first_seen_ts_ms": {"type": "integer"},
            "last_seen_ts_ms": {"type": "integer"},
            "ended_ts_ms": {"type": "integer"},
            "time_from": {"type": "integer", "description": "UTC seconds of first sight."},
            "time_to": {"type": "integer", "description": "UTC seconds of its end."},
        },
    }


def liquidity_schemas() -> dict[str, Any]:
    return {
        "HeatmapColumn": heatmap_column_schema(),
        "Heatmap": heatmap_schema(),
        "Depth": depth_schema(),
        "EndedZone": ended_zone_schema(),
    }


def _heatmap_path(column_s: int) -> dict[str, Any]:
    top = max(column_s, MAX_RESOLUTION_S - MAX_RESOLUTION_S % column_s)
    return {
        "summary": "Liquidity heatmap",
        "description": "Columns of the book's resting quantity per price bin (bids and asks, +-HEATMAP_RANGE_PCT "
        "around mid, trusted part only), aggregated to `resolution`: per bin the mean of the columns' means "
        "weighted by their live cycles, and the max of their maxima. Without from: the last 24 h. "
        f"{RANGE_NOTE} Without resolution: the smallest usual step that keeps the answer under 2,000 "
        f"columns; an explicit one giving more than {MAX_ANSWER_COLUMNS} columns is rejected with 400. "
        "Answers over 4 kB are gzipped for clients that accept it.",
        "parameters": [
            time_param("from", "First column start."),
            time_param("to", "Last column start."),
            {
                "name": "resolution",
                "in": "query",
                "required": False,
                "description": f"Seconds per column, a multiple of HEATMAP_COLUMN_S ({column_s}).",
                "schema": {"type": "integer", "minimum": column_s, "maximum": top, "multipleOf": column_s},
            },
        ],
        "ok": (_ref("Heatmap"), "Heatmap columns, oldest first."),
    }


def _history_path() -> dict[str, Any]:
    statuses = ENDED_ZONE_STATUSES
    return {
        "summary": "Zone history",
        "description": "Each zone that ended (broken, pulled, merged; not discarded) within the last "
        f"ZONE_HISTORY_H, once, whose life overlaps [from, to]; oldest end first, the most recent "
        f"API_MAX_LIMIT of them (truncated: more were left out). {RANGE_NOTE}",
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "required": False,
                "description": f"Only zones that ended so: one of {', '.join(statuses)}, or several separated by commas.",
                "schema": {
                    "type": "string",
                    "pattern": rf"^({'|'.join(statuses)})(,({'|'.join(statuses)}))*$",
                },
            },
            time_param("from", "Range start."),
            time_param("to", "Range end."),
        ],
        "ok": (
            {
                "type": "object",
                "required": ["symbol", "history_h", "zones", "truncated"],
                "properties": {
                    "symbol": {"type": "string"},
                    "history_h": {"type": "number"},
                    "zones": {"type": "array", "items": _ref("EndedZone")},
                    "truncated": {"type": "boolean"},
                },
            },
            "Ended zones.",
        ),
    }


def liquidity_paths(column_s: int) -> dict[str, dict[str, Any]]:
    """{path: {summary, description, parameters, ok: (schema, description)}}, for openapi._get."""
    return {"/api/heatmap": _heatmap_path(column_s), "/api/zones/history": _history_path()}
