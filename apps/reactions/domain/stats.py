"""Reaction statistics: held / invalidated / undecided counts and rates per horizon, overall, by
direction and by backed vs not backed, with their sample sizes. Pure.

A group's sample ``n`` is its reactions with a decided outcome at that horizon (held +
invalidated + undecided); rates are over ``n`` (null when n = 0). Outcomes still to come
(``pending``) and ``unknown`` ones (the service was not running) are counted apart and are in no
rate. Reactions whose backing is unknown are in no backing group (``by_backing.unknown`` counts them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.orderblocks.domain.enums import Direction
from apps.reactions.domain.enums import DECIDED, Outcome, ReactionState

RATE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class StatRow:
    direction: str
    backed: bool | None
    state: str
    outcomes: Sequence[tuple[int, str | None]]  # (horizon ms, outcome or None while pending)


def outcome_counts(outcomes: Iterable[str | None]) -> dict[str, Any]:
    counts = dict.fromkeys([*DECIDED, Outcome.UNKNOWN, "pending"], 0)
    for outcome in outcomes:
        counts["pending" if outcome is None else outcome] += 1
    n = sum(counts[o] for o in DECIDED)
    result: dict[str, Any] = {"n": n, **{str(k): v for k, v in counts.items()}}
    for outcome in DECIDED:
        result[f"{outcome}_rate"] = round(counts[outcome] / n, RATE_DIGITS) if n else None
    return result


def backing_group(backed: bool | None) -> str:
    return "unknown" if backed is None else "backed" if backed else "not_backed"


def horizon_stats(rows: Sequence[StatRow], horizon_ms: int) -> dict[str, Any]:
    def at(row: StatRow) -> str | None:
        return dict(row.outcomes)[horizon_ms]

    having = [row for row in rows if horizon_ms in dict(row.outcomes)]
    return {
        "all": outcome_counts(at(row) for row in having),
        "by_direction": {
            str(d): outcome_counts(at(row) for row in having if row.direction == d) for d in Direction
        },
        "by_backing": {
            group: outcome_counts(at(row) for row in having if backing_group(row.backed) == group)
            for group in ("backed", "not_backed", "unknown")
        },
    }


def reaction_stats(
    rows: Sequence[StatRow], label: Callable[[int], str], always: Iterable[int] = ()
) -> dict[str, Any]:
    """``label`` names a horizon (ms -> "1h"). Horizons: ``always`` (the defaults, so an empty answer
    has its shape) and those the reactions were recorded with, shortest first."""
    horizons = sorted({*always, *(horizon for row in rows for horizon, _ in row.outcomes)})
    return {
        "reactions": len(rows),
        "states": {str(s): sum(1 for row in rows if row.state == s) for s in ReactionState},
        "horizons": {label(h): {"horizon_s": h // 1000, **horizon_stats(rows, h)} for h in horizons},
    }
