"""What the confluence listener reads and writes: the active order blocks, the last hour of heatmap
columns, and its stored document.

Synchronous ORM functions; the listener runs them on the sync threads (apps/core/sync_threads.py),
never on the event loop. Each is one short query or transaction.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.db import transaction

from apps.confluence.domain.liquidity import BlockRange, block_range
from apps.confluence.models import ConfluenceState
from apps.heatmap.domain.packing import StoredRow
from apps.heatmap.selectors import stored_rows
from apps.orderblocks.presentation import orderblock_id
from apps.orderblocks.services.blocks import stored_blocks


def active_blocks(symbol: str) -> list[BlockRange]:
    """Every order block of the symbol that is not invalid, oldest first, as ``BlockRange``s."""
    records = sorted(
        stored_blocks(symbol, open_only=True).values(), key=lambda r: (r.created_ts_ms, r.direction)
    )
    return [
        block_range(
            orderblock_id(r.symbol, r.direction, r.created_ts_ms), r.direction, r.price_low, r.price_high
        )
        for r in records
    ]


def heatmap_rows(symbol: str, bin_size: Decimal, column_s: int, from_s: int, to_s: int) -> list[StoredRow]:
    """The stored heatmap columns of the grid starting in [from_s, to_s], oldest first."""
    return stored_rows(symbol, bin_size, column_s, from_s, to_s)


def write_document(symbol: str, ts_ms: int, document: dict[str, Any]) -> None:
    """Replace the symbol's stored confluence document (one UPDATE once the row exists)."""
    text = json.dumps(document, separators=(",", ":"))
    with transaction.atomic():
        if not ConfluenceState.objects.filter(symbol=symbol).update(ts_ms=ts_ms, document=text):
            ConfluenceState.objects.create(symbol=symbol, ts_ms=ts_ms, document=text)
