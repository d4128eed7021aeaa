"""Writes and reads of `order_blocks_1h`: upserts keyed by (symbol, direction, created_ts_ms) where
status only moves forward."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from apps.orderblocks.domain.blocks import FIELDS, BlockKey, BlockRecord, merge_forward
from apps.orderblocks.domain.enums import BlockStatus, Direction
from apps.orderblocks.models import OrderBlock

WRITE_BATCH = 1000
_VALUE_FIELDS = [f for f in FIELDS if f not in ("symbol", "direction", "created_ts_ms")]


def record_of(row: OrderBlock) -> BlockRecord:
    values = {name: getattr(row, name) for name in FIELDS}
    values["direction"] = Direction(values["direction"])
    values["status"] = BlockStatus(values["status"])
    return BlockRecord(**values)


def stored_blocks(symbol: str, *, open_only: bool = False) -> dict[BlockKey, BlockRecord]:
    rows = OrderBlock.objects.filter(symbol=symbol)
    if open_only:
        rows = rows.exclude(status=BlockStatus.INVALID)
    return {record.key: record for record in map(record_of, rows.iterator(chunk_size=5000))}


def all_blocks(symbol: str) -> list[BlockRecord]:
    rows = OrderBlock.objects.filter(symbol=symbol).order_by("created_ts_ms", "direction")
    return [record_of(row) for row in rows.iterator(chunk_size=5000)]


@dataclass
class UpsertResult:
    added: list[BlockRecord] = field(default_factory=list)
    changed: list[BlockRecord] = field(default_factory=list)
    unchanged: int = 0


def upsert_blocks(
    records: Iterable[BlockRecord], stored: dict[BlockKey, BlockRecord] | None = None
) -> UpsertResult:
    """Insert new blocks, update changed ones (status never moves back). `stored` may be passed when
    the caller already holds the current rows for these keys. Call inside a transaction."""
    records = list(records)
    result = UpsertResult()
    if not records:
        return result
    if stored is None:
        symbols = {r.symbol for r in records}
        stored = {}
        for symbol in symbols:
            stored.update(stored_blocks(symbol))
    to_update: list[BlockRecord] = []
    for computed in records:
        current = stored.get(computed.key)
        merged = merge_forward(current, computed)
        if current is None:
            result.added.append(merged)
        elif merged != current:
            result.changed.append(merged)
            to_update.append(merged)
        else:
            result.unchanged += 1
    with transaction.atomic():
        if result.added:
            OrderBlock.objects.bulk_create(
                [OrderBlock(**r.as_row()) for r in result.added], batch_size=WRITE_BATCH
            )
        if to_update:
            _update(to_update)
    return result


def _update(records: Sequence[BlockRecord]) -> None:
    ids = {
        (symbol, direction, created): pk
        for pk, symbol, direction, created in OrderBlock.objects.filter(
            symbol__in={r.symbol for r in records}
        ).values_list("pk", "symbol", "direction", "created_ts_ms")
    }
    rows = [OrderBlock(pk=ids[r.key], **r.as_row()) for r in records]
    OrderBlock.objects.bulk_update(rows, _VALUE_FIELDS, batch_size=WRITE_BATCH)


def delete_blocks(records: Sequence[BlockRecord]) -> int:
    """Delete these blocks (by key). Call inside a transaction."""
    deleted = 0
    for record in records:
        deleted += OrderBlock.objects.filter(
            symbol=record.symbol, direction=record.direction, created_ts_ms=record.created_ts_ms
        ).delete()[0]
    return deleted
