"""The OpenAPI 3 document served at GET /api/schema. Pure data: built from a few settings.

It describes every HTTP endpoint of the service, including /api/book and /api/health
(served by apps.book), so integrators and the schema-driven fuzz test see one contract.
"""

from __future__ import annotations

from typing import Any

from apps.alerts.openapi import alert_paths, alert_schemas
from apps.confluence.openapi import confluence_schemas, order_block_confluence_properties
from apps.json_http.openapi_params import time_param
from apps.orderblocks.domain.timeframes import DEFAULT_TIMEFRAME, TIMEFRAMES
from apps.orderblocks.models import OB_STATUSES
from apps.overlays.openapi_liquidity import liquidity_paths, liquidity_schemas
from apps.reactions.openapi import reaction_paths, reaction_schemas
from apps.zones.models import ZONE_STATUSES

STREAM_STATUSES = ("live", "connecting", "syncing", "resyncing", "backoff", "stale")
BOOK_MAX_LIMIT = 100


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _decimal(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": description}


def _limit_param(default: int, cap: int, description: str) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"{description} Above {cap} is rejected with 400.",
        "schema": {"type": "integer", "minimum": 1, "maximum": cap, "default": min(default, cap)},
    }


def _status_param(statuses: tuple[str, ...], what: str) -> dict[str, Any]:
    return {
        "name": "status",
        "in": "query",
        "required": False,
        "description": f"Only {what} in these statuses: one of {', '.join(statuses)}, or several separated by commas.",
        "schema": {"type": "string", "pattern": rf"^({'|'.join(statuses)})(,({'|'.join(statuses)}))*$"},
        "examples": {s: {"value": s} for s in statuses},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": {
                "schema": {"type": "string"},
                "description": "Content tag; send it back as If-None-Match.",
            },
            "Cache-Control": {"schema": {"type": "string"}, "description": "no-cache: always revalidate."},
        },
        "content": {"application/json": {"schema": schema}},
    }


RANGE_NOTE = "Times are UTC seconds, inclusive; from after to is rejected with 400."

_BAD_REQUEST = {
    "description": "A query parameter is invalid; the body names it.",
    "content": {"application/json": {"schema": _ref("Error")}},
}
_NOT_MODIFIED = {"description": "Nothing changed since the ETag sent in If-None-Match."}


def _get(summary: str, description: str, params: list[dict[str, Any]], ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": description,
            "parameters": params,
            "responses": {"200": ok, "304": _NOT_MODIFIED, "400": _BAD_REQUEST},
        }
    }


_NULLABLE_INT = {"type": ["integer", "null"]}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "examples": ["bad_parameter"]},
        "parameter": {"type": "string", "description": "The offending query parameter."},
        "detail": {"type": "string"},
    },
}

CANDLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["time", "open", "high", "low", "close", "volume", "closed"],
    "properties": {
        "time": {"type": "integer", "description": "Open time, UTC seconds (Lightweight Charts time)."},
        "open": {"type": "number"},
        "high": {"type": "number"},
        "low": {"type": "number"},
        "close": {"type": "number"},
        "volume": {"type": "number"},
        "closed": {"type": "boolean"},
        "hours": {
            "type": "integer",
            "minimum": 1,
            "maximum": 24,
            "description": "4h and 1d only: how many 1h candles the candle is made of (4 or 24 when "
            "complete; fewer while it is open or at a gap in the 1h history).",
        },
        "tf": {
            "type": "string",
            "enum": list(TIMEFRAMES),
            "description": "Pushed candles (the WebSocket `candle` delta) only: their timeframe.",
        },
    },
}


def _order_block_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A chart-ready box. time_to null: still valid, extends to now. `liquidity`: the "
        "resting liquidity inside it.",
        "required": [
            "id",
            "kind",
            "direction",
            "status",
            "price_low",
            "price_high",
            "time_from",
            "time_to",
            "liquidity",
            "backed",
        ],
        "properties": {
            "id": {"type": "string", "examples": ["BTCEUR:bullish:1700000000000"]},
            "kind": {"type": "string", "enum": ["orderblock"]},
            "symbol": {"type": "string"},
            "direction": {"type": "string", "enum": ["bullish", "bearish"]},
            "status": {"type": "string", "enum": [str(s) for s in OB_STATUSES]},
            "price_low": _decimal("Box bottom."),
            "price_high": _decimal("Box top."),
            "atr14": _decimal("ATR(14) at the order-block bar."),
            "bos_level": _decimal("The swing level whose break confirmed the block."),
            "created_ts_ms": {"type": "integer"},
            "valid_from_ts_ms": {"type": "integer"},
            "valid_to_ts_ms": _NULLABLE_INT,
            "bos_ts_ms": {"type": "integer"},
            "touched_ts_ms": _NULLABLE_INT,
            "time_from": {"type": "integer", "description": "UTC seconds: open time of the order-block bar."},
            "time_to": {
                **_NULLABLE_INT,
                "description": "UTC seconds of invalidation; null = extends to now.",
            },
            **order_block_confluence_properties(),
        },
    }


