"""``manage.py compute_orderblocks [--full] [--json]``: compute and store 1h order blocks.

Incremental by default (the same result as a full run, recomputing only a warm-up window); ``--full``
recomputes the whole candle history. With ``--json`` stdout holds only a JSON array of the symbol's
stored blocks with the table's field names (prices as exact decimal strings); progress goes to stderr.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core.database_state import require_migrated
from apps.json_http.decimal_text import decimal_text
from apps.orderblocks.domain.blocks import FIELDS
from apps.orderblocks.services.blocks import all_blocks
from apps.orderblocks.services.candles import CandleTableError
from apps.orderblocks.services.jobs import run_orderblocks


def _json_value(value: Any) -> Any:
    return decimal_text(value) if isinstance(value, Decimal) else value


class Command(BaseCommand):
    help = "Compute 1h order blocks from the candle table (incremental unless --full)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--full", action="store_true", help="recompute the whole history")
        parser.add_argument(
            "--json", action="store_true", help="print the stored blocks as a JSON array (only that)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.style_func = None  # progress lines on stderr: plain, not error-red
        require_migrated()

        def progress(message: str) -> None:
            self.stderr.write(f"compute_orderblocks: {message}\n")
            self.stderr.flush()

        try:
            summary = run_orderblocks(full=options["full"], progress=progress)
        except CandleTableError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            progress(summary.describe())
            rows = [
                {name: _json_value(getattr(b, name)) for name in FIELDS}
                for b in all_blocks(settings.CONFIG.symbol)
            ]
            self.stdout.write(json.dumps(rows, indent=1))
        else:
            self.stdout.write(summary.describe())
