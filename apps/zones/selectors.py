"""Reads of liquidity zones for the API and the push snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.zones.models import ZoneCurrent, ZoneEnded
from apps.zones.presentation import ended_zone_overlay, zone_overlay


def current_zones(symbol: str, statuses: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Zones in orderbook_zones_current as chart-ready dicts, lowest price first."""
    rows = ZoneCurrent.objects.filter(symbol=symbol)
    if statuses is not None:
        rows = rows.filter(status__in=list(statuses))
    return [zone_overlay(zone) for zone in rows.order_by("price_low", "side", "id")]


def ended_zones(
    symbol: str,
    since_ms: int,
    to_ms: int | None,
    statuses: Sequence[str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Zones that ended at or after ``since_ms`` and were first seen by ``to_ms`` (their life overlaps
    [since, to]), oldest end first: the last ``limit`` of them, and whether more were left out."""
    rows = ZoneEnded.objects.filter(symbol=symbol, ended_ts_ms__gte=since_ms)
    if to_ms is not None:
        rows = rows.filter(first_seen_ts_ms__lte=to_ms)
    if statuses is not None:
        rows = rows.filter(status__in=list(statuses))
    picked = list(rows.order_by("-ended_ts_ms", "-id")[: limit + 1])
    return [ended_zone_overlay(row) for row in reversed(picked[:limit])], len(picked) > limit
