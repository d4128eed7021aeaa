"""The ``zones`` push message: only what changed this cycle, plus why zones are (not) computed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from apps.zones.domain.tracking import TrackerUpdate
from apps.zones.presentation import zone_overlay


@dataclass(frozen=True)
class ZoneComputeState:
    """Whether zones are being computed, and why not when they are not."""

    computing: bool
    reason: str  # "live", "book is resyncing", "the book is crossed (...)", ...
    window_narrower_than_range: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


NOT_STARTED = ZoneComputeState(computing=False, reason="no publication cycle yet")


def zones_delta(update: TrackerUpdate, state: ZoneComputeState) -> dict[str, Any]:
    """``data`` of a kind="zones" message: {"added", "changed", "removed", "state"}."""
    return {
        "added": [zone_overlay(record) for record in update.added],
        "changed": [zone_overlay(record) for record in update.changed],
        "removed": list(update.removed),
        "state": state.as_dict(),
    }
