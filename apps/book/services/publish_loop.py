"""The publication loop: every PUBLISH_INTERVAL_MS, publish what the book is now.

One cycle: capture the published view (top N + metrics; no await before the copy), tell in-process
observers, push "metrics", run each listener (zones, order blocks) on an immutable `PublishCycle`
with a read-only view of the book, then persist the publication with health taken after the
listeners, so it describes this same cycle. Klines go to the listeners as they arrive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.book.domain.events import Kline, Trade
from apps.book.domain.metrics import BookView, capture_view
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.book.domain.sync import DepthSynchronizer
from apps.book.presentation import metrics_dict
from apps.book.services.cycle import DeltaSink, PublishCycle, StreamListener
from apps.book.services.lifetime import Lifetime
from apps.book.services.status import StreamStatus
from apps.core.repeated_errors import RepeatedErrors

log = logging.getLogger("apps.book.streamer")

MAX_TRADES_PER_CYCLE = 50_000
PRUNE_EVERY_CYCLES = 60


@dataclass(frozen=True)
class Published:
    """One publication as seen by in-process observers (tests, benchmarks)."""

    ts_ms: int
    status: str
    view: BookView | None


@dataclass
class PublicationFailures:
    """Failed publications (the database write, mostly): how many, how many in a row now, the last
    error. In /api/health's `stream.storage` once a publication succeeds again; while they fail,
    readers see the published row age (`missed_publications`)."""

    total: int = 0
    in_a_row: int = 0
    last_error: str | None = None
    last_error_ms: int | None = None

    def failed(self, exc: BaseException, now_ms: int) -> None:
        self.total += 1
        self.in_a_row += 1
        self.last_error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        self.last_error_ms = now_ms

    def succeeded(self) -> None:
        self.in_a_row = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "failed_publications": self.total,
            "failed_in_a_row": self.in_a_row,
            "last_error": {"text": self.last_error, "ts_ms": self.last_error_ms} if self.last_error else None,
        }


Publisher = Callable[[str, int, str, BookView | None, dict[str, Any]], Awaitable[None]]
Pruner = Callable[[str, int], Awaitable[Any]]


class PublicationLoop:
    def __init__(
        self,
        settings: Any,  # publish_interval_ms, publish_top_n, imbalance_top_n, metrics_retention_h
        *,
        sync: DepthSynchronizer,
        status: StreamStatus,
        lifetime: Lifetime,
        listeners: Sequence[StreamListener] = (),
        publisher: Publisher | None = None,
        pruner: Pruner | None = None,
        broadcaster: DeltaSink | None = None,
        health: Callable[[], dict[str, Any]] = dict,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.symbol: str = settings.symbol.upper()
        self.sync = sync
        self.status = status
        self.lifetime = lifetime
        self.listeners = list(listeners)
        self.observers: list[Callable[[Published], None]] = []
        self.publisher = publisher
        self.pruner = pruner
        self.broadcaster = broadcaster
        self.health = health
        self._clock = clock
        self._monotonic = monotonic
        self.published = 0
        self.listener_errors: Counter[str] = Counter()
        self.errors = RepeatedErrors(log, clock=monotonic)  # a failure per cycle: one line, not one each
        self.failures = PublicationFailures()
        self._trades: list[Trade] = []
        self._published_status = ""

    def add_trade(self, trade: Trade) -> None:
        if len(self._trades) < MAX_TRADES_PER_CYCLE:
            self._trades.append(trade)

    def on_kline(self, kline: Kline) -> None:
        for listener in self.listeners:
            self.lifetime.spawn(self.call_listener(listener.on_kline(kline), "on_kline"))

    async def run(self) -> None:
        interval = self.settings.publish_interval_ms / 1000
        cycles = 0
        next_at = self._monotonic()
        while not self.lifetime.stopped:
            next_at += interval
            await self.lifetime.sleep(max(0.0, next_at - self._monotonic()))
            if self.lifetime.stopped:
                return
            if next_at < self._monotonic() - interval:  # we fell behind: do not burst
                next_at = self._monotonic()
            cycles += 1
            try:
                await self.publish_once()
                if self.pruner is not None and cycles % PRUNE_EVERY_CYCLES == 1:
                    cutoff = int(self._clock() * 1000 - self.settings.metrics_retention_h * 3_600_000)
                    await self.pruner(self.symbol, cutoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listener_errors["publish"] += 1
                self.failures.failed(exc, int(self._clock() * 1000))
                self.errors.error("publication", exc)
            else:
                self.failures.succeeded()
                self.errors.ok("publication")

    async def publish_once(self) -> None:
        """Capture the book (no await before the copy), notify, run listeners, then persist the
        publication with health taken after the listeners so it describes this same cycle."""
        now_ms = int(self._clock() * 1000)
        top_n, imbalance_n = self.settings.publish_top_n, self.settings.imbalance_top_n
        view = capture_view(self.sync.book, top_n, imbalance_n) if self.sync.ready else None
        status = self.status.current
        self.status.note(status)  # catches time-driven changes (live <-> stale)
        trades, self._trades = tuple(self._trades), []
        published = Published(now_ms, status, view)
        for observer in self.observers:
            observer(published)
        self.published += 1
        if self.broadcaster is not None and view is not None and view.metrics is not None:
            await self.broadcaster.send("metrics", metrics_dict(self.symbol, now_ms, view.metrics))
        for listener in self.listeners:
            await self.call_listener(listener.on_cycle(self._cycle(now_ms, trades)), "on_cycle")
        if self.publisher is not None:
            await self.publisher(self.symbol, now_ms, status, view, self.health())
        if status != self._published_status:
            log.info("published status=%s update_id=%s", status, view.update_id if view else None)
            self._published_status = status

    def _cycle(self, now_ms: int, trades: tuple[Trade, ...]) -> PublishCycle:
        """This listener's cycle, taken now: the book may have changed while earlier ones awaited."""
        ready = self.sync.ready
        return PublishCycle(
            now_ms=now_ms,
            symbol=self.symbol,
            status=self.status.current,
            book=BookSnapshotView.capture(self.sync.book) if ready else None,
            update_id=self.sync.book.update_id if ready else None,
            trades=trades,
        )

    async def call_listener(self, call: Awaitable[None], what: str) -> None:
        try:
            await call
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.listener_errors[what] += 1
            self.errors.error(f"listener {what}", exc)
        else:
            self.errors.ok(f"listener {what}")
