"""The OpenAPI parts of order-block confluence (issue 17): the liquidity inside each order block
(``liquidity``/``backed`` of every OrderBlock), whether it is computed (``confluence`` of the overlay
state) and the ``confluence`` push's data. Pure data, merged into the document by apps/overlays/openapi.py."""

from __future__ import annotations

from typing import Any

_DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _decimal(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": _DECIMAL_PATTERN, "description": description}


def liquidity_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The resting liquidity inside an order block's range widened by CONFLUENCE_PAD_BINS "
        "zone bins each way, on the block's side (bids for bullish blocks, asks for bearish ones), as last "
        "pushed: a block is pushed again when a value moved by at least one unit of its second "
        "significant digit, or its zones or `backed` changed.",
        "required": ["side", "price_low", "price_high", "qty", "notional", "score", "zones", "avg_1h"],
        "properties": {
            "side": {"type": "string", "enum": ["bid", "ask"]},
            "price_low": _decimal("Bottom of the measured (padded) range."),
            "price_high": _decimal("Top of the measured (padded) range."),
            "qty": _decimal("Resting quantity in the range, base asset (exact)."),
            "notional": _decimal("Sum of qty*price in the range, quote currency (exact)."),
            "score": {
                "type": ["number", "null"],
                "description": "qty over the median quantity of the same-width windows (shifted by whole "
                "zone bins) inside the analysed band of that side; null when no such window fits.",
            },
            "zones": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Ids of the candidate/confirmed zones of that side overlapping the range.",
            },
            "avg_1h": {
                "type": ["number", "null"],
                "description": "Mean resting quantity of the heatmap bins holding the range over the last "
                "hour of heatmap columns; null where the heatmap has no data.",
            },
        },
    }


def order_block_confluence_properties() -> dict[str, Any]:
    """The two fields every OrderBlock of /api/orderblocks and /api/overlays carries."""
    return {
        "liquidity": {
            "oneOf": [_ref("Liquidity"), {"type": "null"}],
            "description": "null: unknown (the block is invalid, lies outside the analysed band or the "
            "trusted window, or the book is not live), never 0.",
        },
        "backed": {
            "type": "boolean",
            "description": "A confirmed zone overlaps the range, or score >= ZONE_WALL_MULTIPLIER.",
        },
    }


def confluence_state_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["computing", "reason"],
        "properties": {
            "computing": {"type": "boolean"},
            "reason": {
                "type": "string",
                "examples": ["live", "book is resyncing", "no order block is active"],
            },
        },
    }


def confluence_delta_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "`data` of a WebSocket delta of kind `confluence`: the blocks whose confluence "
        "changed beyond the rounding steps, or became unknown (liquidity null), this cycle.",
        "required": ["changed", "state"],
        "properties": {
            "changed": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "liquidity", "backed"],
                    "properties": {
                        "id": {"type": "string", "description": "The order block's id."},
                        **order_block_confluence_properties(),
                    },
                },
            },
            "state": _ref("ConfluenceState"),
        },
    }


def confluence_schemas() -> dict[str, Any]:
    return {
        "Liquidity": liquidity_schema(),
        "ConfluenceState": confluence_state_schema(),
        "ConfluenceDelta": confluence_delta_schema(),
    }
