"""Composition root of the streaming side: builds the one streamer with its adapters.

`build_streamer` wires the pure book/sync core to the DB publisher, the channel-layer
broadcaster and the zone / order-block / heatmap / intraday-candle / alert / reaction / confluence
listeners (the alert listener is handed the zone and order-block listeners, the reaction listener the
zone set, the confluence listener the live zones and the order-block run count: they react to their
results); the collaborators are
passed in (the streamer's REST client, which carries the shared weight budget, goes to the candle
listeners for their backfills). With RECORD_DIR set it also gets a recorder as its wire tap
(apps/recording: off the event loop, its counters in /api/health `stream.recording`).
`run_streamer` runs it until stopped.
"""

from __future__ import annotations

import logging
from typing import Any

from apps.alerts.services.live import AlertListener
from apps.book.domain.metrics import BookView
from apps.book.services.cycle import StreamListener
from apps.book.services.publication import prune_metrics, write_publication
from apps.book.services.rest_client import BinanceRestClient
from apps.book.services.streamer import OrderBookStreamer, StreamerSettings
from apps.confluence.services.live import ConfluenceListener
from apps.core.database_state import DatabaseFileWatch
from apps.core.garbage_collection import collect_after_recovery
from apps.core.sync_threads import in_sync_thread
from apps.heatmap.services.live import HeatmapListener
from apps.orderblocks.services.intraday import IntradayCandleListener
from apps.orderblocks.services.live import OrderBlockListener
from apps.overlays.broadcast import OverlayBroadcaster
from apps.reactions.services.live import ReactionListener
from apps.recording.services.recorder import FileRecorder
from apps.zones.services.live import ZoneCycleListener

log = logging.getLogger("apps.live.runtime")


class DatabasePublisher:
    """Writes each publication on the sync pool (apps/core/sync_threads.py), not on the one thread
    that serves every sync Django view in this process, so page/API requests never queue behind
    it; refuses to write once the SQLite file it started with is gone or replaced (the write would
    land in an unlinked file and be lost at the next start): the publication fails loudly."""

    def __init__(self, watch: DatabaseFileWatch) -> None:
        self.watch = watch

    def write(
        self, symbol: str, ts_ms: int, status: str, view: BookView | None, health: dict[str, Any]
    ) -> None:
        self.watch.check()
        write_publication(symbol, ts_ms, status, view, health)

    async def __call__(
        self, symbol: str, ts_ms: int, status: str, view: BookView | None, health: dict[str, Any]
    ) -> None:
        await in_sync_thread(self.write)(symbol, ts_ms, status, view, health)


async def prune_metrics_async(symbol: str, older_than_ms: int) -> int:
    return await in_sync_thread(prune_metrics)(symbol, older_than_ms)


def build_recorder(config: Any, settings: StreamerSettings) -> FileRecorder | None:
    """The recorder RECORD_DIR asks for (None when it is empty)."""
    if not config.record_dir:
        return None
    recorder = FileRecorder(
        config.record_dir,
        symbol=settings.symbol,
        snapshot_limit=settings.snapshot_limit,
        queue_max=config.record_queue_lines,
        header={"ws_url": settings.ws_url, "rest_url": settings.rest_url},
        directory=True,
    )
    log.info("recording the wire to %s", config.record_dir)
    return recorder


def build_streamer(config: Any, *, with_listeners: bool = True, **overrides: Any) -> OrderBookStreamer:
    settings = StreamerSettings.from_config(config, **overrides)
    broadcaster = OverlayBroadcaster(settings.symbol)
    rest = BinanceRestClient.with_budget_from(settings.rest_url, settings)
    listeners: list[StreamListener] = []
    zones: ZoneCycleListener | None = None
    alerts: AlertListener | None = None
    reactions: ReactionListener | None = None
    confluence: ConfluenceListener | None = None
    if with_listeners:
        zones = ZoneCycleListener(config, broadcaster)
        orderblocks = OrderBlockListener(config, broadcaster, rest_client=rest)
        # after zones in the cycle: it reads the zone listener's update of this same cycle
        alerts = AlertListener(config, broadcaster, zones=zones, orderblocks=orderblocks)
        # after the zone listener: a reaction reads the zone set of the same cycle
        reactions = ReactionListener(config, broadcaster, zones=zones.tracker.current)
        # last: it reads this cycle's zones, and the heatmap column finished this cycle; the block set
        # again after each order-block run
        confluence = ConfluenceListener(
            config, broadcaster, zones=zones.live_zones, blocks_version=lambda: orderblocks.runs
        )
        listeners = [
            zones,
            orderblocks,
            HeatmapListener(config, broadcaster),
            IntradayCandleListener(config, broadcaster, rest_client=rest),
            alerts,
            reactions,
            confluence,
        ]
    streamer = OrderBookStreamer(
        settings,
        listeners=listeners,
        publisher=DatabasePublisher(DatabaseFileWatch.of_database()),
        pruner=prune_metrics_async,
        broadcaster=broadcaster,
        rest=rest,
        on_recovered=collect_after_recovery,
        tap=(recorder := build_recorder(config, settings)),
    )
    if recorder is not None:
        streamer.health_sections["recording"] = recorder.health  # lines written, dropped, errors
    if zones is not None:
        streamer.health_sections["zones"] = zones.health  # state, cycles, failures, last error
    if alerts is not None:
        streamer.health_sections["alerts"] = alerts.health  # fired, cooldown, webhook delivery
    if reactions is not None:
        streamer.health_sections["reactions"] = reactions.health  # pending, recorded, failures
    if confluence is not None:
        streamer.health_sections["confluence"] = confluence.health  # computing, measured, failures
    return streamer


async def run_streamer(streamer: OrderBookStreamer) -> None:
    """Run the streamer until it is stopped (its `run` never raises on bad data or faults)."""
    await streamer.run()
