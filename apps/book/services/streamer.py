"""The one streaming task: owns the Binance socket and the book, publishes every cycle.

`OrderBookStreamer` is the facade the composition root, the tests and the benchmarks use; the work
is done by parts named for their jobs (each in its own module):

- `Connections` (connection.py): WebSocket connections, their reader tasks, the one frame queue;
- `ConnectionLoop` (connection_loop.py): connect, feed frames in, reconnect with backoff, the
  depth watchdog (`Watchdog`, watchdog.py, on an injected monotonic clock);
- `MakeBeforeBreak` (handover.py): the handover before Binance's 24 h limit and on serverShutdown;
- `FrameRouter` (frame_router.py): raw frame -> typed message (apps.book.domain.wire) -> handler;
- `BookSession` (book_session.py): the pure `DepthSynchronizer` driven, snapshots over REST;
- `PublicationLoop` (publish_loop.py): metrics + published book + health to the DB, listeners
  (zones, order blocks) on an immutable cycle with a read-only view of the book, pushes;
- `StreamStatus` (status.py) and `HealthCollector` (health.py): the public status, /api/health.
Frames from every connection are handled synchronously, one at a time, so an event is applied
atomically (no await inside apply). Bad frames are logged, counted and survived; the task only
ends on `stop()`. Wall time (`clock`) and monotonic time (`monotonic`) are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apps.book.domain.backoff import Backoff
from apps.book.domain.sync import DepthSynchronizer
from apps.book.services.book_session import BookSession
from apps.book.services.connection import Connections
from apps.book.services.connection_loop import ConnectionLoop
from apps.book.services.cycle import ClosingListener, DeltaSink, StreamListener
from apps.book.services.frame_router import FrameRouter
from apps.book.services.handover import MakeBeforeBreak
from apps.book.services.health import HealthCollector
from apps.book.services.lifetime import Lifetime
from apps.book.services.publish_loop import PublicationLoop, Published, Publisher
from apps.book.services.rest_client import BinanceRestClient
from apps.book.services.status import StreamStatus
from apps.book.services.watchdog import Watchdog
from apps.book.services.wire_tap import WireTap
from apps.core.sync_threads import in_sync_thread

__all__ = ["OrderBookStreamer", "Published", "Publisher", "StreamerSettings"]

log = logging.getLogger("apps.book.streamer")

# kline streams: 1h feeds the order blocks, 5m and 15m the chart's intraday timeframes
KLINE_INTERVALS = ("1h", "5m", "15m")


@dataclass(frozen=True)
class StreamerSettings:
    ws_url: str
    rest_url: str
    symbol: str
    depth_speed: str = "100ms"
    snapshot_limit: int = 5000
    watchdog_s: float = 10.0
    reconnect_after_s: float = 84600.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    buffer_max_events: int = 10_000
    rest_timeout_s: float = 10.0
    rest_weight_limit_1m: int = 6000
    rest_weight_reserve: int = 1000
    publish_interval_ms: int = 1000
    publish_top_n: int = 100
    imbalance_top_n: int = 20
    metrics_retention_h: float = 24.0
    stale_after_s: float = 5.0
    handover_timeout_s: float = 15.0

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> StreamerSettings:
        names = cls.__dataclass_fields__.keys()
        values = {name: getattr(config, name) for name in names if hasattr(config, name)}
        values["ws_url"] = config.binance_ws_url
        values["rest_url"] = config.binance_rest_url
        values.update(overrides)
        return cls(**values)

    @property
    def stream_url(self) -> str:
        sym = self.symbol.lower()
        depth = f"{sym}@depth@100ms" if self.depth_speed == "100ms" else f"{sym}@depth"
        klines = "/".join(f"{sym}@kline_{interval}" for interval in KLINE_INTERVALS)
        return f"{self.ws_url}/stream?streams={depth}/{sym}@aggTrade/{klines}"


class OrderBookStreamer:
    def __init__(
        self,
        settings: StreamerSettings,
        *,
        listeners: Sequence[StreamListener] = (),
        publisher: Publisher | None = None,
        pruner: Callable[[str, int], Awaitable[Any]] | None = None,
        broadcaster: DeltaSink | None = None,
        rest: BinanceRestClient | None = None,
        on_recovered: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        tap: WireTap | None = None,
    ) -> None:
        self.settings = settings
        # a recorder of the wire (apps/book/services/wire_tap.py), closed when the streamer stops
        self.tap = tap
        self.symbol = symbol = settings.symbol.upper()
        self.sync = sync = DepthSynchronizer(
            max_buffer=settings.buffer_max_events, snapshot_limit=settings.snapshot_limit
        )
        # the one REST client: snapshots here and, through the composition, the order blocks' candle
        # backfill share its weight budget
        self.rest = rest or BinanceRestClient.with_budget_from(
            settings.rest_url, settings, monotonic=monotonic
        )
        self.budget = self.rest.budget
        if tap is not None:
            self.rest.tap = tap
        self.lifetime = lifetime = Lifetime()
        self.watchdog = watchdog = Watchdog(settings.watchdog_s, monotonic)
        self.stream_status = status = StreamStatus(
            sync,
            watchdog,
            stale_after_s=settings.stale_after_s,
            symbol=symbol,
            broadcaster=broadcaster,
            lifetime=lifetime,
            clock=clock,
        )
        self.backoff = backoff = Backoff(settings.backoff_base_s, settings.backoff_cap_s, rng)
        self.connections = Connections(settings.stream_url, monotonic=monotonic, clock=clock)
        self.session = BookSession(
            settings,
            sync=sync,
            rest=self.rest,
            lifetime=lifetime,
            on_status=status.note,
            on_error=status.error,
            on_live=backoff.reset,
            on_recovered=on_recovered,
        )
        self._build_loops(listeners, publisher, pruner, broadcaster, clock, monotonic)
        self._build_views()

    def _build_loops(
        self,
        listeners: Sequence[StreamListener],
        publisher: Publisher | None,
        pruner: Callable[[str, int], Awaitable[Any]] | None,
        broadcaster: DeltaSink | None,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        """The parts that run: handover, publication, frame routing and the connection loop."""
        settings, sync, lifetime, status = self.settings, self.sync, self.lifetime, self.stream_status
        connections, session, watchdog, backoff = self.connections, self.session, self.watchdog, self.backoff
        self.handover = handover = MakeBeforeBreak(
            settings,
            connections=connections,
            sync=sync,
            lifetime=lifetime,
            backoff=backoff,
            release=session.on_depth,
            monotonic=monotonic,
        )
        self.publication = publication = PublicationLoop(
            settings,
            sync=sync,
            status=status,
            lifetime=lifetime,
            listeners=listeners,
            publisher=publisher,
            pruner=pruner,
            broadcaster=broadcaster,
            health=self.health,
            clock=clock,
            monotonic=monotonic,
        )
        self.router = FrameRouter(
            self.symbol,
            watchdog=watchdog,
            session=session,
            handover=handover,
            publication=publication,
            monotonic=monotonic,
        )
        self.connection = ConnectionLoop(
            connections=connections,
            handover=handover,
            session=session,
            sync=sync,
            watchdog=watchdog,
            status=status,
            lifetime=lifetime,
            backoff=backoff,
            on_frame=self.router.route,
            tap=self.tap,
        )

    def _build_views(self) -> None:
        """The collections other components and tests reach through the facade (shared, not copied)."""
        self.observers: list[Callable[[Published], None]] = self.publication.observers
        self.listeners: list[StreamListener] = self.publication.listeners
        # named entries other components add to /api/health, read at each publication
        # (e.g. "zones": why zones are paused; "simulator_url" under `serve --simulator`)
        self.health_sections: dict[str, Callable[[], Any]] = {}
        self.frames: Counter[str] = self.router.frames
        self.bad_frames: Counter[str] = self.router.bad_frames
        self.reconnects: Counter[str] = self.connection.reconnects
        self.listener_errors: Counter[str] = self.publication.listener_errors
        self._health = HealthCollector(
            symbol=self.symbol,
            sync=self.sync,
            status=self.stream_status,
            watchdog=self.watchdog,
            connections=self.connections,
            connection=self.connection,
            handover=self.handover,
            session=self.session,
            router=self.router,
            publication=self.publication,
            rest=self.rest,
            sections=self.health_sections,
        )

    # -- public ---------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """Public status; "stale" while in sync but no depth event arrived for STALE_AFTER_S."""
        return self.stream_status.current

    @property
    def snapshots_fetched(self) -> int:
        return self.session.snapshots_fetched

    @property
    def snapshots_too_old(self) -> int:
        return self.session.snapshots_too_old

    @property
    def handovers(self) -> int:
        return self.handover.handovers

    @property
    def published(self) -> int:
        return self.publication.published

    @property
    def last_backoff_s(self) -> float:
        return self.connection.last_backoff_s

    @property
    def connected_since_ms(self) -> int | None:
        return self.connections.connected_since_ms

    def health(self) -> dict[str, Any]:
        return self._health.collect()

    def stop(self) -> None:
        self.lifetime.stop()
        self.connections.nudge()

    def request_resync(self, reason: str = "requested") -> None:
        """Control message: discard the book and rebuild it from a fresh snapshot."""
        self.session.request_resync(reason)
        self.connections.nudge()

    async def publish_once(self) -> None:
        await self.publication.publish_once()

    async def _close_listeners(self) -> None:
        for listener in self.listeners:
            if isinstance(listener, ClosingListener):
                try:
                    await listener.aclose()
                except Exception as exc:  # shutting down: log it, close the others
                    log.warning("listener %s did not close cleanly reason=%r", type(listener).__name__, exc)

    async def run(self) -> None:
        """Run until `stop()`. Never raises on bad data or network faults."""
        log.info("streamer starting symbol=%s url=%s", self.symbol, self.settings.stream_url)
        publisher = asyncio.create_task(self.publication.run(), name="orderbook-publish")
        self.lifetime.spawn(self.rest.refresh_exchange_info(self.symbol), name="orderbook-exchange-info")
        try:
            await self.connection.run()
        finally:
            self.lifetime.stop()
            # Let a publication in progress finish (it never starts another once stopped).
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(publisher), 5)
            publisher.cancel()
            self.lifetime.cancel_all()
            self.session.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await publisher
            await self.connections.close_all("shutdown")
            await self._close_listeners()
            await self.rest.aclose()
            if self.tap is not None:
                await in_sync_thread(self.tap.close)()
            log.info("streamer stopped")
