"""Armed faults and how they change what a depth stream sends. Pure: no I/O."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from apps.simulator.wire import WireDepth, merge_depth

log = logging.getLogger("apps.simulator")

REST_FAULT_KINDS = ("429", "418", "500", "timeout", "error_body")
FRAME_KINDS = (
    "malformed_json", "truncated", "error_payload", "wrong_symbol", "unknown_event", "server_shutdown",
    "server_shutdown_ws_api",
)
DISCONNECT_MODES = ("abrupt", "going_away")


@dataclass(slots=True)
class DepthStream:
    """One depth stream (100 ms or 1000 ms cadence): batches market events and applies armed faults.

    ``every_ticks`` market ticks are merged into one wire event (1 for @100ms at a 100 ms tick).
    """

    name: str  # e.g. "depth@100ms"
    every_ticks: int
    _pending: list[WireDepth] = field(default_factory=list)
    _ticks: int = 0
    sent: deque[WireDepth] = field(default_factory=lambda: deque(maxlen=64))
    gap_ids_left: int = 0
    duplicates: int = 0
    overlaps: int = 0
    old_events: int = 0
    dropped_events: int = 0

    def on_tick(self, event: WireDepth | None) -> list[WireDepth]:
        """Feed one market tick (its event or None); returns the wire events to send now, in order."""
        if event is not None:
            self._pending.append(event)
        self._ticks += 1
        if self._ticks < self.every_ticks:
            return []
        self._ticks = 0
        if not self._pending:
            return []
        wire = self._pending[0] if len(self._pending) == 1 else merge_depth(self._pending)
        self._pending = []
        return self._apply_faults(wire)

    def _apply_faults(self, wire: WireDepth) -> list[WireDepth]:
        if self.gap_ids_left > 0:
            self.gap_ids_left = max(0, self.gap_ids_left - (wire.final_id - wire.first_id + 1))
            self.dropped_events += 1
            log.info("sim %s: dropped event U=%d u=%d (gap fault)", self.name, wire.first_id, wire.final_id)
            return []
        out = [wire]
        last = self.sent[-1] if self.sent else None
        if self.overlaps and last is not None:
            self.overlaps -= 1
            out = [merge_depth([last, wire])]
            log.info("sim %s: sending overlap U=%d u=%d (last sent u=%d)", self.name, out[0].first_id,
                     out[0].final_id, last.final_id)
        if self.duplicates:
            self.duplicates -= 1
            out.append(out[-1])
            log.info("sim %s: sending event u=%d twice (duplicate fault)", self.name, wire.final_id)
        if self.old_events and last is not None:
            self.old_events -= 1
            out.append(last)
            log.info("sim %s: resending old event u=%d after u=%d", self.name, last.final_id, wire.final_id)
        self.sent.append(wire)
        return out


@dataclass(slots=True)
class RestFault:
    kind: str
    remaining: int
    retry_after_s: float
    delay_s: float
    path: str | None  # None = any /api/ request


@dataclass(slots=True)
class StaleSnapshots:
    remaining: int = 0
    behind_ids: int | None = None
