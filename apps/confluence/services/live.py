"""The confluence cycle: the liquidity inside every active order block, once per publication cycle.

Plugged into the streamer as a ``StreamListener`` (after the zone listener, whose current zones it
reads). Per cycle:
1. while the book is live, bring the followed book up to this cycle's view (synchronously, before any
   await: the diff events since the last cycle; the first time and after a resync, the band is copied
   and converted on a worker thread): ``BookFollower``;
2. read the active order blocks when due, and the last hour of heatmap columns at each new column
   (worker threads): ``ActiveBlocks``, ``HourOfHeatmap``;
3. measure every block (numpy over the followed book: ``TrackedBlocks.measure``); blocks outside the
   band are unknown;
4. the blocks whose reading moved beyond the change step (``TrackedBlocks.changes``), or became unknown,
   are written into the stored document (worker thread) and pushed as kind "confluence".
While the book is not live every block is unknown: those that were known are pushed once as such.
``timings.loop_ms`` is the time the event loop was held (everything not awaited elsewhere). A failed
cycle is counted and its error kept for /api/health's "confluence" section; the book is read afresh
next time, and the error goes on to the publication loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from apps.book.services.cycle import DeltaSink, OffLoopWaits, PublishCycle
from apps.confluence.domain.ladder import FollowedBook, OffGrid
from apps.confluence.domain.liquidity import ConfluenceParams
from apps.confluence.domain.measure import Readings, liquidity_of
from apps.confluence.domain.tracked import Change, TrackedBlocks
from apps.confluence.presentation import (
    NOT_STARTED,
    ConfluenceComputeState,
    block_confluence,
    confluence_delta,
    state_document,
)
from apps.confluence.services import store
from apps.confluence.services.following import BookFollower, Followed, Reread
from apps.confluence.services.sources import ActiveBlocks, HourOfHeatmap
from apps.core.sync_threads import in_sync_thread
from apps.zones.domain.tracking import ZoneRecord

log = logging.getLogger("apps.confluence.live")

LIVE_STATUS = "live"
T = TypeVar("T")
ZoneSource = Callable[[], Sequence[ZoneRecord] | None]  # the current zones; None: not computed


@dataclass
class ConfluenceTimings:
    """Milliseconds of the last cycle. ``loop_ms``: the event loop was held (not awaiting)."""

    follow_ms: float = 0.0  # applying the logged writes (or copying the band out of the view)
    measure_ms: float = 0.0
    publish_ms: float = 0.0  # what changed, its JSON, the push (the write is on a worker thread)
    loop_ms: float = 0.0
    writes: int = 0
    measured: int = 0  # blocks whose liquidity is known this cycle
    pushed: int = 0  # blocks in this cycle's push
    reread: bool = False


class ConfluenceListener:
    """StreamListener for order-block confluence. ``on_cycle`` never raises on a database or push
    failure."""

    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink | None,
        *,
        zones: ZoneSource | None = None,
        blocks_version: Callable[[], int] | None = None,
        reload_every_s: float = 60.0,
    ) -> None:
        self.symbol: str = config.symbol
        self.params = ConfluenceParams.from_config(config)
        self.broadcaster = broadcaster
        self.zones = zones
        self.follower = BookFollower(self.params.zone)
        self.blocks = ActiveBlocks(self.symbol, version=blocks_version, reload_every_s=reload_every_s)
        self.hour = HourOfHeatmap(
            self.symbol, Decimal(config.heatmap_bin_size), int(config.heatmap_column_s), self.params
        )
        self.tracked = TrackedBlocks(self.params)
        self.known: dict[str, dict[str, Any]] = {}  # the pushed entries of the known blocks: the document
        self._gone: list[str] = []  # blocks that left while known: pushed as unknown next
        self.state: ConfluenceComputeState = NOT_STARTED
        self.timings = ConfluenceTimings()
        self.cycles = 0
        self.failures = 0
        self.write_failures = 0
        self.last_error: dict[str, Any] | None = None
        self._unwritten = True  # the stored document is behind what was pushed
        self._waits = OffLoopWaits()

    # -- StreamListener ------------------------------------------------------------------------
    async def on_kline(self, kline: Any) -> None:
        return None

    async def on_cycle(self, cycle: PublishCycle) -> None:
        try:
            await self._cycle(cycle)
        except Exception as exc:
            self.failures += 1
            self.last_error = {"text": f"{type(exc).__name__}: {exc}"[:300], "ts_ms": cycle.now_ms}
            self.follower.forget()
            raise

    def health(self) -> dict[str, Any]:
        """/api/health's ``stream.confluence``: whether confluence is computed and why, how cycles went."""
        return {
            **self.state.as_dict(),
            "blocks": len(self.tracked),
            "measured": self.timings.measured,
            "cycles": self.cycles,
            "failures": self.failures,
            "write_failures": self.write_failures,
            "read_failures": self.blocks.failures + self.hour.failures,
            "last_error": self.last_error,
        }

    # -- the cycle -----------------------------------------------------------------------------
    async def _cycle(self, cycle: PublishCycle) -> None:
        started = time.perf_counter()
        self._waits.ms = 0.0
        timings = ConfluenceTimings()
        if cycle.status == LIVE_STATUS and cycle.book is not None:
            followed = self.follower.follow(cycle.book)  # before any await
        else:
            followed = Followed(problem=f"book is {cycle.status}")
        timings.follow_ms = (time.perf_counter() - started) * 1000
        timings.writes, timings.reread = followed.writes, followed.reread is not None
        if followed.reread is not None:
            await self._build(followed.reread)
        await self._load(cycle.now_ms)
        mark, waited = time.perf_counter(), self._waits.ms
        readings, state = self._measure(followed)
        timings.measure_ms = (time.perf_counter() - mark) * 1000 - (self._waits.ms - waited)
        timings.measured = int(readings.known.sum())
        mark, waited = time.perf_counter(), self._waits.ms
        timings.pushed = await self._publish(readings, state, cycle.now_ms)
        timings.publish_ms = (time.perf_counter() - mark) * 1000 - (self._waits.ms - waited)
        timings.loop_ms = (time.perf_counter() - started) * 1000 - self._waits.ms
        self.timings = timings
        self.cycles += 1

    async def _build(self, reread: Reread) -> None:
        try:
            book: FollowedBook | None = await self._waits.off_loop(in_sync_thread(reread.build)())
        except OffGrid as exc:
            log.warning("confluence: the book cannot be measured exactly reason=%s", exc)
            book = None
        self.follower.built(book)

    async def _load(self, now_ms: int) -> None:
        changed = False
        if self.blocks.due(now_ms):
            changed = await self.blocks.reload(now_ms, self._waits.off_loop)
        blocks = self.blocks.blocks or []
        averages = self.hour.averages
        await self.hour.refresh(now_ms, blocks, changed, self._waits.off_loop)
        if changed:
            self._gone += self.tracked.set_blocks(blocks, self.hour.averages)
        elif self.hour.averages is not averages:
            self.tracked.set_averages(self.hour.averages)

    def _measure(self, followed: Followed) -> tuple[Readings, ConfluenceComputeState]:
        """This cycle's readings of every block, and the state to report."""
        book, bounds = self.follower.book, followed.bounds
        if followed.problem is not None:
            return self.tracked.unknown(), ConfluenceComputeState(False, followed.problem)
        if book is None or bounds is None:
            return self.tracked.unknown(), ConfluenceComputeState(
                False, "the book could not be read (see the log)"
            )
        if not self.blocks.blocks:
            reason = (
                "no order block is active" if self.blocks.blocks is not None else "order blocks not read yet"
            )
            return self.tracked.unknown(), ConfluenceComputeState(False, reason)
        zones = (self.zones() if self.zones is not None else None) or ()
        return self.tracked.measure(book, bounds, zones), ConfluenceComputeState(True, "live")

    # -- what changed: store and push ----------------------------------------------------------
    async def _publish(self, readings: Readings, state: ConfluenceComputeState, now_ms: int) -> int:
        entries = [self._entry(change) for change in self.tracked.changes(readings)]
        for key in self._gone:
            self.known.pop(key, None)
            entries.append(block_confluence(key, None))
        self._gone = []
        state_changed = state != self.state
        if state_changed:
            log.info("confluence %s reason=%s", "computing" if state.computing else "paused", state.reason)
            self.state = state
        if entries or state_changed or self._unwritten:
            await self._write(now_ms)
        if (entries or state_changed) and self.broadcaster is not None:
            await self.broadcaster.send("confluence", confluence_delta(entries, state))
        return len(entries)

    def _entry(self, change: Change) -> dict[str, Any]:
        """The pushed entry of one changed block; the stored document follows it."""
        at, reading = change
        key = self.tracked.blocks.keys[at]
        if reading is None:
            self.known.pop(key, None)
            return block_confluence(key, None)
        book = self.follower.book
        assert book is not None  # the reading was made from it this cycle
        entry = block_confluence(key, liquidity_of(reading, self.tracked.blocks, at, book))
        self.known[key] = {"liquidity": entry["liquidity"], "backed": entry["backed"]}
        return entry

    async def _write(self, now_ms: int) -> None:
        document = state_document(dict(self.known), self.state)
        try:
            await self._waits.off_loop(in_sync_thread(store.write_document)(self.symbol, now_ms, document))
        except Exception as exc:
            self.write_failures += 1
            if not self._unwritten:
                log.warning("confluence write failed reason=%r; written again next cycle", exc)
            self._unwritten = True
            return
        self._unwritten = False
