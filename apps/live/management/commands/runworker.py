"""`runworker` that starts streaming on boot when it serves the `orderbook` channel.

Channels' worker only reacts to messages, and the scale-out layout needs exactly one streamer
running without waiting for a first message; this subclass starts it next to the listener and
stops it cleanly on SIGTERM/SIGINT. Control messages arrive on the `orderbook` channel
(apps.live.consumers.OrderBookWorkerConsumer), which finds the streamer in its scope.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from channels.management.commands.runworker import Command as ChannelsRunworker
from channels.worker import Worker
from django.conf import settings

from apps.book.domain.data_source import SourceKind
from apps.book.services.data_sources import claim_source_for_command
from apps.book.services.streamer import OrderBookStreamer
from apps.core.database_state import require_migrated
from apps.live.consumers import STREAMER_SCOPE_KEY
from apps.live.runtime import build_streamer, run_streamer

log = logging.getLogger("apps.live.worker")
STREAM_CHANNEL = "orderbook"


class StreamingWorker(Worker):
    streamer: OrderBookStreamer | None = None

    def get_or_create_application_instance(self, scope_id: str, scope: dict[str, Any]) -> Any:
        """Every consumer this worker runs sees the streamer in its scope."""
        if self.streamer is not None:
            scope = {**scope, STREAMER_SCOPE_KEY: self.streamer}
        return super().get_or_create_application_instance(scope_id, scope)

    async def handle(self) -> None:
        if STREAM_CHANNEL not in self.channels:
            await super().handle()
            return
        streamer = self.streamer = build_streamer(settings.CONFIG)
        stream_task = asyncio.create_task(run_streamer(streamer), name="streamer")
        listen_task = asyncio.create_task(super().handle(), name="channel-listener")
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        log.info("worker streaming %s and listening on %s", settings.CONFIG.symbol, self.channels)
        stop_wait = asyncio.create_task(stopping.wait())
        await asyncio.wait({stream_task, listen_task, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        streamer.stop()
        listen_task.cancel()
        try:
            await asyncio.wait_for(stream_task, 10)
        except (TimeoutError, asyncio.CancelledError):
            stream_task.cancel()
        log.info("worker stopped")


class Command(ChannelsRunworker):
    help = "Channels worker; with the `orderbook` channel it also runs the order-book streamer."
    worker_class = StreamingWorker

    def handle(self, *args: Any, **options: Any) -> None:
        if STREAM_CHANNEL in options.get("channels", ()):
            require_migrated()
            claim_source_for_command(SourceKind.BINANCE, settings.CONFIG.binance_ws_url)
        super().handle(*args, **options)
