"""The OpenAPI parts of order-block reactions (issue 17): GET /api/reactions and GET
/api/reactions/stats, and the `reaction` push. Pure data, merged into the document by
apps/overlays/openapi.py."""

from __future__ import annotations

from typing import Any

from apps.json_http.openapi_params import time_param
from apps.reactions.domain.enums import DECIDED, Outcome, ReactionState, ZoneEvent

_DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
RANGE_NOTE = "Times are UTC seconds, inclusive, on the touch time; from after to is rejected with 400."
_NULLABLE_INT: dict[str, Any] = {"type": ["integer", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _decimal(description: str, nullable: bool = False) -> dict[str, Any]:
    kind: Any = ["string", "null"] if nullable else "string"
    return {"type": kind, "pattern": _DECIMAL_PATTERN, "description": description}


def _range_params() -> list[dict[str, Any]]:
    return [
        time_param("from", "Touches from (UTC seconds)."),
        time_param("to", "Touches up to (UTC seconds)."),
    ]


def _snapshot_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["at", "at_ms", "taken_ms", "qty", "notional", "note"],
        "properties": {
            "at": {"type": "string", "description": "The step: touch, 1m, 5m, 15m."},
            "at_ms": {**_NULLABLE_INT, "description": "When it was due (null: not yet)."},
            "taken_ms": {
                **_NULLABLE_INT,
                "description": "The cycle it was measured in (null: not yet, or missed).",
            },
            "qty": _decimal("Resting quantity on the block's side in the range (null: unknown).", True),
            "notional": _decimal("The same as quote currency (null: unknown).", True),
            "note": {"type": "string", "description": "Why qty is unknown or the snapshot was missed."},
        },
    }


def reaction_schema() -> dict[str, Any]:
    outcome: dict[str, Any] = {"type": ["string", "null"], "enum": [*(str(o) for o in Outcome), None]}
    return {
        "type": "object",
        "description": "What liquidity did when price first entered a fresh order block, and what the "
        "block did after (push kind 'reaction' carries the same object).",
        "required": ["id", "block_id", "direction", "touch_ts_ms", "touch_price", "liquidity", "zones"],
        "properties": {
            "id": {"type": "string", "description": "The block's id (one reaction per block)."},
            "kind": {"type": "string", "enum": ["reaction"]},
            "block_id": {"type": "string"},
            "symbol": {"type": "string"},
            "direction": {"type": "string", "enum": ["bullish", "bearish"]},
            "price_low": _decimal("The block's zone bottom."),
            "price_high": _decimal("The block's zone top."),
            "atr14": _decimal("The block's ATR14: held needs a move this far beyond the zone."),
            "range_low": _decimal("The range measured: the zone widened by CONFLUENCE_PAD_BINS bins."),
            "range_high": _decimal("Range top."),
            "touch_ts_ms": {"type": "integer", "description": "The first trade into the zone."},
            "touch_time": {"type": "integer", "description": "The same in UTC seconds."},
            "touch_price": _decimal("Its price."),
            "backed": {"type": ["boolean", "null"], "description": "Backed at the touch (null: unknown)."},
            "backing": {
                "type": "object",
                "properties": {
                    "zone_ids": {"type": "array", "items": {"type": "string"}},
                    "score": {"type": ["number", "null"]},
                },
            },
            "liquidity": {"type": "array", "items": _snapshot_schema()},
            "zones": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "price_low": _decimal("Zone bottom when first seen."),
                        "price_high": _decimal("Zone top when first seen."),
                        "first_status": {"type": "string"},
                        "event": {"type": "string", "enum": [str(e) for e in ZoneEvent]},
                        "ts_ms": {"type": "integer"},
                    },
                },
            },
            "extreme_price": _decimal("The furthest trade in the block's direction since the touch."),
            "moved_away_ts_ms": {**_NULLABLE_INT, "description": "First trade 1 ATR14 beyond the zone."},
            "invalidated_ts_ms": {
                **_NULLABLE_INT,
                "description": "Close time of the invalidating 1h candle.",
            },
            "outcomes": {
                "type": "object",
                "description": "Per horizon (1h, 4h, 24h): null until decided.",
                "additionalProperties": outcome,
            },
            "state": {"type": "string", "enum": [str(s) for s in ReactionState]},
            "reason": {"type": "string", "description": "Why it was closed as unknown."},
            "notes": {"type": "array", "items": {"type": "string"}},
        },
    }


def _counts_schema() -> dict[str, Any]:
    rates = {f"{o}_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1} for o in DECIDED}
    counts = {str(o): {"type": "integer", "minimum": 0} for o in (*DECIDED, Outcome.UNKNOWN)}
    return {
        "type": "object",
        "required": ["n", *counts, "pending", *rates],
        "properties": {
            "n": {"type": "integer", "minimum": 0, "description": "Sample: held + invalidated + undecided."},
            **counts,
            "pending": {"type": "integer", "minimum": 0},
            **rates,
        },
    }


def stats_schema() -> dict[str, Any]:
    group = {"type": "object", "additionalProperties": _ref("ReactionCounts")}
    return {
        "type": "object",
        "required": ["symbol", "reactions", "states", "horizons"],
        "properties": {
            "symbol": {"type": "string"},
            "from": {"type": ["integer", "null"]},
            "to": {"type": ["integer", "null"]},
            "reactions": {"type": "integer", "minimum": 0},
            "states": {"type": "object", "additionalProperties": {"type": "integer"}},
            "horizons": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["horizon_s", "all", "by_direction", "by_backing"],
                    "properties": {
                        "horizon_s": {"type": "integer"},
                        "all": _ref("ReactionCounts"),
                        "by_direction": group,
                        "by_backing": group,
                    },
                },
            },
        },
    }


def reaction_schemas() -> dict[str, Any]:
    return {
        "Reaction": reaction_schema(),
        "ReactionCounts": _counts_schema(),
        "ReactionStats": stats_schema(),
    }


def reaction_paths() -> dict[str, dict[str, Any]]:
    """{path: {summary, description, parameters, ok: (schema, description)}}, for openapi._get."""
    listing = {
        "type": "object",
        "required": ["symbol", "reactions", "truncated"],
        "properties": {
            "symbol": {"type": "string"},
            "reactions": {"type": "array", "items": _ref("Reaction")},
            "truncated": {"type": "boolean"},
        },
    }
    return {
        "/api/reactions": {
            "summary": "Order-block reactions",
            "description": "Each reaction (a fresh block's first touch while the service was live) touched "
            f"in [from, to], oldest first; the most recent API_MAX_LIMIT (truncated: more were left out). {RANGE_NOTE}",
            "parameters": _range_params(),
            "ok": (listing, "Reactions."),
        },
        "/api/reactions/stats": {
            "summary": "Reaction statistics",
            "description": "Held / invalidated / undecided counts and rates per horizon (1h, 4h, 24h), overall, "
            "by direction and by backed vs not backed at the touch, with the sample sizes n (pending and "
            f"unknown outcomes are counted apart, in no rate). {RANGE_NOTE}",
            "parameters": _range_params(),
            "ok": (_ref("ReactionStats"), "Statistics."),
        },
    }
