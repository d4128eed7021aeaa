"""The streamer's reaction listener: fresh order blocks watched against the trade stream, each
first touch recorded with what the liquidity in the block's range did next, stored and pushed.

Plugged into the streamer as a ``StreamListener``, after the zone listener (it reads the zone set
that cycle produced). Per cycle:
1. synchronously, before any await (the book mutates once we await): the closed 1h candles that
   arrived, this cycle's trades (touches of watched blocks, moves of pending reactions), the liquidity
   in the ranges whose snapshot is due, read from the cycle's book view, and the zone set when a
   reaction looks at zones (domain/tracker.py);
2. the first cycle reads back the pending reactions (resumed, or closed as unknown with the reason);
   every ``block_refresh_s`` the stored fresh blocks are read again (the hourly run adds and touches
   them) with the invalidations of pending reactions' blocks (worker thread);
3. changes are written (worker thread) and pushed as kind "reaction", one message per reaction;
   a failed write is retried with the next cycle's, and pushed once written;
4. every ``heartbeat_s`` the pending reactions are rewritten with how far they were followed
   (``watched_until_ms``: what a restart reads); every ``prune_every_s`` reactions older than
   REACTION_RETENTION_D are deleted.
The offsets and horizons default to the spec's (1, 5, 15 min; 1, 4, 24 h); tests pass shorter ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from apps.book.domain.events import Kline
from apps.book.services.cycle import DeltaSink, PublishCycle
from apps.core.sync_threads import in_sync_thread
from apps.orderblocks.domain.candles import HOUR_MS
from apps.reactions.domain.changes import describe_change, is_significant
from apps.reactions.domain.liquidity import ZoneLike
from apps.reactions.domain.reaction import (
    OUTCOME_HORIZONS_MS,
    SNAPSHOT_OFFSETS_MS,
    Reaction,
    ReactionParams,
)
from apps.reactions.domain.tracker import ReactionTracker
from apps.reactions.presentation import reaction_overlay
from apps.reactions.services import store
from apps.zones.domain.detection import ZoneParams

log = logging.getLogger("apps.reactions.live")

LIVE_STATUS = "live"
DAY_MS = 86_400_000


def no_zones() -> Iterable[ZoneLike]:
    return ()


class ReactionListener:
    """StreamListener for reactions. ``on_cycle`` never raises on a database or push failure."""

    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink | None,
        *,
        zones: Callable[[], Iterable[ZoneLike]] = no_zones,
        snapshot_offsets_ms: tuple[int, ...] = SNAPSHOT_OFFSETS_MS,
        outcome_horizons_ms: tuple[int, ...] = OUTCOME_HORIZONS_MS,
        snapshot_late_ms: int = 30_000,
        outcome_settle_ms: int = 60_000,
        block_refresh_s: float = 15.0,
        heartbeat_s: float = 60.0,
        prune_every_s: float = 3600.0,
    ) -> None:
        self.symbol: str = config.symbol
        params = ReactionParams(
            snapshot_offsets_ms=snapshot_offsets_ms,
            outcome_horizons_ms=outcome_horizons_ms,
            snapshot_late_ms=snapshot_late_ms,
            outcome_settle_ms=outcome_settle_ms,
            # CONFLUENCE_PAD_BINS belongs to the confluence feature's settings (default 1)
            pad_bins=int(getattr(config, "confluence_pad_bins", 1)),
            zone=ZoneParams.from_config(config),
        )
        self.tracker = ReactionTracker(self.symbol, params)
        self.broadcaster = broadcaster
        self.zones = zones
        self.retention_ms = int(float(config.reaction_retention_d) * DAY_MS)
        self.refresh_ms = int(block_refresh_s * 1000)
        self.heartbeat_ms = int(heartbeat_s * 1000)
        self.prune_ms = int(prune_every_s * 1000)
        self._closes: list[tuple[int, Decimal]] = []  # (close time, close) of 1h candles not applied yet
        self._unsaved: dict[str, Reaction] = {}
        self._restored = False
        self._next = {"refresh": 0, "heartbeat": 0, "prune": 0}
        self.cycles = self.recorded = self.skipped_late = 0
        self.write_failures = self.failures = 0
        self.last_error: dict[str, Any] | None = None
        self.loop_ms = self.loop_ms_max = 0.0

    # -- StreamListener ------------------------------------------------------------------------
    async def on_kline(self, kline: Kline) -> None:
        if kline.interval == "1h" and kline.closed and kline.symbol == self.symbol:
            self._closes.append((kline.open_time_ms + HOUR_MS, kline.close))

    async def on_cycle(self, cycle: PublishCycle) -> None:
        try:
            await self._cycle(cycle)
        except Exception as exc:  # counted here for /api/health, logged by the publication loop
            self.failures += 1
            self.last_error = {"text": f"{type(exc).__name__}: {exc}"[:300], "ts_ms": cycle.now_ms}
            raise

    def health(self) -> dict[str, Any]:
        """/api/health's "reactions" section."""
        return {
            "pending": len(self.tracker.pending),
            "watched_blocks": len(self.tracker.blocks),
            "recorded": self.recorded,
            "skipped_late": self.skipped_late,
            "cycles": self.cycles,
            "failures": self.failures,
            "write_failures": self.write_failures,
            "last_error": self.last_error,
            "loop_ms": round(self.loop_ms, 3),
            "loop_ms_max": round(self.loop_ms_max, 3),
        }

    # -- the cycle -----------------------------------------------------------------------------
    async def _cycle(self, cycle: PublishCycle) -> None:
        started = time.perf_counter()
        now = cycle.now_ms
        changes: list[tuple[Reaction | None, Reaction]] = []
        if self._restored:
            changes = self._follow(cycle)  # synchronous: reads the book view before any await
        self.loop_ms = (time.perf_counter() - started) * 1000
        self.loop_ms_max = max(self.loop_ms_max, self.loop_ms)
        if not self._restored:
            changes += await self._restore(now)
        if self._restored and now >= self._next["refresh"]:  # never before it knows which blocks reacted
            self._next["refresh"] = now + self.refresh_ms
            changes += await self._refresh()
        await self._store(changes, now)
        if now >= self._next["heartbeat"]:
            self._next["heartbeat"] = now + self.heartbeat_ms
            await self._write(list(self.tracker.pending.values()), now, "heartbeat")
        if now >= self._next["prune"]:
            self._next["prune"] = now + self.prune_ms
            await self._prune(now)
        self.cycles += 1

    def _follow(self, cycle: PublishCycle) -> list[tuple[Reaction | None, Reaction]]:
        before = dict(self.tracker.pending)
        closes, self._closes = self._closes, []
        changed: list[Reaction] = []
        for close_ms, close in closes:
            changed += self.tracker.note_close(close_ms, close)
        book = cycle.book if cycle.status == LIVE_STATUS else None
        changed += self.tracker.advance(cycle.now_ms, cycle.trades, book, f"book {cycle.status}", self.zones)
        latest = {r.id: r for r in changed}  # the last state of each
        return [(before.get(block_id), r) for block_id, r in latest.items()]

    async def _restore(self, now_ms: int) -> list[tuple[Reaction | None, Reaction]]:
        try:
            restored = await in_sync_thread(store.load_restored)(self.symbol)
        except Exception as exc:
            log.warning("reaction restore failed reason=%r; retrying next cycle", exc)
            return []
        self._restored = True
        stored = {r.id: r for r in restored.pending}
        changed = self.tracker.restore(restored, now_ms)
        if changed:
            log.info("reactions restored: %d pending read back", len(changed))
        return [(stored[r.id], r) for r in changed]

    async def _refresh(self) -> list[tuple[Reaction | None, Reaction]]:
        pending = list(self.tracker.pending)
        try:
            fresh = await in_sync_thread(store.fresh_blocks)(self.symbol)
            invalid = await in_sync_thread(store.invalid_close_times)(self.symbol, pending)
        except Exception as exc:
            log.warning("reaction block refresh failed reason=%r; watching the blocks known before", exc)
            return []
        before = dict(self.tracker.pending)
        missed, changed = self.tracker.watch(fresh, invalid)
        for block in missed:
            self.skipped_late += 1
            log.info("reaction skipped block=%s reason=price entered it before it was stored", block.id)
        return [(before.get(r.id), r) for r in changed]

    async def _store(self, changes: list[tuple[Reaction | None, Reaction]], now_ms: int) -> None:
        significant = []
        for before, after in changes:
            if before is None and after.id not in self._unsaved:
                self.recorded += 1
            if is_significant(before, after):
                log.info("reaction %s %s", after.id, describe_change(before, after))
                significant.append(after)
        self._unsaved.update((r.id, r) for r in significant)
        if not self._unsaved:
            return
        batch = list(self._unsaved.values())
        if await self._write(batch, now_ms, "write"):
            self._unsaved.clear()
            await self._push(batch)

    async def _write(self, reactions: list[Reaction], now_ms: int, what: str) -> bool:
        if not reactions:
            return True
        try:
            await in_sync_thread(store.save_reactions)(reactions, now_ms)
        except Exception as exc:
            self.write_failures += 1
            log.warning("reaction %s failed reason=%r; retried next cycle", what, exc)
            return False
        return True

    async def _push(self, reactions: list[Reaction]) -> None:
        if self.broadcaster is None:
            return
        for r in reactions:
            await self.broadcaster.send("reaction", reaction_overlay(r))

    async def _prune(self, now_ms: int) -> None:
        try:
            deleted = await in_sync_thread(store.prune_reactions)(self.symbol, now_ms - self.retention_ms)
        except Exception as exc:
            log.warning("reaction prune failed reason=%r", exc)
            return
        if deleted:
            log.info("reactions pruned: %d touched before the retention", deleted)
