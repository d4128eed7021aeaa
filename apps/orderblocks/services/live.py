"""The streamer's order-block listener: live `<symbol>@kline_1h` candles in, stored candles, "candle"
and "orderblocks" push messages and the hourly incremental run out.

- every closed kline (x=true) is stored (idempotent) and broadcast as kind "candle", tf "1h",
  closed=True, followed by the 4h and 1d candles it belongs to (tf "4h"/"1d", aggregated from the
  stored hours: apps.orderblocks.services.aggregates); open-candle pushes are followed by them too;
- updates of the open candle are held and broadcast as kind "candle", closed=False, with the next
  publication cycle (at most once a cycle, right after its "metrics" message): Binance sends them
  every ~2 s at any moment, and a push of its own in the middle of a cycle would make that cycle's
  deltas wait behind a fan-out to every client;
- OB_RUN_DELAY_S after each close the incremental order-block run starts (one at a time; closes that
  arrive meanwhile are covered by one more run), and its new/changed blocks are broadcast as kind
  "orderblocks" {"added": [...], "changed": [...]};
- a closed candle that does not follow the last stored one reveals a gap: it is logged and, when a
  REST client was passed in (the streamer's, which carries the shared weight budget), backfilled
  before the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async

from apps.book.domain.events import Kline
from apps.book.services.cycle import DeltaSink
from apps.orderblocks.domain.candles import HOUR_MS, Bar, KlineError, bar_of
from apps.orderblocks.presentation import candle_overlay
from apps.orderblocks.services.aggregates import AggregatedCandles
from apps.orderblocks.services.backfill import KlineSource, backfill_candles
from apps.orderblocks.services.candles import CandleTableError, latest_open_time_ms, store_bars
from apps.orderblocks.services.jobs import RunSummary, run_orderblocks

log = logging.getLogger("apps.orderblocks.live")


class OrderBlockListener:
    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink,
        *,
        rest_client: KlineSource | None = None,
        run: Callable[..., RunSummary] = run_orderblocks,
    ) -> None:
        self.config = config
        self.symbol = config.symbol
        self.broadcaster = broadcaster
        self._rest_client = rest_client
        self._run = run
        self._open_bar: Bar | None = None  # the latest open-candle update not pushed yet
        self._last_closed_ms: int | None = None
        self._known_last = False
        self._run_task: asyncio.Task[None] | None = None
        self._rerun = False
        self._backfills: set[asyncio.Task[None]] = set()
        self._aggregates = AggregatedCandles()
        self.last_run: RunSummary | None = None
        self.runs = 0
        self.gaps_seen = 0
        self.bad_klines = 0

    async def on_cycle(self, cycle: Any) -> None:
        bar, self._open_bar = self._open_bar, None
        if bar is not None:
            await self.broadcaster.send("candle", candle_overlay(bar, closed=False, tf="1h"))
            for overlay in await self._aggregates.with_open(bar):
                await self.broadcaster.send("candle", overlay)

    async def on_kline(self, kline: Kline) -> None:
        if kline.interval != "1h":
            return
        try:
            bar = bar_of(kline)
        except KlineError as exc:
            self.bad_klines += 1
            log.warning("kline ignored reason=%s", exc)
            return
        if kline.symbol != self.symbol:
            return
        if not kline.closed:
            self._open_bar = bar
            return
        if self._open_bar is not None and self._open_bar.open_time_ms <= bar.open_time_ms:
            self._open_bar = None  # the close supersedes it
        await self._on_closed(bar)

    async def _on_closed(self, bar: Bar) -> None:
        if not self._known_last:
            self._last_closed_ms = await sync_to_async(latest_open_time_ms)()
            self._known_last = True
        previous = self._last_closed_ms
        result = await sync_to_async(store_bars)([bar])
        if previous is None or bar.open_time_ms > previous:
            self._last_closed_ms = bar.open_time_ms
        log.info(
            "candle closed open_time=%s close=%s stored=%s",
            bar.open_time_ms,
            bar.close,
            "new" if result.inserted else "updated" if result.updated else "unchanged",
        )
        await self.broadcaster.send("candle", candle_overlay(bar, closed=True, tf="1h"))
        for overlay in await self._aggregates.on_closed(bar):
            await self.broadcaster.send("candle", overlay)
        if previous is not None and bar.open_time_ms - previous > HOUR_MS:
            self._on_gap(previous, bar.open_time_ms)
        self._schedule_run()

    def _on_gap(self, after_ms: int, before_ms: int) -> None:
        self.gaps_seen += 1
        missing = (before_ms - after_ms) // HOUR_MS - 1
        client = self._rest_client
        if client is None:
            log.warning(
                "candle gap: %d missing hour(s) after %d, no REST client to backfill it", missing, after_ms
            )
            return
        log.warning("candle gap: %d missing hour(s) after %d, backfilling", missing, after_ms)
        task = asyncio.create_task(self._backfill(client))
        self._backfills.add(task)
        task.add_done_callback(self._backfills.discard)

    async def _backfill(self, client: KlineSource) -> None:
        try:
            summary = await backfill_candles(client, self.symbol)
        except Exception as exc:  # the gap stays; the next run still works on what is stored
            log.warning("candle gap backfill failed reason=%r", exc)
            return
        self._aggregates.forget()
        log.info("candle gap backfill done: %s", summary.describe())

    def _schedule_run(self) -> None:
        if self._run_task is not None and not self._run_task.done():
            self._rerun = True
            return
        self._run_task = asyncio.create_task(self._delayed_runs())

    async def _delayed_runs(self) -> None:
        while True:
            await asyncio.sleep(self.config.ob_run_delay_s)
            if self._backfills:
                await asyncio.gather(*self._backfills, return_exceptions=True)
            self._rerun = False  # closes so far are covered by this run; later ones ask for another
            try:
                summary = await sync_to_async(self._run)(full=False, config=self.config)
            except CandleTableError as exc:  # a known state of the data: one line, no traceback
                log.error("order-block run refused: %s", exc)
                summary = None
            except Exception:
                log.exception("order-block run failed; the next closed candle retries")
                summary = None
            if summary is not None:
                self.runs += 1
                self.last_run = summary
                if summary.has_changes:
                    await self.broadcaster.send("orderblocks", summary.overlay_delta())
            if not self._rerun:
                return

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no run or backfill is pending (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            while (self._run_task is not None and not self._run_task.done()) or self._backfills:
                pending = [t for t in (self._run_task, *self._backfills) if t is not None and not t.done()]
                await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        tasks = [t for t in (self._run_task, *self._backfills) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
