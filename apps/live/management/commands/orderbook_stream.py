"""python manage.py orderbook_stream: the streamer alone (no web server)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.book.domain.data_source import SourceKind
from apps.book.services.data_sources import claim_source_for_command
from apps.core.database_state import require_migrated
from apps.live.runtime import build_streamer, run_streamer


class Command(BaseCommand):
    help = "Run the order-book streamer (WebSocket + snapshot sync, zones, order blocks) until SIGTERM."

    def handle(self, *args: Any, **options: Any) -> None:
        require_migrated()
        claim_source_for_command(SourceKind.BINANCE, settings.CONFIG.binance_ws_url)
        asyncio.run(self._main())

    async def _main(self) -> None:
        streamer = build_streamer(settings.CONFIG)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, streamer.stop)
        await run_streamer(streamer)
