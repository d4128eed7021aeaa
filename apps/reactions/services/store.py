"""Reads and writes of `orderblock_reactions`, and the order-block reads the live listener needs.

A reaction is one row keyed by its block id; every change rewrites the row (a handful a day).
``watched_until_ms`` records how far the service followed a pending reaction, moved on by the
listener's heartbeat: what a restart needs to tell a gap from a step it missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q

from apps.orderblocks.domain.candles import HOUR_MS
from apps.orderblocks.domain.enums import BlockStatus, Direction
from apps.orderblocks.models import OrderBlock
from apps.orderblocks.presentation import orderblock_id
from apps.reactions.domain.enums import Outcome, ReactionState, ZoneEvent
from apps.reactions.domain.liquidity import Backing
from apps.reactions.domain.reaction import Reaction, Snapshot, ZoneSighting
from apps.reactions.domain.touches import BlockRef
from apps.reactions.domain.tracker import Restored
from apps.reactions.models import OrderBlockReaction


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def snapshot_json(s: Snapshot | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "at_ms": s.at_ms,
        "taken_ms": s.taken_ms,
        "qty": _text(s.qty),
        "notional": _text(s.notional),
        "note": s.note,
    }


def snapshot_of(d: dict[str, Any] | None) -> Snapshot | None:
    if d is None:
        return None
    return Snapshot(d["at_ms"], d["taken_ms"], _decimal(d["qty"]), _decimal(d["notional"]), d["note"])


def sighting_json(z: ZoneSighting) -> dict[str, Any]:
    return {
        "id": z.zone_id,
        "price_low": str(z.price_low),
        "price_high": str(z.price_high),
        "first_status": z.first_status,
        "event": str(z.event),
        "ts_ms": z.ts_ms,
    }


def sighting_of(d: dict[str, Any]) -> ZoneSighting:
    return ZoneSighting(
        d["id"],
        Decimal(d["price_low"]),
        Decimal(d["price_high"]),
        d["first_status"],
        ZoneEvent(d["event"]),
        d["ts_ms"],
    )


def row_values(r: Reaction) -> dict[str, Any]:
    """The row's columns (but the key and watched_until_ms) for a reaction."""
    b = r.block
    return {
        "symbol": r.symbol,
        "direction": str(b.direction),
        "price_low": b.price_low,
        "price_high": b.price_high,
        "atr14": b.atr14,
        "valid_from_ts_ms": b.valid_from_ts_ms,
        "range_low": r.range_low,
        "range_high": r.range_high,
        "touch_ts_ms": r.touch_ts_ms,
        "touch_price": r.touch_price,
        "backed": r.backing.backed,
        "backing_zone_ids": list(r.backing.zone_ids),
        "backing_score": r.backing.score,
        "offsets_ms": list(r.offsets_ms),
        "horizons_ms": list(r.horizons_ms),
        "snapshots": [snapshot_json(s) for s in r.snapshots],
        "zones": [sighting_json(z) for z in r.zones],
        "extreme_price": r.extreme_price,
        "moved_away_ts_ms": r.moved_away_ts_ms,
        "invalidated_ts_ms": r.invalidated_ts_ms,
        "outcomes": [None if o is None else str(o) for o in r.outcomes],
        "state": str(r.state),
        "reason": r.reason,
        "notes": list(r.notes),
    }