def _zone_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A chart-ready liquidity band. time_to null: still live, extends to now.",
        "required": [
            "id",
            "kind",
            "side",
            "status",
            "price_low",
            "price_high",
            "notional",
            "strength",
            "time_from",
            "time_to",
        ],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["zone"]},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": ["bid", "ask"]},
            "status": {"type": "string", "enum": [str(s) for s in ZONE_STATUSES]},
            "price_low": _decimal("Band bottom."),
            "price_high": _decimal("Band top."),
            "notional": _decimal("Sum of qty*price of the wall bins, quote currency."),
            "strength": {"type": "number", "description": "Notional-weighted wall score (x baseline)."},
            "persistence_s": {"type": "number"},
            "first_seen_ts_ms": {"type": "integer"},
            "last_seen_ts_ms": {"type": "integer"},
            "ts_ms": {"type": "integer"},
            "book_update_id": {"type": "integer"},
            "time_from": {"type": "integer", "description": "UTC seconds of first sight."},
            "time_to": {**_NULLABLE_INT, "description": "UTC seconds last seen (broken/pulled); null = now."},
        },
    }


def _metric_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["time", "ts_ms", "best_bid", "best_ask", "spread", "mid", "imbalance_topn", "update_id"],
        "properties": {
            "time": {"type": "integer", "description": "UTC seconds."},
            "ts_ms": {"type": "integer"},
            "symbol": {"type": "string"},
            "best_bid": _decimal("Best bid price."),
            "best_ask": _decimal("Best ask price."),
            "spread": _decimal("best_ask - best_bid."),
            "mid": _decimal("(best_bid + best_ask) / 2."),
            "imbalance_topn": {
                "type": "number",
                "description": "Bid/ask quantity imbalance in the top N levels.",
            },
            "update_id": {"type": "integer"},
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "Error": ERROR_SCHEMA,
        "Candle": CANDLE_SCHEMA,
        "OrderBlock": _order_block_schema(),
        "Zone": _zone_schema(),
        "Metric": _metric_schema(),
        "StreamStatus": {
            "type": "object",
            "required": ["status"],
            "additionalProperties": True,
            "properties": {"status": {"type": "string", "enum": list(STREAM_STATUSES)}},
            "description": "Stream state plus counters (reconnects, resyncs, gaps, ...).",
        },
        "Level": {
            "type": "array",
            "prefixItems": [_decimal("Price."), _decimal("Quantity.")],
            "minItems": 2,
            "maxItems": 2,
        },
        **liquidity_schemas(),
        **confluence_schemas(),
        **reaction_schemas(),
        **alert_schemas(),
    }


def _candle_paths(api_max_limit: int) -> dict[str, Any]:
    """Candles."""
    return {
        "/api/candles": _get(
            "Candles of a chart timeframe",
            "Candles oldest first: 5m and 15m from their own tables (kept CANDLE_RETENTION_D_INTRADAY "
            "days), 1h from the order blocks' table, 4h and 1d aggregated from the 1h table in "
            "UTC-aligned buckets (00:00, 04:00, ... UTC; 00:00 UTC) and selected by their start time. "
            "5m, 15m and 1h answer closed candles only (the open one comes by push); the newest 4h/1d "
            f"bucket is the open candle (`closed` false) until all its hours are stored. {RANGE_NOTE} "
            "Without from: the last `limit` candles up to `to`.",
            [
                {
                    "name": "tf",
                    "in": "query",
                    "required": False,
                    "description": "Timeframe. Anything else is rejected with 400 naming `tf`.",
                    "schema": {"type": "string", "enum": list(TIMEFRAMES), "default": DEFAULT_TIMEFRAME},
                },
                time_param("from", "First open time."),
                time_param("to", "Last open time."),
                _limit_param(1000, api_max_limit, "Maximum candles."),
            ],
            _json(
                {
                    "type": "object",
                    "required": ["symbol", "interval", "candles"],
                    "properties": {
                        "symbol": {"type": "string"},
                        "interval": {
                            "type": "string",
                            "enum": list(TIMEFRAMES),
                            "description": "The timeframe asked for.",
                        },
                        "candles": {"type": "array", "items": _ref("Candle")},
                    },
                },
                "Candles.",
            ),
        ),
    }


