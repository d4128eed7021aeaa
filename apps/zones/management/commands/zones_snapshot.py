"""``manage.py zones_snapshot --book FILE``: liquidity zones of one Binance depth snapshot, as JSON.

Runs the live cycle's code path: the snapshot is loaded into the streamer's OrderBook (with the
same trusted-window rule as a REST snapshot of ``--limit`` levels), the in-range levels are taken
with ``levels_in_range`` and detected with ``detect_from_levels``.

Whatever the file holds, a problem is one ``CommandError`` line naming the file (and the line and
column where there is one), never a traceback: the file is read up to MAX_SNAPSHOT_BYTES and parsed
by apps.zones.domain.snapshot_file, whose limits bound what detection gets.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.book.domain.order_book import OrderBook
from apps.json_http.decimal_text import decimal_text
from apps.zones.domain.book_view import detect_from_levels, levels_in_range
from apps.zones.domain.detection import DetectedZone, ZoneDetection, ZoneParams
from apps.zones.domain.snapshot_file import (
    MAX_SNAPSHOT_BYTES,
    SnapshotFormatError,
    parse_depth_snapshot_bytes,
)


class Command(BaseCommand):
    help = "Print the liquidity zones of a Binance depth snapshot file as JSON."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--book", required=True, help='snapshot JSON file: {"lastUpdateId", "bids", "asks"}'
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=None,
            help="levels per side the snapshot was requested with; a side that has this many levels is "
            "trusted only down/up to its last level (default: SNAPSHOT_LIMIT)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.style_func = None  # progress lines on stderr: plain, not error-red
        path = Path(options["book"])
        limit = options["limit"] if options["limit"] is not None else settings.CONFIG.snapshot_limit
        if limit <= 0:
            raise CommandError("--limit must be a positive integer")
        try:
            with path.open("rb") as file:  # at most one byte past the limit, whatever the file is
                data = file.read(MAX_SNAPSHOT_BYTES + 1)
        except FileNotFoundError:
            raise CommandError(f"{path}: no such file") from None
        except OSError as exc:
            raise CommandError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            snapshot = parse_depth_snapshot_bytes(data)
        except SnapshotFormatError as exc:
            raise CommandError(f"{path}: {exc}") from None
        self.stderr.write(f"{path}: {len(snapshot.bids)} bids, {len(snapshot.asks)} asks\n")

        params = ZoneParams.from_config(settings.CONFIG)
        book = OrderBook()
        book.load_snapshot(snapshot.last_update_id, snapshot.bids, snapshot.asks, limit=limit)
        try:
            detection = detect_from_levels(levels_in_range(book, params), params)
        except (ArithmeticError, ValueError) as exc:  # bounded input should never get here
            raise CommandError(f"{path}: zone detection failed: {type(exc).__name__}: {exc}") from None
        if detection.problem is not None:
            raise CommandError(f"{path}: {detection.problem}")
        self.stdout.write(json.dumps(_document(snapshot.last_update_id, detection, params), indent=2))


def _document(update_id: int, detection: ZoneDetection, params: ZoneParams) -> dict[str, Any]:
    bounds = detection.bounds
    assert bounds is not None  # no problem -> bounds
    return {
        "last_update_id": update_id,
        "mid": decimal_text(bounds.mid),
        "analysed": {"bid_low": decimal_text(bounds.bid_low), "ask_high": decimal_text(bounds.ask_high)},
        "window_narrower_than_range": bounds.window_narrower_than_range,
        "params": {
            "range_pct": decimal_text(params.range_pct),
            "bin_size": decimal_text(params.bin_size),
            "rounding": params.rounding,
            "volume_mode": params.volume_mode,
            "baseline_k": params.baseline_k,
            "wall_multiplier": params.wall_multiplier,
            "max_gap_bins": params.max_gap_bins,
        },
        "zones": [_zone(zone) for zone in detection.zones],
    }


def _zone(zone: DetectedZone) -> dict[str, Any]:
    return {
        "side": zone.side.value,
        "price_low": decimal_text(zone.price_low),
        "price_high": decimal_text(zone.price_high),
        "notional": decimal_text(zone.notional),
        "strength": round(zone.strength, 6),
        "bins": [
            {
                "price_low": decimal_text(b.price_low),
                "price_high": decimal_text(b.price_high),
                "volume": decimal_text(b.volume),
                "baseline": b.baseline,
                "score": round(b.score, 6),
            }
            for b in zone.bins
        ],
    }
