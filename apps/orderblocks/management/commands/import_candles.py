"""``manage.py import_candles --csv FILE``: load 1h candles from a CSV file into CANDLE_TABLE.

Accepts Binance's public kline CSV (data.binance.vision, no header, 12 columns, ms or microsecond
times) and a plain CSV with the header ``time,open,high,low,close,volume`` (time ISO 8601 UTC such as
``2017-07-01T11:00:00Z``, epoch seconds or epoch ms). The file is copied first and read in two
streaming passes, so memory stays bounded whatever its size:

1. every row is checked (format, plausibility: not in the future, not before 2009, prices and
   volumes within bounds; limits: see apps.orderblocks.domain.candle_csv). If any row is bad, the
   bad rows are listed with their line numbers and nothing is written;
2. the candles are stored in short transactions of IMPORT_BATCH rows, so a running `serve` keeps
   publishing between them.

Re-importing the same file never duplicates candles (rows are keyed by open time; changed values are
updated, unchanged ones are not written). When stored candles changed, the next order-block run is a
full one (an incremental run only sees candles added). Progress goes to stderr.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.book.domain.data_source import SourceKind
from apps.book.services.data_sources import claim_source_for_command
from apps.core.database_state import require_migrated
from apps.orderblocks.domain.candle_csv import CandleCsvError, CsvSummary, check_candle_csv, read_candles
from apps.orderblocks.services.backfill import gap_text
from apps.orderblocks.services.candle_files import file_chunks, private_copy
from apps.orderblocks.services.candles import (
    IMPORT_BATCH,
    CandleTableError,
    StoreResult,
    candle_gaps,
    store_in_batches,
)
from apps.orderblocks.services.jobs import require_full_run

SHOWN_GAPS = 20
PROGRESS_EVERY_S = 1.0


def first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


class Progress:
    """Progress lines on stderr, at most one a second, with the rate since the start."""

    def __init__(self, command: BaseCommand) -> None:
        self.command = command
        self.started = self.last = time.monotonic()

    def say(self, message: str) -> None:
        self.command.stderr.write(f"import_candles: {message}\n")
        self.command.stderr.flush()

    def rate(self, done: int) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return f"{elapsed:.1f} s, {done / elapsed:,.0f} rows/s"

    def tick(self, what: str, done: int) -> None:
        if time.monotonic() - self.last >= PROGRESS_EVERY_S:
            self.last = time.monotonic()
            self.say(f"{what} {done:,} rows ({self.rate(done)})")


class Command(BaseCommand):
    help = "Import 1h candles from a Binance kline CSV or a time,open,high,low,close,volume CSV."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--csv", required=True, help="the CSV file to import")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.style_func = None  # progress lines on stderr: plain, not error-red
        path = Path(options["csv"])
        now_ms = int(time.time() * 1000)  # one clock for both passes
        try:
            with private_copy(path) as copy:
                summary = self._check(path, copy, now_ms)
                try:
                    require_migrated()  # after checking the file: a bad file needs no database
                    claim_source_for_command(SourceKind.IMPORT, str(path.resolve()))
                    result = self._store(path, copy, summary, now_ms)
                except CandleTableError as exc:
                    raise CommandError(str(exc)) from None
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from None
        self.stdout.write(
            f"imported {result.received} candles {summary.first_ms}..{summary.last_ms}: "
            f"{result.inserted} new, {result.updated} updated, {result.unchanged} unchanged"
        )
        if result.updated:  # again at the end: a run may have saved its state during the import
            require_full_run(settings.CONFIG.symbol)
            Progress(self).say(
                f"{result.updated} stored candle(s) changed: the next order-block run is a full one"
            )
        self._report_gaps()

    def _check(self, path: Path, copy: Path, now_ms: int) -> CsvSummary:
        """Pass 1: every row, nothing written. CommandError (one line) naming the first bad line."""
        progress = Progress(self)
        progress.say(f"{path}: checking every row")
        try:
            summary = check_candle_csv(
                file_chunks(copy), now_ms=now_ms, progress=lambda s: progress.tick("checked", s.read)
            )
        except CandleCsvError as exc:
            raise CommandError(self._rejection(path, exc)) from None
        progress.say(f"{summary.rows:,} rows ok ({summary.format} format) in {progress.rate(summary.rows)}")
        return summary

    def _rejection(self, path: Path, exc: CandleCsvError) -> str:
        """The bad rows after the first on stderr, one a line; the first as the error's one line."""
        progress = Progress(self)
        for error in exc.errors[1:]:
            progress.say(f"{path}: {error}")
        if exc.total > len(exc.errors):
            progress.say(f"{path}: ... and {exc.total - len(exc.errors)} more bad rows")
        stopped = " (checking stopped there)" if exc.stopped else ""
        more = f"; {exc.total} bad rows in all, listed above" if exc.total > 1 else ""
        return f"{path}: {exc.errors[0]}{stopped}{more}; nothing imported"

    def _store(self, path: Path, copy: Path, summary: CsvSummary, now_ms: int) -> StoreResult:
        """Pass 2: the checked candles, IMPORT_BATCH per transaction."""
        progress = Progress(self)
        progress.say(f"storing {summary.rows:,} candles, {IMPORT_BATCH} per transaction")
        stored = StoreResult(0, 0, 0)

        def on_batch(total: StoreResult) -> None:
            nonlocal stored
            if total.updated and not stored.updated:  # at once: a failure later leaves it changed
                require_full_run(settings.CONFIG.symbol)
            stored = total
            progress.tick("stored", total.received)

        try:
            result = store_in_batches(
                read_candles(file_chunks(copy), now_ms=now_ms), batch_size=IMPORT_BATCH, progress=on_batch
            )
        except (CandleCsvError, DatabaseError) as exc:  # a copy that changed; a database that failed
            raise CommandError(
                f"{path}: storing stopped after {stored.received} of {summary.rows} candles: {first_line(exc)}; "
                "re-run the import to complete it (re-imports never duplicate)"
            ) from None
        progress.say(f"stored {result.received:,} candles in {progress.rate(result.received)}")
        return result

    def _report_gaps(self) -> None:
        gaps = candle_gaps()
        for gap in gaps[:SHOWN_GAPS]:
            self.stderr.write(f"import_candles: gap in the stored history: {gap_text(gap)}\n")
        if gaps:
            self.stderr.write(
                f"import_candles: {len(gaps)} gap(s) in the stored history; "
                "`manage.py backfill_candles` fills them where the exchange has data\n"
            )
