"""The zone cycle: compute, track, persist and push liquidity zones once per publication cycle.

Plugged into the streamer as a ``StreamListener``. Per live cycle:
1. copy the in-range levels out of the book synchronously (the book mutates once we await);
2. detect zones and advance the pure tracker (inline for small slices; from
   ``offload_min_levels`` levels on, in a worker thread, so the event loop is not held for long);
3. log every zone state change with its reason;
4. write the changes in one short transaction (in Django's sync thread), with a zone-history row
   for each zone that ended (broken, pulled, merged);
5. broadcast only the delta as kind "zones".
While the book is not live nothing is computed or changed; the pushed ``state`` says why.
A cycle that fails (whatever the book holds) is counted, its error kept for /api/health's "zones"
section (``health``), the pushed state says zones are not computed and why, and the error goes on to
the publication loop, which counts and logs listener errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from apps.book.domain.events import Kline, Trade
from apps.book.services.cycle import DeltaSink, OffLoopWaits
from apps.core.sync_threads import in_sync_thread
from apps.zones.domain.book_view import BookLevels, BookView, detect_from_levels, levels_in_range
from apps.zones.domain.detection import LevelEncoder, ZoneDetection, ZoneParams
from apps.zones.domain.ended import ended_zones
from apps.zones.domain.tracking import TrackerParams, TrackerUpdate, ZoneRecord, ZoneTracker
from apps.zones.services import store
from apps.zones.services.deltas import NOT_STARTED, ZoneComputeState, zones_delta

log = logging.getLogger("apps.zones.live")

LIVE_STATUS = "live"
T = TypeVar("T")


class CycleLike(Protocol):
    """apps.book.services.cycle.PublishCycle, duck-typed."""

    # read-only members, so a frozen dataclass or a subtype (OrderBook for BookView) conforms
    @property
    def now_ms(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def book(self) -> BookView | None: ...
    @property
    def update_id(self) -> int | None: ...
    @property
    def trades(self) -> Sequence[Trade]: ...


@dataclass(frozen=True, slots=True)
class ZoneCycleResult:
    """What one computed zone cycle changed (stored scale) and the mid it was computed at: for
    listeners that react to zone events (alerts), handed the zone listener at wiring."""

    now_ms: int
    update: TrackerUpdate
    mid: Decimal


@dataclass
class CycleTimings:
    """Milliseconds spent in the last computed cycle. ``loop_ms`` is the time the event loop was
    held (everything not awaited in a worker thread)."""

    extract_ms: float = 0.0
    detect_ms: float = 0.0
    track_ms: float = 0.0
    persist_ms: float = 0.0
    broadcast_ms: float = 0.0
    loop_ms: float = 0.0
    detect_offloaded: bool = False


class ZoneCycleListener:
    """StreamListener for zones. ``on_cycle`` never raises on a database or push failure."""

    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink | None,
        *,
        offload_min_levels: int = 2000,
        prune_every_s: float = 60.0,
        prune_batch_size: int = 5000,
        prune_max_batches: int = 4,
    ) -> None:
        self.symbol: str = config.symbol
        self.params = ZoneParams.from_config(config)
        self.tracker = ZoneTracker(TrackerParams.from_config(config))
        self.encoder = LevelEncoder()  # Decimal -> integer units, remembered across cycles
        self.broadcaster = broadcaster
        self.history_retention_ms = int(float(config.zone_history_retention_h) * 3_600_000)
        self.ended_retention_ms = int(float(config.zone_history_h) * 3_600_000)
        self.offload_min_levels = offload_min_levels
        self.prune_every_ms = int(prune_every_s * 1000)
        self.prune_batch_size = prune_batch_size
        self.prune_max_batches = prune_max_batches
        self.state: ZoneComputeState = NOT_STARTED
        self.last_detection: ZoneDetection | None = None
        self.latest: ZoneCycleResult | None = None  # the last computed cycle's update
        self.timings = CycleTimings()
        self.cycles = 0
        self.write_failures = 0
        self.failures = 0  # cycles that raised
        self.last_error: dict[str, Any] | None = None
        self._restored = False
        self._replace_all = True  # the first write makes the stored set equal the tracker's
        self._next_prune_ms: int | None = None
        self._waits = OffLoopWaits()

    # -- StreamListener ------------------------------------------------------------------------
    async def on_kline(self, kline: Kline) -> None:
        return None

    async def on_cycle(self, cycle: CycleLike) -> None:
        try:
            await self._cycle(cycle)
        except Exception as exc:
            await self._failed(cycle.now_ms, exc)
            raise

    def live_zones(self) -> list[ZoneRecord] | None:
        """The current set (live and lingering zones) while zones are computed; None while they are
        not (unknown: the set is as of the last computed cycle)."""
        return self.tracker.current() if self.state.computing else None

    def health(self) -> dict[str, Any]:
        """/api/health's "zones" section: whether zones are computed and why, and how cycles went."""
        return {
            **self.state.as_dict(),
            "cycles": self.cycles,
            "failures": self.failures,
            "write_failures": self.write_failures,
            "last_error": self.last_error,
        }

    async def _failed(self, now_ms: int, exc: Exception) -> None:
        self.failures += 1
        self.last_error = {"text": f"{type(exc).__name__}: {exc}"[:300], "ts_ms": now_ms}
        self._replace_all = True  # the tracker may have moved on without the store: rewrite it whole
        try:
            await self._set_state(ZoneComputeState(False, f"zone computation failed: {type(exc).__name__}"))
        except Exception as push_error:  # the cycle's own error is the one to report
            log.warning("zone state push failed reason=%r", push_error)

    # -- the cycle -----------------------------------------------------------------------------
    async def _cycle(self, cycle: CycleLike) -> None:
        started = time.perf_counter()
        self._waits.ms = 0.0
        levels: BookLevels | None = None
        if cycle.status == LIVE_STATUS and cycle.book is not None:
            levels = levels_in_range(cycle.book, self.params)  # before any await
        timings = CycleTimings(extract_ms=(time.perf_counter() - started) * 1000)
        trades = list(cycle.trades)
        if not self._restored:
            await self._waits.off_loop(self._restore())

        if levels is None:
            self.tracker.observe_trades(trades)
            await self._set_state(ZoneComputeState(False, f"book is {cycle.status}"))
            return

        if levels.level_count >= self.offload_min_levels:
            # the tracker is only touched by this non-reentrant cycle, so a worker thread is safe
            timings.detect_offloaded = True
            computed = in_sync_thread(self._compute)(levels, cycle.now_ms, trades, timings)
            detection, update = await self._waits.off_loop(computed)
        else:
            detection, update = self._compute(levels, cycle.now_ms, trades, timings)
        self.last_detection = detection
        if update is None or detection.mid is None:
            await self._set_state(ZoneComputeState(False, detection.problem or "no mid price"))
            return
        self.latest = ZoneCycleResult(cycle.now_ms, update, detection.mid)
        for transition in update.transitions:
            log.info(
                "zone %s %s -> %s reason=%s",
                transition.zone_id,
                transition.old or "new",
                transition.new,
                transition.reason,
            )
        narrower = detection.window_narrower_than_range
        reason = "live; trusted window narrower than the analysed range" if narrower else "live"
        state = ZoneComputeState(True, reason, narrower)

        write_started = time.perf_counter()
        await self._write(update, cycle.now_ms, levels.update_id)
        timings.persist_ms = (time.perf_counter() - write_started) * 1000

        send_started = time.perf_counter()
        state_changed = self._note_state(state)
        if not update.is_empty or state_changed:
            await self._send(update)
        timings.broadcast_ms = (time.perf_counter() - send_started) * 1000
        timings.loop_ms = (time.perf_counter() - started) * 1000 - self._waits.ms
        self.timings = timings
        self.cycles += 1
        await self._maybe_prune(cycle.now_ms)

    def _compute(
        self, levels: BookLevels, now_ms: int, trades: list[Trade], timings: CycleTimings
    ) -> tuple[ZoneDetection, TrackerUpdate | None]:
        """Detect and track (pure work, no I/O): inline or in a worker thread."""
        started = time.perf_counter()
        detection = detect_from_levels(levels, self.params, self.encoder)
        timings.detect_ms = (time.perf_counter() - started) * 1000
        if detection.problem is not None or detection.mid is None:
            self.tracker.observe_trades(trades)
            return detection, None
        started = time.perf_counter()
        update = self.tracker.update(now_ms, detection.zones, detection.mid, trades, levels.update_id)
        update = _storable(update)
        timings.track_ms = (time.perf_counter() - started) * 1000
        return detection, update

    async def _restore(self) -> None:
        try:
            records = await in_sync_thread(store.load_current)(self.symbol)
        except Exception as exc:
            log.warning("zone restore failed reason=%r; starting with an empty set", exc)
            records = []
        self.tracker.restore(records)
        self._restored = True
        if records:
            log.info("zones restored: %d from orderbook_zones_current", len(records))

    async def _write(self, update: TrackerUpdate, now_ms: int, update_id: int) -> None:
        replace_all = self._replace_all
        upserts = (
            [store.storable(r) for r in self.tracker.current()]
            if replace_all
            else [*update.added, *update.changed]
        )
        seen_again = store.SeenAgain(update.refreshed, now_ms, update_id) if not replace_all else None
        if (
            not replace_all
            and not upserts
            and not update.removed
            and not update.history
            and not update.refreshed
        ):
            return
        try:
            await self._waits.off_loop(
                in_sync_thread(store.write_cycle)(
                    self.symbol,
                    upserts,
                    update.removed,
                    update.history,
                    seen_again=seen_again,
                    replace_all=replace_all,
                    ended=ended_zones(update),
                )
            )
        except Exception as exc:
            self.write_failures += 1
            if not self._replace_all:
                log.warning("zone write failed reason=%r; the next cycle rewrites the whole set", exc)
            self._replace_all = True
            return
        if replace_all and self.write_failures:
            log.info("zone store in sync again")
        self._replace_all = False

    async def _set_state(self, state: ZoneComputeState) -> None:
        if self._note_state(state):
            await self._send(TrackerUpdate())

    def _note_state(self, state: ZoneComputeState) -> bool:
        if state == self.state:
            return False
        if state.computing != self.state.computing or state.reason != self.state.reason:
            log.info("zones %s reason=%s", "computing" if state.computing else "paused", state.reason)
        self.state = state
        return True

    async def _send(self, update: TrackerUpdate) -> None:
        if self.broadcaster is not None:
            await self.broadcaster.send("zones", zones_delta(update, self.state))

    async def _maybe_prune(self, now_ms: int) -> None:
        if self._next_prune_ms is not None and now_ms < self._next_prune_ms:
            return
        try:
            result = await in_sync_thread(store.prune_history)(
                now_ms - self.history_retention_ms, self.prune_batch_size, self.prune_max_batches
            )
            ended = await in_sync_thread(store.prune_ended)(
                now_ms - self.ended_retention_ms, self.prune_batch_size, self.prune_max_batches
            )
            if not ended.finished:
                result = ended
        except Exception as exc:
            log.warning("zone history prune failed reason=%r", exc)
            result = None
        # unfinished (a backlog): carry on next cycle, a few batches at a time
        self._next_prune_ms = (
            now_ms if result is not None and not result.finished else now_ms + self.prune_every_ms
        )


def _storable(update: TrackerUpdate) -> TrackerUpdate:
    return replace(
        update,
        added=tuple(store.storable(r) for r in update.added),
        changed=tuple(store.storable(r) for r in update.changed),
        history=tuple(store.storable(r) for r in update.history),
    )
