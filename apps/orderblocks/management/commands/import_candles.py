"""``manage.py import_candles --csv FILE``: load 1h candles from a CSV file into CANDLE_TABLE.

Accepts Binance's public kline CSV (data.binance.vision, no header, 12 columns, ms or microsecond
times) and a plain CSV with the header ``time,open,high,low,close,volume`` (time ISO 8601 UTC such as
``2017-07-01T11:00:00Z``, epoch seconds or epoch ms). Every row is checked first: if any row is bad,
the bad rows are listed with their line numbers and nothing is written. Re-importing the same file
never duplicates candles (rows are keyed by open time; changed values are updated).
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.book.domain.data_source import SourceKind
from apps.book.services.data_sources import claim_source_for_command
from apps.core.database_state import require_migrated
from apps.orderblocks.domain.candle_csv import parse_candle_csv
from apps.orderblocks.services.backfill import gap_text
from apps.orderblocks.services.candles import CandleTableError, candle_gaps, store_bars

SHOWN_ERRORS = 20
PROGRESS_EVERY = 50_000


class Command(BaseCommand):
    help = "Import 1h candles from a Binance kline CSV or a time,open,high,low,close,volume CSV."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--csv", required=True, help="the CSV file to import")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.style_func = None  # progress lines on stderr: plain, not error-red
        path = Path(options["csv"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot read: {exc}") from None

        lines = text.splitlines()
        self.stderr.write(f"import_candles: {path}: {len(lines)} lines, checking every row\n")
        parsed = parse_candle_csv(lines)
        if parsed.errors:
            shown = "\n".join(f"  {path}:{e}" for e in parsed.errors[:SHOWN_ERRORS])
            more = len(parsed.errors) - SHOWN_ERRORS
            tail = f"\n  ... and {more} more bad rows" if more > 0 else ""
            raise CommandError(f"{path}: {len(parsed.errors)} bad row(s), nothing imported:\n{shown}{tail}")
        if not parsed.bars:
            raise CommandError(f"{path}: no candle rows, nothing imported")
        self.stderr.write(
            f"import_candles: {len(parsed.bars)} rows ok ({parsed.format} format), storing in one transaction\n"
        )
        try:
            require_migrated()  # after reading the file: a bad file needs no database
            claim_source_for_command(SourceKind.IMPORT, str(path.resolve()))
            result = store_bars(parsed.bars)
        except CandleTableError as exc:
            raise CommandError(str(exc)) from None
        first, last = parsed.bars[0].open_time_ms, parsed.bars[-1].open_time_ms
        self.stdout.write(
            f"imported {result.received} candles {first}..{last}: {result.inserted} new, "
            f"{result.updated} updated, {result.unchanged} unchanged"
        )
        gaps = candle_gaps()
        for gap in gaps[:SHOWN_ERRORS]:
            self.stderr.write(f"import_candles: gap in the stored history: {gap_text(gap)}\n")
        if gaps:
            self.stderr.write(
                f"import_candles: {len(gaps)} gap(s) in the stored history; "
                "`manage.py backfill_candles` fills them where the exchange has data\n"
            )