def _feature_paths(api_max_limit: int) -> dict[str, Any]:
    """Order blocks and zones."""
    return {
        "/api/orderblocks": _get(
            "Order blocks",
            f"Order blocks whose life overlaps [from, to], each with the liquidity inside it as last "
            f"pushed (`liquidity`, `backed`). {RANGE_NOTE}",
            [
                _status_param(OB_STATUSES, "blocks"),
                time_param("from", "Range start."),
                time_param("to", "Range end."),
                _limit_param(1000, api_max_limit, "Maximum blocks (most recent)."),
            ],
            _json(
                {
                    "type": "object",
                    "required": ["symbol", "orderblocks"],
                    "properties": {
                        "symbol": {"type": "string"},
                        "orderblocks": {"type": "array", "items": _ref("OrderBlock")},
                    },
                },
                "Order-block boxes.",
            ),
        ),
        "/api/zones": _get(
            "Liquidity zones",
            "The current liquidity zones (candidates, confirmed, and broken/pulled ones lingering).",
            [_status_param(ZONE_STATUSES, "zones")],
            _json(
                {
                    "type": "object",
                    "required": ["symbol", "zones"],
                    "properties": {
                        "symbol": {"type": "string"},
                        "zones": {"type": "array", "items": _ref("Zone")},
                    },
                },
                "Zones.",
            ),
        ),
    }


def _edge_paths(api_max_limit: int) -> dict[str, Any]:
    """What the chart page reads: overlays and metrics."""
    return {
        "/api/overlays": _get(
            "Everything the chart overlays, in one response",
            "Zones + order blocks (with the liquidity inside them) + whether that liquidity is computed + "
            "latest metrics + stream status + depth profile; poll every 2-5 s with If-None-Match.",
            [],
            _json(
                {
                    "type": "object",
                    "required": [
                        "symbol",
                        "zones",
                        "orderblocks",
                        "confluence",
                        "metrics",
                        "status",
                        "depth",
                    ],
                    "properties": {
                        "symbol": {"type": "string"},
                        "zones": {"type": "array", "items": _ref("Zone")},
                        "orderblocks": {"type": "array", "items": _ref("OrderBlock")},
                        "confluence": {
                            "oneOf": [_ref("ConfluenceState"), {"type": "null"}],
                            "description": "Whether the liquidity inside the blocks is computed, and why "
                            "not; null before the streamer's first cycle.",
                        },
                        "metrics": {"oneOf": [_ref("Metric"), {"type": "null"}]},
                        "status": _ref("StreamStatus"),
                        "depth": {"oneOf": [_ref("Depth"), {"type": "null"}]},
                    },
                },
                "Overlay state.",
            ),
        ),
        "/api/metrics": _get(
            "Order-book metrics",
            f"One row per publication cycle (best bid/ask, spread, mid, imbalance). {RANGE_NOTE}",
            [
                time_param("from", "Range start."),
                time_param("to", "Range end."),
                _limit_param(3600, api_max_limit, "Maximum rows."),
            ],
            _json(
                {
                    "type": "object",
                    "required": ["symbol", "metrics"],
                    "properties": {
                        "symbol": {"type": "string"},
                        "metrics": {"type": "array", "items": _ref("Metric")},
                    },
                },
                "Metrics.",
            ),
        ),
    }


def _book_paths(api_max_limit: int) -> dict[str, Any]:
    """The book."""
    return {
        "/api/book": _get(
            "The published order book",
            "The latest published top-N book (decimal strings), best price first.",
            [
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "Levels per side, 1..100.",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": BOOK_MAX_LIMIT,
                        "default": BOOK_MAX_LIMIT,
                    },
                }
            ],
            _json(
                {
                    "type": "object",
                    "required": ["symbol", "update_id", "ts_ms", "status", "bids", "asks"],
                    "properties": {
                        "symbol": {"type": "string"},
                        "update_id": {"type": ["integer", "null"]},
                        "ts_ms": {"type": ["integer", "null"]},
                        "status": {"type": "string", "enum": list(STREAM_STATUSES)},
                        "bids": {"type": "array", "items": _ref("Level")},
                        "asks": {"type": "array", "items": _ref("Level")},
                    },
                },
                "Order book.",
            ),
        ),
    }


