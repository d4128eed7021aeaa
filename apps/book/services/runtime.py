"""Composition root of the streaming side: builds the one streamer with its adapters.

`build_streamer` wires the pure book/sync core to the DB publisher, the channel-layer
broadcaster and the zone / order-block listeners. `run_streamer` runs it until stopped and keeps
a process-wide handle so control messages (the `orderbook` worker channel) can reach it.
"""

from __future__ import annotations

import logging
from typing import Any

from apps.book.domain.metrics import BookView
from apps.book.services.cycle import StreamListener
from apps.book.services.publication import prune_metrics, write_publication
from apps.book.services.streamer import OrderBookStreamer, StreamerSettings
from apps.overlays.broadcast import OverlayBroadcaster
from project.garbage_collection import collect_after_recovery
from project.sync_threads import in_sync_thread

log = logging.getLogger("apps.book.runtime")

_current: OrderBookStreamer | None = None


def current_streamer() -> OrderBookStreamer | None:
    """The streamer running in this process, if any."""
    return _current


# The streamer's writes run on the sync pool (project/sync_threads.py), not on the one thread that
# serves every sync Django view in this process, so page/API requests never queue behind them.
async def publish_to_db(symbol: str, ts_ms: int, status: str, view: BookView | None, health: dict[str, Any]) -> None:
    await in_sync_thread(write_publication)(symbol, ts_ms, status, view, health)


async def prune_metrics_async(symbol: str, older_than_ms: int) -> int:
    return await in_sync_thread(prune_metrics)(symbol, older_than_ms)


def build_streamer(config: Any, *, with_listeners: bool = True, **overrides: Any) -> OrderBookStreamer:
    from apps.orderblocks.services.live import OrderBlockListener
    from apps.zones.services.live import ZoneCycleListener

    settings = StreamerSettings.from_config(config, **overrides)
    broadcaster = OverlayBroadcaster(settings.symbol)
    listeners: list[StreamListener] = []
    zones: ZoneCycleListener | None = None
    if with_listeners:
        zones = ZoneCycleListener(config, broadcaster)
        listeners = [zones, OrderBlockListener(config, broadcaster)]
    streamer = OrderBookStreamer(
        settings,
        listeners=listeners,
        publisher=publish_to_db,
        pruner=prune_metrics_async,
        broadcaster=broadcaster,
        on_recovered=collect_after_recovery,
    )
    if zones is not None:
        zone_listener = zones

        def zone_state() -> dict[str, Any]:
            return zone_listener.state.as_dict()  # read each time: the listener replaces its state

        streamer.health_sections["zones"] = zone_state
    return streamer


async def run_streamer(streamer: OrderBookStreamer) -> None:
    global _current
    _current = streamer
    try:
        await streamer.run()
    finally:
        _current = None
