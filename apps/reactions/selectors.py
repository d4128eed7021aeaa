"""Reads of reactions for the API: the list over a touch-time range, and the statistics."""

from __future__ import annotations

from typing import Any

from apps.reactions.domain.reaction import OUTCOME_HORIZONS_MS, duration_label
from apps.reactions.domain.stats import StatRow, reaction_stats
from apps.reactions.models import OrderBlockReaction
from apps.reactions.presentation import reaction_overlay
from apps.reactions.services.store import reaction_of


def _touched_between(symbol: str, from_ms: int | None, to_ms: int | None) -> Any:
    rows = OrderBlockReaction.objects.filter(symbol=symbol)
    if from_ms is not None:
        rows = rows.filter(touch_ts_ms__gte=from_ms)
    if to_ms is not None:
        rows = rows.filter(touch_ts_ms__lte=to_ms)
    return rows


def reactions_between(
    symbol: str, from_ms: int | None, to_ms: int | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Reactions touched in [from, to], oldest touch first: the last ``limit`` of them, and whether
    more were left out."""
    picked = list(_touched_between(symbol, from_ms, to_ms).order_by("-touch_ts_ms", "-id")[: limit + 1])
    return [reaction_overlay(reaction_of(row)) for row in reversed(picked[:limit])], len(picked) > limit


def stats_between(symbol: str, from_ms: int | None, to_ms: int | None) -> dict[str, Any]:
    rows = _touched_between(symbol, from_ms, to_ms).values_list(
        "direction", "backed", "state", "horizons_ms", "outcomes"
    )
    stat_rows = [
        StatRow(direction, backed, state, list(zip(horizons, outcomes, strict=True)))
        for direction, backed, state, horizons, outcomes in rows.iterator(chunk_size=2000)
    ]
    return reaction_stats(stat_rows, duration_label, always=OUTCOME_HORIZONS_MS)
