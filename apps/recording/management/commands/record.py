"""python manage.py record --out FILE [--minutes N]: record the Binance wire to gzip files.

Connects exactly as the streamer does (the same streamer: BINANCE_WS_URL / BINANCE_REST_URL, SYMBOL,
the depth, aggTrade and kline streams, the depth snapshots it syncs with, exchangeInfo) and records
every frame and REST body, plus the last --klines candles of each kline interval at the start (so a
replay has a candle history). Nothing goes to the database. Until --minutes have passed or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.book.services.rest_client import RestError
from apps.book.services.streamer import KLINE_INTERVALS, OrderBookStreamer, StreamerSettings
from apps.recording.services.recorder import FileRecorder

log = logging.getLogger("apps.recording")


class Command(BaseCommand):
    help = "Record the streamer's Binance frames and REST answers to hourly gzip files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="a file (later hours beside it) or a directory")
        parser.add_argument(
            "--minutes", type=float, default=None, help="stop after this long (default: SIGINT)"
        )
        parser.add_argument(
            "--klines",
            type=int,
            default=1000,
            help="candles per kline interval fetched at the start (0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        minutes = options["minutes"]
        if minutes is not None and not 0 < minutes <= 60 * 24 * 366:
            raise CommandError("--minutes: must be above 0 (and at most a year)")
        if not 0 <= options["klines"] <= 1000:
            raise CommandError("--klines: must be 0..1000 (one request per interval)")
        config = settings.CONFIG
        try:
            recorder = FileRecorder(
                options["out"],
                symbol=config.symbol,
                snapshot_limit=config.snapshot_limit,
                queue_max=config.record_queue_lines,
                header={"ws_url": config.binance_ws_url, "rest_url": config.binance_rest_url},
            )
        except OSError as exc:
            raise CommandError(f"--out: {exc}") from exc
        streamer = OrderBookStreamer(StreamerSettings.from_config(config), tap=recorder)
        asyncio.run(self._record(streamer, minutes, options["klines"]))
        health = recorder.health()
        self.stdout.write(
            f"recorded {health['lines_written']:,} lines to {health['files']} file(s) "
            f"({', '.join(str(p) for p in recorder.files.files)}); {health['lines_dropped']} dropped, "
            f"{health['write_errors']} write errors; {streamer.sync.events_applied:,} depth events applied, "
            f"{streamer.snapshots_fetched} snapshot(s), reconnects {dict(streamer.reconnects)}"
        )

    async def _record(self, streamer: OrderBookStreamer, minutes: float | None, klines: int) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, streamer.stop)
        running = asyncio.create_task(streamer.run(), name="record-streamer")
        if klines:
            await self._candle_history(streamer, klines)
        self.stdout.write(f"recording {streamer.symbol} from {streamer.settings.stream_url}")
        self.stdout.flush()
        done, _ = await asyncio.wait({running}, timeout=minutes * 60 if minutes is not None else None)
        if not done:
            streamer.stop()
        await running

    async def _candle_history(self, streamer: OrderBookStreamer, limit: int) -> None:
        """The last `limit` candles of each kline interval, through the streamer's REST client (and so
        into the recording)."""
        for interval in KLINE_INTERVALS:
            try:
                rows = await streamer.rest.get_klines(streamer.symbol, interval, None, None, limit)
            except RestError as exc:
                log.warning("klines %s not recorded: %s", interval, exc)
                continue
            log.info("recorded %d %s candles", len(rows), interval)
