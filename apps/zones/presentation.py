"""Chart-ready dicts for zones, shared by the REST API and the push deltas."""

from __future__ import annotations

from typing import Any

from apps.json_http.decimal_text import decimal_text

LIVE_ZONE_STATUSES = ("candidate", "confirmed")


def zone_overlay(zone: Any) -> dict[str, Any]:
    """`zone` is a ZoneCurrent row or any object with the same attribute names."""
    ended = zone.status not in LIVE_ZONE_STATUSES
    return {
        "id": zone.id,
        "kind": "zone",
        "symbol": zone.symbol,
        "side": zone.side,
        "status": zone.status,
        "price_low": decimal_text(zone.price_low),
        "price_high": decimal_text(zone.price_high),
        "notional": decimal_text(zone.notional),
        "strength": round(float(zone.strength), 4),
        "persistence_s": round(float(zone.persistence_s), 3),
        "first_seen_ts_ms": zone.first_seen_ts_ms,
        "last_seen_ts_ms": zone.last_seen_ts_ms,
        "ts_ms": zone.ts_ms,
        "book_update_id": zone.book_update_id,
        "time_from": zone.first_seen_ts_ms // 1000,
        "time_to": zone.last_seen_ts_ms // 1000 if ended else None,
    }


def ended_zone_overlay(zone: Any) -> dict[str, Any]:
    """A zone that ended, once: its life (first seen .. ended), range, peaks and how it ended.
    `zone` is a ZoneEnded row or any object with the same attribute names."""
    return {
        "id": zone.zone_id,
        "kind": "zone",
        "symbol": zone.symbol,
        "side": zone.side,
        "status": zone.status,
        "end_reason": zone.end_reason,
        "price_low": decimal_text(zone.price_low),
        "price_high": decimal_text(zone.price_high),
        "peak_notional": decimal_text(zone.peak_notional),
        "peak_strength": round(float(zone.peak_strength), 4),
        "first_seen_ts_ms": zone.first_seen_ts_ms,
        "last_seen_ts_ms": zone.last_seen_ts_ms,
        "ended_ts_ms": zone.ended_ts_ms,
        "time_from": zone.first_seen_ts_ms // 1000,
        "time_to": zone.ended_ts_ms // 1000,
    }