def reaction_of(row: OrderBlockReaction) -> Reaction:
    block = BlockRef(
        id=row.block_id,
        direction=Direction(row.direction),
        price_low=row.price_low,
        price_high=row.price_high,
        atr14=row.atr14,
        valid_from_ts_ms=row.valid_from_ts_ms,
    )
    return Reaction(
        symbol=row.symbol,
        block=block,
        touch_ts_ms=row.touch_ts_ms,
        touch_price=row.touch_price,
        range_low=row.range_low,
        range_high=row.range_high,
        backing=Backing(row.backed, tuple(row.backing_zone_ids), row.backing_score),
        offsets_ms=tuple(row.offsets_ms),
        horizons_ms=tuple(row.horizons_ms),
        snapshots=tuple(snapshot_of(s) for s in row.snapshots),
        zones=tuple(sighting_of(z) for z in row.zones),
        extreme_price=row.extreme_price,
        moved_away_ts_ms=row.moved_away_ts_ms,
        invalidated_ts_ms=row.invalidated_ts_ms,
        outcomes=tuple(None if o is None else Outcome(o) for o in row.outcomes),
        state=ReactionState(row.state),
        reason=row.reason,
        notes=tuple(row.notes),
    )


def save_reactions(reactions: Sequence[Reaction], watched_until_ms: int) -> None:
    """Insert or rewrite each reaction's row, in one transaction."""
    with transaction.atomic():
        for r in reactions:
            OrderBlockReaction.objects.update_or_create(
                block_id=r.id,
                defaults={
                    **row_values(r),
                    "watched_until_ms": watched_until_ms,
                    "updated_ts_ms": watched_until_ms,
                },
            )


def heartbeat(block_ids: Sequence[str], watched_until_ms: int) -> int:
    """The service still follows these pending reactions: how far it has."""
    if not block_ids:
        return 0
    return OrderBlockReaction.objects.filter(
        block_id__in=list(block_ids), state=ReactionState.PENDING
    ).update(watched_until_ms=watched_until_ms)


def load_restored(symbol: str) -> Restored:
    """The pending reactions, every block with a reaction, and how far each was watched."""
    rows = list(OrderBlockReaction.objects.filter(symbol=symbol, state=ReactionState.PENDING))
    reacted = OrderBlockReaction.objects.filter(symbol=symbol).values_list("block_id", flat=True)
    return Restored(
        pending=[reaction_of(row) for row in rows],
        reacted_ids=list(reacted),
        watched_until_ms={row.block_id: row.watched_until_ms for row in rows},
    )


def fresh_blocks(symbol: str) -> list[BlockRef]:
    """The stored fresh order blocks (the seed's status), as the tracker watches them."""
    rows = OrderBlock.objects.filter(symbol=symbol, status=BlockStatus.FRESH).values_list(
        "direction", "created_ts_ms", "price_low", "price_high", "atr14", "valid_from_ts_ms"
    )
    return [
        BlockRef(orderblock_id(symbol, direction, created), Direction(direction), low, high, atr, valid_from)
        for direction, created, low, high, atr, valid_from in rows.iterator(chunk_size=2000)
    ]


def invalid_close_times(symbol: str, block_ids: Iterable[str]) -> dict[str, int]:
    """For these blocks, those stored as invalid: the close time of the candle that closed beyond
    the zone (valid_to_ts_ms is that candle's open time)."""
    keys = Q(pk__in=[])
    for block_id in block_ids:
        block_symbol, direction, created = block_id.split(":")
        if block_symbol == symbol:
            keys |= Q(direction=direction, created_ts_ms=int(created))
    rows = OrderBlock.objects.filter(keys, symbol=symbol, status=BlockStatus.INVALID).values_list(
        "direction", "created_ts_ms", "valid_to_ts_ms"
    )
    return {
        orderblock_id(symbol, direction, created): valid_to + HOUR_MS
        for direction, created, valid_to in rows
        if valid_to is not None
    }


def prune_reactions(symbol: str, older_than_ms: int, batch_size: int = 1000) -> int:
    """Delete reactions touched before ``older_than_ms`` (at most ``batch_size`` per call)."""
    ids = list(
        OrderBlockReaction.objects.filter(symbol=symbol, touch_ts_ms__lt=older_than_ms).values_list(
            "id", flat=True
        )[:batch_size]
    )
    if not ids:
        return 0
    deleted, _ = OrderBlockReaction.objects.filter(id__in=ids).delete()
    return deleted
