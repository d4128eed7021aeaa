"""The simulator's fault controls as methods of the simulator itself (`sim.inject_gap()`,
`sim.stall(2)`, ...): each hands over to the FaultCatalogue, where the faults are implemented, and
each is a `/sim/control` action (apps/simulator/control.py)."""

from __future__ import annotations

from apps.simulator.faults import Armed, FaultCatalogue


class FaultControls:
    faults: FaultCatalogue

    def inject_gap(self, skip_ids: int = 5) -> Armed:
        return self.faults.inject_gap(skip_ids)

    def inject_duplicate(self) -> Armed:
        return self.faults.inject_duplicate()

    def inject_overlap(self) -> Armed:
        return self.faults.inject_overlap()

    def inject_old_event(self) -> Armed:
        return self.faults.inject_old_event()

    def inject_bad_quantity(self, qty: str = "10000000000000000000000000") -> Armed:
        return self.faults.inject_bad_quantity(qty)

    def snapshot_stale(self, times: int = 1, behind_ids: int | None = None) -> Armed:
        return self.faults.snapshot_stale(times, behind_ids)

    def rest_fault(
        self,
        kind: str,
        times: int = 1,
        retry_after: float = 1.0,
        delay_s: float = 30.0,
        path: str | None = None,
    ) -> Armed:
        return self.faults.rest_fault(kind, times, retry_after, delay_s, path)

    def ws_lag(self, seconds: float) -> Armed:
        return self.faults.ws_lag(seconds)

    def stall(self, seconds: float) -> Armed:
        return self.faults.stall(seconds)

    def inject_frame(self, kind: str) -> Armed:
        return self.faults.inject_frame(kind)

    def disconnect(self, mode: str = "abrupt") -> Armed:
        return self.faults.disconnect(mode)

    def refuse_connections(self, seconds: float) -> Armed:
        return self.faults.refuse_connections(seconds)
