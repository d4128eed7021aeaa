"""Reads of liquidity zones for the API and the push snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.zones.models import ZoneCurrent
from apps.zones.presentation import zone_overlay


def current_zones(symbol: str, statuses: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Zones in orderbook_zones_current as chart-ready dicts, lowest price first."""
    rows = ZoneCurrent.objects.filter(symbol=symbol)
    if statuses is not None:
        rows = rows.filter(status__in=list(statuses))
    return [zone_overlay(zone) for zone in rows.order_by("price_low", "side", "id")]
