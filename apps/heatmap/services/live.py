"""The heatmap cycle: bin the book each publication cycle, build columns, store and push them.

Plugged into the streamer as a ``StreamListener``. Per cycle:
1. while the book is live, bring the binned book up to this cycle's view: the diff events logged
   since the last cycle (synchronously, before any await; the book mutates once we await), or, the
   first time, after a resync and when the band has moved far from where it was binned, the book
   around the band read once and binned on a worker thread (``BinnedBook``'s window); when the band
   moves past the window, the levels of the bins it needs are read from the view and added;
2. the bins this cycle observes (``trusted_bins``) go into the open column (``ColumnBuilder``);
   a cycle that falls in a new column closes the previous one, finished on a worker thread;
3. push the depth profile (kind "depth") every live cycle and keep it as the symbol's latest (one
   row, written on a worker thread every DEPTH_WRITE_EVERY_MS: the overlay snapshot's profile is at
   most that old, the pushes are every cycle); when the book stops being live, push and keep the last
   profile with live=false at once;
4. a finished column is written as one row (worker thread) and pushed (kind "heatmap");
5. every ``prune_every_s`` columns older than HEATMAP_RETENTION_H are deleted in batches.
``timings.loop_ms`` is the time the event loop was held (everything not awaited elsewhere).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from apps.book.services.cycle import DeltaSink, OffLoopWaits, PublishCycle
from apps.core.sync_threads import in_sync_thread
from apps.heatmap.domain.binned_book import BinnedBook, BookPicture, window_around, window_levels
from apps.heatmap.domain.columns import ColumnBuilder, OpenColumn, finish_column
from apps.heatmap.domain.grid import BookSpans, HeatmapParams, trusted_bins
from apps.heatmap.domain.packing import StoredRow, stored_row
from apps.heatmap.presentation import DepthOverlay, column_overlay, heatmap_document
from apps.heatmap.services import store

log = logging.getLogger("apps.heatmap.live")

LIVE_STATUS = "live"
MAX_UNWRITTEN_COLUMNS = 60  # kept for the next write while the database fails
DEPTH_WRITE_EVERY_MS = 5000  # the stored depth profile (the snapshot's) is at most this old
T = TypeVar("T")


@dataclass
class HeatmapTimings:
    """Milliseconds of the last cycle. ``loop_ms``: the event loop was held (not awaiting)."""

    follow_ms: float = 0.0  # applying the logged diff events and reading the observed bins
    accumulate_ms: float = 0.0
    push_ms: float = 0.0
    loop_ms: float = 0.0
    writes: int = 0  # level writes logged since the last cycle (followed or outside the window)
    rebuilt: bool = False  # the book was read and binned afresh (first cycle, after a resync, ...)


class HeatmapListener:
    """StreamListener for the heatmap and the depth profile. ``on_cycle`` never raises on a
    database or push failure."""

    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink | None,
        *,
        prune_every_s: float = 60.0,
        prune_batch_size: int = 2000,
        prune_max_batches: int = 4,
    ) -> None:
        self.symbol: str = config.symbol
        self.params = HeatmapParams.from_config(config)
        self.retention_s = int(float(config.heatmap_retention_h) * 3600)
        self.broadcaster = broadcaster
        self.builder = ColumnBuilder(self.params)
        self.binned: BinnedBook | None = None
        self.prune_every_ms = int(prune_every_s * 1000)
        self.prune_batch_size = prune_batch_size
        self.prune_max_batches = prune_max_batches
        self.timings = HeatmapTimings()
        self.cycles = 0
        self.columns_written = 0
        self.write_failures = 0
        self.last_depth: dict[str, Any] | None = None
        self._overlay = DepthOverlay(self.params.bin_size)
        self._spans_key: tuple[Any, Any, Any] | None = None  # (best bid, best ask, trusted window)
        self._spans: BookSpans | None = None
        self._unwritten: deque[StoredRow] = deque(maxlen=MAX_UNWRITTEN_COLUMNS)
        self._next_prune_ms: int | None = None
        self._depth_written_ms: int | None = None
        self._waits = OffLoopWaits()

    # -- StreamListener ------------------------------------------------------------------------
    async def on_kline(self, kline: Any) -> None:
        return None

    # -- the cycle -----------------------------------------------------------------------------
    async def on_cycle(self, cycle: PublishCycle) -> None:
        started = time.perf_counter()
        self._waits.ms = 0.0
        timings = HeatmapTimings()
        picture = None
        if cycle.status == LIVE_STATUS and cycle.book is not None:
            picture = await self._picture(cycle.book, timings)
        mark = time.perf_counter()
        closed = self.builder.advance(cycle.now_ms, picture)
        timings.accumulate_ms = (time.perf_counter() - mark) * 1000
        mark, waited = time.perf_counter(), self._waits.ms
        await self._depth(cycle.now_ms, picture)
        if closed is not None:
            await self._store(closed)
        timings.push_ms = (time.perf_counter() - mark) * 1000 - (self._waits.ms - waited)
        timings.loop_ms = (time.perf_counter() - started) * 1000 - self._waits.ms
        self.timings = timings
        self.cycles += 1
        await self._maybe_prune(cycle.now_ms)

    async def _picture(self, view: Any, timings: HeatmapTimings) -> BookPicture | None:
        """This cycle's observed bins, the binned book brought up to ``view`` first."""
        bid, ask = view.best_bid(), view.best_ask()
        if bid is None or ask is None or bid[0] >= ask[0]:
            return None  # no mid to centre the band on: not counted
        started = time.perf_counter()
        spans = self._spans_of(bid[0], ask[0], view.trusted_window)
        binned = self.binned
        events = view.changes_since(binned.cursor) if binned is not None else None
        writes = None
        if binned is not None and events is not None:
            writes = binned.catch_up(events, view.change_cursor(), spans, view.levels_between)
        if binned is not None and writes is not None:
            timings.writes = writes
        else:
            try:
                binned = await self._rebuild(view, spans, timings)
            except Exception as exc:  # the next live cycle tries again; this one is not counted
                self.binned = None
                log.warning("heatmap: binning the book failed reason=%r", exc)
                return None
        picture = binned.picture(spans)
        timings.follow_ms = (time.perf_counter() - started) * 1000 - self._waits.ms
        return picture

    def _spans_of(self, bid: Decimal, ask: Decimal, window: Any) -> BookSpans:
        """``trusted_bins``, worked out again only when the touch or the trusted window moved."""
        key = (bid, ask, window)
        if self._spans is None or key != self._spans_key:
            self._spans_key, self._spans = key, trusted_bins(bid, ask, window, self.params)
        return self._spans

    async def _rebuild(self, view: Any, spans: BookSpans, timings: HeatmapTimings) -> BinnedBook:
        """Read the book around the band now (before any await) and bin it on a worker thread; it is
        then as of this view, whatever the book does meanwhile (the next cycle follows the log from
        there)."""
        window = window_around(spans)
        size = self.params.bin_size
        bids, asks = window_levels(view.levels_between, window, size)
        cursor = view.change_cursor()
        self.binned = None
        build = in_sync_thread(BinnedBook.from_levels)
        binned = await self._waits.off_loop(build(bids, asks, size, cursor, window))
        self.binned = binned
        timings.rebuilt = True
        log.info("heatmap: binned the book around the band (%d levels)", binned.level_count)
        return binned

    async def _depth(self, now_ms: int, picture: BookPicture | None) -> None:
        """Push and keep the depth profile; once with live=false when the book stops being live."""
        if picture is not None:
            profile = self._overlay.of(picture, now_ms, live=True)
        elif self.last_depth is not None and self.last_depth["live"]:
            profile = self._overlay.greyed(self.last_depth)
        else:
            return
        self.last_depth = profile
        await self._send("depth", profile)
        due = self._depth_written_ms is None or now_ms - self._depth_written_ms >= DEPTH_WRITE_EVERY_MS
        if profile["live"] and not due:
            return
        self._depth_written_ms = now_ms
        try:
            await self._waits.off_loop(in_sync_thread(store.write_depth)(self.symbol, now_ms, profile))
        except Exception as exc:
            log.warning("heatmap depth write failed reason=%r", exc)

    async def _store(self, closed: OpenColumn) -> None:
        """Finish the closed column (worker thread), write it (and any the database refused before),
        then push it."""
        params = self.params
        finish = in_sync_thread(_finished_column)
        t, row, overlay = await self._waits.off_loop(finish(closed, params.bin_size))
        self._unwritten.append(row)
        rows = list(self._unwritten)
        try:
            await self._waits.off_loop(
                in_sync_thread(store.write_columns)(self.symbol, params.bin_size, params.column_s, rows)
            )
        except Exception as exc:
            self.write_failures += 1
            log.warning("heatmap column t=%d not written yet reason=%r", t, exc)
        else:
            self._unwritten.clear()
            self.columns_written += len(rows)
        await self._send(
            "heatmap", heatmap_document(self.symbol, params.bin_size, params.column_s, [overlay])
        )

    async def _send(self, kind: str, data: Any) -> None:
        if self.broadcaster is not None:
            await self.broadcaster.send(kind, data)

    async def _maybe_prune(self, now_ms: int) -> None:
        if self._next_prune_ms is not None and now_ms < self._next_prune_ms:
            return
        before_t = now_ms // 1000 - self.retention_s
        try:
            result = await in_sync_thread(store.prune_columns)(
                self.symbol, before_t, self.prune_batch_size, self.prune_max_batches
            )
        except Exception as exc:
            log.warning("heatmap prune failed reason=%r", exc)
            result = None
        # unfinished (a backlog): carry on next cycle, a few batches at a time
        self._next_prune_ms = (
            now_ms if result is not None and not result.finished else now_ms + self.prune_every_ms
        )


def _finished_column(closed: OpenColumn, bin_size: Decimal) -> tuple[int, StoredRow, dict[str, Any]]:
    """A closed column finished: its start, its stored row and its overlay (on a worker thread)."""
    column = finish_column(closed)
    return column.t, stored_row(column), column_overlay(column, bin_size)
