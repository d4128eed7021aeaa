"""Zones that ended, for the zone history. Pure.

``ended_zones``: a zone ends when the tracker moves it to broken, pulled or merged (a discarded zone
lived too briefly to be a zone: it is not history). Its final record carries how (``status``) and
when (``ts_ms``: the cycle it ended in); the transition that ended it says why (``reason``).
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import TrackerUpdate, ZoneRecord

HISTORY_STATUSES: tuple[ZoneStatus, ...] = (ZoneStatus.BROKEN, ZoneStatus.PULLED, ZoneStatus.MERGED)


@dataclass(frozen=True, slots=True)
class EndedZone:
    record: ZoneRecord  # the final state: status = how it ended, ts_ms = when
    reason: str


def ended_zones(update: TrackerUpdate) -> tuple[EndedZone, ...]:
    """The zones this cycle's update ended (see the module docstring), in the update's order."""
    reasons = {t.zone_id: t.reason for t in update.transitions if t.new in HISTORY_STATUSES}
    return tuple(
        EndedZone(record, reasons.get(record.id, ""))
        for record in update.history
        if record.status in HISTORY_STATUSES
    )
