"""The fault catalogue: every fault the simulator can inject, how it is armed, and how the depth
streams apply theirs.

Depth stream faults (gap, duplicate, overlap, old event, bad quantity) change what :class:`DepthStream`
sends next;
REST faults (429, 418, 500, timeout, error body) and stale snapshots are taken by the REST app
(:mod:`apps.simulator.rest`); WebSocket faults (lag, stall, odd frames, disconnects) act through the
WebSocket server (:mod:`apps.simulator.ws_server`).

Fault methods arm a fault and return at once. They return an :class:`Armed` object that may also be
awaited (``sim.inject_gap()`` and ``await sim.inject_gap()`` both work); awaiting ``disconnect`` waits
until the connections are really closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any

from apps.simulator.odd_frames import FRAME_KINDS, OddFrames
from apps.simulator.wire import WireDepth, merge_depth
from apps.simulator.ws_server import WebSocketStreams

log = logging.getLogger("apps.simulator")

REST_FAULT_KINDS = ("429", "418", "500", "timeout", "error_body")
DISCONNECT_MODES = ("abrupt", "going_away")
BAD_QUANTITY_MAX_CHARS = 64


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
    bad_quantities: deque[str] = field(default_factory=deque)  # texts for the next events' first qty
    corrupted_events: int = 0

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
            log.info(
                "sim %s: sending overlap U=%d u=%d (last sent u=%d)",
                self.name,
                out[0].first_id,
                out[0].final_id,
                last.final_id,
            )
        if self.duplicates:
            self.duplicates -= 1
            out.append(out[-1])
            log.info("sim %s: sending event u=%d twice (duplicate fault)", self.name, wire.final_id)
        if self.old_events and last is not None:
            self.old_events -= 1
            out.append(last)
            log.info("sim %s: resending old event u=%d after u=%d", self.name, last.final_id, wire.final_id)
        if self.bad_quantities and (wire.bids or wire.asks):
            out[0] = replace(out[0], bad_qty=self.bad_quantities.popleft())
            self.corrupted_events += 1
            log.info(
                "sim %s: event u=%d sent with quantity %r (bad quantity fault)",
                self.name,
                wire.final_id,
                out[0].bad_qty,
            )
        self.sent.append(wire)  # the event as it should have been: later faults build on the truth
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


class Armed:
    """Returned by fault methods: already armed; awaiting it waits for any follow-up work and gives the value."""

    __slots__ = ("_tasks", "value")

    def __init__(self, value: Any = None, tasks: list[asyncio.Task[Any]] | None = None) -> None:
        self.value = value
        self._tasks = tasks or []

    def __await__(self) -> Generator[Any, None, Any]:
        if self._tasks:
            yield from asyncio.gather(*self._tasks, return_exceptions=True).__await__()
        return self.value


class FaultCatalogue:
    """Arms faults. Every method validates its arguments (ValueError naming the bad one) and counts
    the armed fault in ``counters`` (``faults_armed`` and ``fault_<what>``)."""

    def __init__(
        self,
        *,
        depth_streams: dict[str, DepthStream],
        streams: WebSocketStreams,
        odd_frames: OddFrames,
        counters: dict[str, int],
        now_ms: Callable[[], int],
    ) -> None:
        self._depth_streams = depth_streams
        self._streams = streams
        self._odd_frames = odd_frames
        self._counters = counters
        self._now_ms = now_ms
        self._rest_faults: list[RestFault] = []
        self._stale = StaleSnapshots()

    def _armed(self, what: str) -> None:
        self._counters["faults_armed"] += 1
        self._counters[f"fault_{what}"] = self._counters.get(f"fault_{what}", 0) + 1

    # ------------------------------------------------------------------ depth stream faults
    def inject_gap(self, skip_ids: int = 5) -> Armed:
        """Drop the next depth event(s) on every depth stream until >= skip_ids ids were skipped."""
        if not isinstance(skip_ids, int) or skip_ids < 1:
            raise ValueError("skip_ids must be an integer >= 1")
        for stream in self._depth_streams.values():
            stream.gap_ids_left += skip_ids
        self._armed("gap")
        log.info("sim fault armed: gap of >= %d ids", skip_ids)
        return Armed()

    def inject_duplicate(self) -> Armed:
        """The next depth event is sent twice."""
        for stream in self._depth_streams.values():
            stream.duplicates += 1
        self._armed("duplicate")
        log.info("sim fault armed: duplicate depth event")
        return Armed()

    def inject_overlap(self) -> Armed:
        """The next depth event covers the previously sent ids too (U <= last sent u)."""
        for stream in self._depth_streams.values():
            stream.overlaps += 1
        self._armed("overlap")
        log.info("sim fault armed: overlapping depth event")
        return Armed()

    def inject_old_event(self) -> Armed:
        """Right after the next depth event, the previously sent one is sent again (u < last u)."""
        for stream in self._depth_streams.values():
            stream.old_events += 1
        self._armed("old_event")
        log.info("sim fault armed: old depth event")
        return Armed()

    def inject_bad_quantity(self, qty: str = "10000000000000000000000000") -> Armed:
        """The next depth event (on every depth stream) carries ``qty`` as its first level's quantity:
        1e25 written out by default, or e.g. "NaN", "1e25", "-1". Its ids are real, so a client that
        refuses the event has missed real updates (the truth keeps the real quantity)."""
        if not isinstance(qty, str) or not 0 < len(qty) <= BAD_QUANTITY_MAX_CHARS:
            raise ValueError(f"qty must be a string of 1 to {BAD_QUANTITY_MAX_CHARS} characters")
        for stream in self._depth_streams.values():
            stream.bad_quantities.append(qty)
        self._armed("bad_quantity")
        log.info("sim fault armed: next depth event with quantity %r", qty)
        return Armed()

    # ------------------------------------------------------------------ REST faults
    def snapshot_stale(self, times: int = 1, behind_ids: int | None = None) -> Armed:
        """The next ``times`` depth snapshots are older than every open client's first depth event.

        ``behind_ids``: at least this many ids behind the current update id (default 50).
        """
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be an integer >= 1")
        if behind_ids is not None and (not isinstance(behind_ids, int) or behind_ids < 1):
            raise ValueError("behind_ids must be an integer >= 1")
        self._stale.remaining += times
        self._stale.behind_ids = behind_ids
        self._armed("snapshot_stale")
        log.info("sim fault armed: %d stale snapshot(s)", times)
        return Armed()

    def rest_fault(
        self,
        kind: str,
        times: int = 1,
        retry_after: float = 1.0,
        delay_s: float = 30.0,
        path: str | None = None,
    ) -> Armed:
        """The next ``times`` REST requests (to ``path``, default any /api/ path) fail with ``kind``.

        "429"/"418" carry Retry-After ``retry_after`` s and open that window (a request inside a 429 window
        escalates to 418); "500"; "timeout" answers only after ``delay_s`` s; "error_body" is a 200 whose
        body is a Binance error.
        """
        if kind not in REST_FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(REST_FAULT_KINDS)}; got {kind!r}")
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be an integer >= 1")
        retry_after = positive_seconds(retry_after, "retry_after")
        delay_s = positive_seconds(delay_s, "delay_s")
        if path is not None and not path.startswith("/api/"):
            raise ValueError("path must start with /api/")
        self._rest_faults.append(RestFault(kind, times, retry_after, delay_s, path))
        self._armed(f"rest_{kind}")
        log.info("sim fault armed: next %d REST request(s) to %s -> %s", times, path or "/api/*", kind)
        return Armed()

    def take_rest_fault(self, path: str) -> RestFault | None:
        """The armed REST fault this request to ``path`` gets, if any (used up after ``times``)."""
        for fault in self._rest_faults:
            if fault.path is None or fault.path == path:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._rest_faults.remove(fault)
                return fault
        return None

    def pending(self) -> int:
        """REST faults and stale snapshots armed but not served yet (0: the REST side is healthy)."""
        return sum(fault.remaining for fault in self._rest_faults) + max(0, self._stale.remaining)

    def take_stale_snapshot(self) -> int | None:
        """If a stale snapshot is armed: how many ids behind the current one it must be at least."""
        if self._stale.remaining <= 0:
            return None
        self._stale.remaining -= 1
        return self._stale.behind_ids or 50

    # ------------------------------------------------------------------ WebSocket faults
    def ws_lag(self, seconds: float) -> Armed:
        """Hold back all WS frames (queued, then delivered in order) for ``seconds``."""
        seconds = positive_seconds(seconds, "seconds")
        self._streams.hold_frames(seconds)
        self._armed("ws_lag")
        log.info("sim fault armed: WS frames held back for %.3fs", seconds)
        return Armed()

    def stall(self, seconds: float) -> Armed:
        """Open connections go silent: no frames, no pings, no pongs (reading paused) for ``seconds``."""
        seconds = positive_seconds(seconds, "seconds")
        stalled = self._streams.stall(seconds)
        self._armed("stall")
        log.info("sim fault armed: %d connection(s) stalled for %.3fs", stalled, seconds)
        return Armed()

    def inject_frame(self, kind: str) -> Armed:
        """Send one odd frame to every open connection now (after frames already queued)."""
        if kind not in FRAME_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FRAME_KINDS)}; got {kind!r}")
        now_ms = self._now_ms()
        sent = self._streams.send_to_all(
            lambda client: self._odd_frames.frame(kind, client.streams, client.combined, now_ms)
        )
        self._armed(f"frame_{kind}")
        log.info("sim fault: %s frame sent to %d connection(s)", kind, sent)
        return Armed()

    def disconnect(self, mode: str = "abrupt") -> Armed:
        """Drop every open connection: "abrupt" (TCP abort, no close frame) or "going_away" (close 1001)."""
        if mode not in DISCONNECT_MODES:
            raise ValueError(f"mode must be one of {', '.join(DISCONNECT_MODES)}; got {mode!r}")
        tasks = self._streams.disconnect_all(mode)
        self._armed(f"disconnect_{mode}")
        log.info("sim fault: %d connection(s) disconnected (%s)", len(tasks), mode)
        return Armed(len(tasks), tasks)

    def refuse_connections(self, seconds: float) -> Armed:
        """The exchange goes down for ``seconds``: open connections are dropped and new WebSocket
        handshakes answered 503 until then (REST keeps answering)."""
        seconds = positive_seconds(seconds, "seconds")
        self._streams.refuse(seconds)
        tasks = self._streams.disconnect_all("abrupt")
        self._armed("refuse_connections")
        log.info("sim fault: refusing connections for %.1fs (%d dropped)", seconds, len(tasks))
        return Armed(len(tasks), tasks)


def positive_seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)