def _health_paths(api_max_limit: int) -> dict[str, Any]:
    """Health and this document."""
    return {
        "/api/health": _health_path(),
        "/api/schema": {
            "get": {
                "summary": "This OpenAPI document",
                "parameters": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 JSON.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


_DATABASE_HEALTH = {
    "type": "object",
    "required": ["ok", "error"],
    "properties": {"ok": {"type": "boolean"}, "error": {"type": ["string", "null"]}},
    "description": "Whether the database can be read (and its SQLite file is still there).",
}


def _health_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["symbol", "status", "ok", "since", "last_error", "stream"],
        "additionalProperties": True,
        "properties": {
            "symbol": {"type": "string"},
            "status": {"type": "string", "enum": [*STREAM_STATUSES, "unknown"]},
            "ok": {
                "type": "boolean",
                "description": "The book is live and its publications reach the database.",
            },
            "publishing": {
                "type": "boolean",
                "description": "Fewer than HEALTH_MAX_MISSED_PUBLICATIONS publications in a row are missing.",
            },
            "missed_publications": {
                "type": ["integer", "null"],
                "description": "Publication cycles missing since the last one written (a failing database "
                "or a stopped streamer); null when the database cannot be read.",
            },
            "database": _DATABASE_HEALTH,
            "since": {
                "type": ["number", "null"],
                "description": "UTC seconds: when the current status began (null before the first publication).",
            },
            "last_error": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["text", "time"],
                        "properties": {"text": {"type": "string"}, "time": {"type": "number"}},
                    },
                ],
                "description": "The last connection or snapshot error and its time (UTC seconds).",
            },
            "stream": {
                "type": "object",
                "additionalProperties": True,
                "description": "The streamer's counters as of its last publication; `storage` holds "
                "failed_publications, failed_in_a_row and last_error (the last database error); "
                "`recording` (with RECORD_DIR) lines_written, lines_dropped, queued, bytes_written, "
                "write_errors, last_error and the file; `replay` (under `serve --replay`) where the "
                "replay is.",
            },
            "web": {
                "type": "object",
                "additionalProperties": True,
                "description": "The web process that answered: its overlay "
                "fan-out counters (subscribers, received, delivered, "
                "subscriber_errors, receive_errors, joins), and its pid with HEALTH_DETAILS=1.",
            },
            "simulator_url": {
                "type": "string",
                "description": "Only under `serve --simulator` with HEALTH_DETAILS=1: the bundled "
                "simulator's control URL.",
            },
        },
    }


def _health_path() -> dict[str, Any]:
    document = _health_schema()
    path = _get(
        "Stream health",
        "Stream status and counters. 503 (same body) once the book has not been live for longer "
        "than HEALTH_STALE_S, and at once when the database cannot be read or "
        "HEALTH_MAX_MISSED_PUBLICATIONS publications in a row are missing; for load balancers "
        "and uptime monitors.",
        [],
        _json(document, "Health: the book is live, or has been down for less than HEALTH_STALE_S."),
    )
    path["get"]["responses"]["503"] = _json(
        document,
        "The book has not been live for longer than HEALTH_STALE_S, the database fails, or "
        "publications stopped reaching it.",
    )
    return path


def openapi_document(symbol: str, api_max_limit: int, heatmap_column_s: int = 60) -> dict[str, Any]:
    """The full OpenAPI 3.1 document for this deployment's symbol, limit cap and heatmap column."""
    liquidity = {
        path: _get(spec["summary"], spec["description"], spec["parameters"], _json(*spec["ok"]))
        for path, spec in {
            **liquidity_paths(heatmap_column_s),
            **reaction_paths(),
            **alert_paths(api_max_limit),
        }.items()
    }
    paths: dict[str, Any] = {
        **_candle_paths(api_max_limit),
        **_feature_paths(api_max_limit),
        **liquidity,
        **_edge_paths(api_max_limit),
        **_book_paths(api_max_limit),
        **_health_paths(api_max_limit),
    }
    for spec in paths.values():
        spec["get"]["operationId"] = spec["get"]["summary"].split(",")[0].lower().replace(" ", "_")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"Liquidity map API ({symbol})",
            "version": "1.0.0",
            "description": (
                "Live liquidity zones from the Binance L2 book and 1h order blocks for one spot symbol. "
                "Push: WebSocket /ws/overlays (snapshot, then deltas with epoch+seq; an alert as it "
                "fires is delta kind 'alert', schema AlertPush; the `data` of a `confluence` delta is "
                "the ConfluenceDelta schema). "
                "Every bad query parameter returns 400 with a JSON body naming it; every other error "
                'under /api/ is JSON too ({"error","detail"}), a request body over '
                "MAX_REQUEST_BODY bytes 413."
            ),
        },
        "paths": paths,
        "components": {"schemas": _schemas()},
    }
