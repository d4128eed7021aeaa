"""``manage.py backfill_candles [--since TIME] [--tf 1h|5m|15m]``: fetch closed candles from Binance REST.

Resumes after the last stored candle (or starts at ``--since`` / the exchange's first candle when the
table is empty; a ``--since`` older than the stored history fetches that part too), then requests
every gap in the stored history. Pages of 1000 candles are stored as they arrive, through the REST
client's weight budget (429/418 Retry-After honoured). Re-running never duplicates candles.
``--tf 5m`` / ``--tf 15m`` fill the chart's intraday tables, never further back than
CANDLE_RETENTION_D_INTRADAY days (the running service does this itself at start-up).
"""

from __future__ import annotations

import asyncio
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.book.domain.data_source import SourceKind
from apps.book.services.data_sources import claim_source_for_command
from apps.core.database_state import require_migrated
from apps.orderblocks.domain.candle_csv import parse_time
from apps.orderblocks.domain.candles import KlineError
from apps.orderblocks.domain.timeframes import INTRADAY
from apps.orderblocks.services.backfill import backfill_from, gap_text
from apps.orderblocks.services.candles import CandleTableError
from apps.orderblocks.services.intraday import retention_cutoff_ms


class Command(BaseCommand):
    help = (
        "Backfill 1h (or 5m/15m) candles from Binance GET /api/v3/klines (resumes, fills gaps, idempotent)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--since",
            default=None,
            help="start time when the table is empty or older than its first candle: ISO 8601 UTC "
            "(2020-01-01 or 2020-01-01T00:00:00Z), epoch seconds or epoch ms",
        )
        parser.add_argument("--rest-url", default=None, help="REST base URL (default: BINANCE_REST_URL)")
        parser.add_argument(
            "--tf",
            default="1h",
            choices=("1h", *INTRADAY),
            help="timeframe: 1h (the order blocks' table, default) or 5m/15m (the chart's intraday "
            "tables, kept CANDLE_RETENTION_D_INTRADAY days)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.style_func = None  # progress lines on stderr: plain, not error-red
        from apps.book.services.rest_client import RestError

        since_ms = None
        if options["since"] is not None:
            try:
                since_ms = parse_time(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since: {exc}") from None
        rest_url = (options["rest_url"] or settings.CONFIG.binance_rest_url).rstrip("/")

        def progress(message: str) -> None:
            self.stderr.write(f"backfill_candles: {message}\n")
            self.stderr.flush()

        require_migrated()  # after the arguments: a usage error needs no database
        claim_source_for_command(SourceKind.BINANCE, rest_url)
        tf = options["tf"]
        keep_from_ms = None
        if tf in INTRADAY:
            keep_from_ms = retention_cutoff_ms(
                int(time.time() * 1000), settings.CONFIG.candle_retention_d_intraday
            )
        progress(f"fetching {settings.CONFIG.symbol} {tf} klines from {rest_url}")
        try:
            summary = asyncio.run(
                backfill_from(
                    rest_url, tf=tf, since_ms=since_ms, keep_from_ms=keep_from_ms, progress=progress
                )
            )
        except RestError as exc:
            raise CommandError(
                f"REST source failed: {exc}. Candles stored so far are kept; re-run to resume."
            ) from None
        except KlineError as exc:
            raise CommandError(
                f"the exchange sent a bad kline: {exc}. Candles stored so far are kept."
            ) from None
        except CandleTableError as exc:
            raise CommandError(str(exc)) from None
        for gap in summary.gaps_left:
            progress(f"gap left (no data at the source): {gap_text(gap)}")
        self.stdout.write(summary.describe())
