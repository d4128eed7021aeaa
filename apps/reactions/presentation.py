"""The chart-ready dict of a reaction, shared by GET /api/reactions and the `reaction` push."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.json_http.decimal_text import decimal_text
from apps.reactions.domain.reaction import Reaction, duration_label


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def reaction_overlay(r: Reaction) -> dict[str, Any]:
    steps = ["touch", *(duration_label(offset) for offset in r.offsets_ms)]
    return {
        "id": r.id,
        "kind": "reaction",
        "block_id": r.block.id,
        "symbol": r.symbol,
        "direction": str(r.block.direction),
        "price_low": decimal_text(r.block.price_low),
        "price_high": decimal_text(r.block.price_high),
        "atr14": decimal_text(r.block.atr14),
        "range_low": decimal_text(r.range_low),
        "range_high": decimal_text(r.range_high),
        "touch_ts_ms": r.touch_ts_ms,
        "touch_time": r.touch_ts_ms // 1000,
        "touch_price": decimal_text(r.touch_price),
        "backed": r.backing.backed,
        "backing": {
            "zone_ids": list(r.backing.zone_ids),
            "score": None if r.backing.score is None else round(r.backing.score, 4),
        },
        "liquidity": [
            {
                "at": step,
                "at_ms": None if s is None else s.at_ms,
                "taken_ms": None if s is None else s.taken_ms,
                "qty": None if s is None else _text(s.qty),
                "notional": None if s is None else _text(s.notional),
                "note": "" if s is None else s.note,
            }
            for step, s in zip(steps, r.snapshots, strict=True)
        ],
        "zones": [
            {
                "id": z.zone_id,
                "price_low": decimal_text(z.price_low),
                "price_high": decimal_text(z.price_high),
                "first_status": z.first_status,
                "event": str(z.event),
                "ts_ms": z.ts_ms,
            }
            for z in r.zones
        ],
        "extreme_price": decimal_text(r.extreme_price),
        "moved_away_ts_ms": r.moved_away_ts_ms,
        "invalidated_ts_ms": r.invalidated_ts_ms,
        "outcomes": {
            duration_label(h): None if o is None else str(o)
            for h, o in zip(r.horizons_ms, r.outcomes, strict=True)
        },
        "state": str(r.state),
        "reason": r.reason,
        "notes": list(r.notes),
    }
