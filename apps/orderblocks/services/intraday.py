"""The streamer's listener for the chart's intraday timeframes: live `<symbol>@kline_5m` and
`@kline_15m` candles in, their tables (btc_eur_5m, btc_eur_15m) and "candle" pushes out.

The same procedure as the 1h candles (apps.orderblocks.services.live), per timeframe:
- every closed kline (x=true) is stored (idempotent) and pushed as kind "candle" with its `tf` and
  closed=True; updates of the open candle are held and pushed with the next publication cycle,
  latest only;
- at the first cycle each table is caught up over REST (the streamer's client and weight budget):
  everything closed since its last stored candle, never more than CANDLE_RETENTION_D_INTRADAY days
  back (an empty table gets that whole window), then its gaps inside the window;
- a closed candle that does not follow the last stored one (after a reconnect or a stall) reveals a
  gap: logged and caught up the same way (one catch-up per timeframe at a time; a gap found while
  one runs asks for one more);
- candles older than the retention are pruned in batches off the cycle, every PRUNE_EVERY_MS, a few
  batches at a time until the backlog is gone.
The order-block engine never sees these candles: it only reacts to 1h closes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

from apps.book.domain.events import Kline
from apps.book.services.cycle import DeltaSink, PublishCycle
from apps.core.sync_threads import in_sync_thread
from apps.orderblocks.domain.candles import Bar, KlineError, bar_of
from apps.orderblocks.domain.timeframes import DAY_MS, INTRADAY, timeframe_ms
from apps.orderblocks.presentation import candle_overlay
from apps.orderblocks.services.backfill import BackfillSummary, KlineSource, backfill_candles
from apps.orderblocks.services.candles import PruneResult, latest_open_time_ms, prune_candles, store_bars

log = logging.getLogger("apps.orderblocks.intraday")

PRUNE_EVERY_MS = 600_000
PRUNE_BATCH = 5000
PRUNE_MAX_BATCHES = 4


def retention_cutoff_ms(now_ms: int, retention_days: float) -> int:
    """Open time before which intraday candles are neither fetched nor kept."""
    return now_ms - int(retention_days * DAY_MS)


class IntradayCandleListener:
    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink,
        *,
        rest_client: KlineSource | None = None,
        clock: Callable[[], float] = time.time,
        prune_every_ms: int = PRUNE_EVERY_MS,
    ) -> None:
        self.symbol = config.symbol
        self.retention_days: float = config.candle_retention_d_intraday
        self.broadcaster = broadcaster
        self._rest_client = rest_client
        self._clock = clock
        self._prune_every_ms = prune_every_ms
        self._open: dict[str, Bar] = {}  # per tf: the latest open-candle update not pushed yet
        self._last_closed: dict[str, int | None] = {}
        self._catch_ups: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._started = False
        self._next_prune_ms: int | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self.backfills: dict[str, BackfillSummary] = {}  # the last catch-up of each tf
        self.gaps_seen: Counter[str] = Counter()
        self.stored: Counter[str] = Counter()
        self.pruned: Counter[str] = Counter()
        self.bad_klines = 0

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def on_cycle(self, cycle: PublishCycle | None) -> None:
        now_ms = cycle.now_ms if cycle is not None else self._now_ms()
        if not self._started:
            self._started = True
            for tf in INTRADAY:
                self._catch_up(tf)
        held, self._open = self._open, {}
        for tf, bar in held.items():
            await self.broadcaster.send("candle", candle_overlay(bar, closed=False, tf=tf))
        self._maybe_prune(now_ms)

    async def on_kline(self, kline: Kline) -> None:
        tf = kline.interval
        if tf not in INTRADAY or kline.symbol != self.symbol:
            return
        try:
            bar = bar_of(kline, timeframe_ms(tf))
        except KlineError as exc:
            self.bad_klines += 1
            log.warning("%s kline ignored reason=%s", tf, exc)
            return
        if not kline.closed:
            self._open[tf] = bar
            return
        held = self._open.get(tf)
        if held is not None and held.open_time_ms <= bar.open_time_ms:
            del self._open[tf]  # the close supersedes it
        await self._on_closed(tf, bar)

    async def _on_closed(self, tf: str, bar: Bar) -> None:
        if tf not in self._last_closed:
            self._last_closed[tf] = await sync_to_async(latest_open_time_ms)(tf)
        previous = self._last_closed[tf]
        await sync_to_async(store_bars)([bar], tf)
        self.stored[tf] += 1
        if previous is None or bar.open_time_ms > previous:
            self._last_closed[tf] = bar.open_time_ms
        step = timeframe_ms(tf)
        if previous is not None and bar.open_time_ms - previous > step:
            self.gaps_seen[tf] += 1
            missing = (bar.open_time_ms - previous) // step - 1
            log.warning("%s candle gap: %d missing after %d, backfilling", tf, missing, previous)
            self._catch_up(tf)
        await self.broadcaster.send("candle", candle_overlay(bar, closed=True, tf=tf))

    # -- catch-up over REST ------------------------------------------------------------------
    def _catch_up(self, tf: str) -> None:
        if self._rest_client is None:
            return
        running = self._catch_ups.get(tf)
        if running is not None and not running.done():
            self._again.add(tf)
            return
        self._catch_ups[tf] = asyncio.create_task(self._catch_up_runs(tf, self._rest_client))

    async def _catch_up_runs(self, tf: str, client: KlineSource) -> None:
        while True:
            self._again.discard(tf)
            now_ms = self._now_ms()
            try:
                summary = await backfill_candles(
                    client,
                    self.symbol,
                    tf=tf,
                    keep_from_ms=retention_cutoff_ms(now_ms, self.retention_days),
                    now_ms=now_ms,
                )
            except Exception as exc:  # the next gap (or restart) tries again; live closes still land
                log.warning("%s candle backfill failed reason=%r", tf, exc)
            else:
                self.backfills[tf] = summary
                known = self._last_closed.get(tf)
                if summary.last_ms is not None and (known is None or summary.last_ms > known):
                    self._last_closed[tf] = summary.last_ms
            if tf not in self._again:
                return

    # -- retention ---------------------------------------------------------------------------
    def _maybe_prune(self, now_ms: int) -> None:
        if self._prune_task is not None and not self._prune_task.done():
            return
        if self._next_prune_ms is not None and now_ms < self._next_prune_ms:
            return
        self._prune_task = asyncio.create_task(self._prune(now_ms))

    async def _prune(self, now_ms: int) -> None:
        cutoff = retention_cutoff_ms(now_ms, self.retention_days)
        finished = True
        for tf in INTRADAY:
            try:
                result: PruneResult = await in_sync_thread(prune_candles)(
                    tf, cutoff, batch_size=PRUNE_BATCH, max_batches=PRUNE_MAX_BATCHES
                )
            except Exception as exc:
                log.warning("%s candle prune failed reason=%r", tf, exc)
                continue
            self.pruned[tf] += result.deleted
            finished = finished and result.finished
        # a backlog (a lowered retention, a long stop): carry on next cycle, a few batches at a time
        self._next_prune_ms = now_ms if not finished else now_ms + self._prune_every_ms

    # -- tests, shutdown ---------------------------------------------------------------------
    def _pending(self) -> list[asyncio.Task[None]]:
        tasks = [*self._catch_ups.values(), self._prune_task]
        return [t for t in tasks if t is not None and not t.done()]

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no catch-up or prune is running."""
        async with asyncio.timeout(timeout):
            while pending := self._pending():
                await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        pending = self._pending()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
