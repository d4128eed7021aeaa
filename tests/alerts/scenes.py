"""Plain-data builders for the alert tests: blocks, zones, trades, tracker updates."""

from __future__ import annotations

from decimal import Decimal

from apps.book.domain.events import Side, Trade
from apps.orderblocks.domain.blocks import BlockRecord
from apps.orderblocks.domain.enums import BlockStatus, Direction
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import TrackerUpdate, ZoneRecord, ZoneTransition

SYMBOL = "BTCEUR"
HOUR_MS = 3_600_000


def block(
    low: str,
    high: str,
    *,
    direction: Direction = Direction.BULLISH,
    status: BlockStatus = BlockStatus.FRESH,
    created_ts_ms: int = 10 * HOUR_MS,
) -> BlockRecord:
    return BlockRecord(
        symbol=SYMBOL,
        direction=direction,
        created_ts_ms=created_ts_ms,
        valid_from_ts_ms=created_ts_ms + 3 * HOUR_MS,
        valid_to_ts_ms=None if status != BlockStatus.INVALID else created_ts_ms + 9 * HOUR_MS,
        price_low=Decimal(low),
        price_high=Decimal(high),
        atr14=Decimal("300"),
        bos_level=Decimal(high) + 500,
        bos_ts_ms=created_ts_ms + 2 * HOUR_MS,
        touched_ts_ms=None if status == BlockStatus.FRESH else created_ts_ms + 5 * HOUR_MS,
        status=status,
    )


def trade(price: str, ts_ms: int, trade_id: int = 1) -> Trade:
    return Trade(
        trade_id=trade_id, price=Decimal(price), qty=Decimal("0.1"), ts_ms=ts_ms, buyer_is_maker=False
    )


def zone(
    low: str,
    high: str,
    status: ZoneStatus,
    *,
    side: Side = Side.BID,
    strength: float = 9.0,
    ts_ms: int = 100 * HOUR_MS,
    zone_id: str | None = None,
) -> ZoneRecord:
    return ZoneRecord(
        id=zone_id or f"{SYMBOL}:{side}:{low}-{high}",
        ts_ms=ts_ms,
        symbol=SYMBOL,
        side=side,
        price_low=Decimal(low),
        price_high=Decimal(high),
        notional=Decimal("250000"),
        strength=strength,
        persistence_s=120.0,
        status=status,
        first_seen_ts_ms=ts_ms - 120_000,
        last_seen_ts_ms=ts_ms - 2000,
        book_update_id=42,
    )


def ended(record: ZoneRecord, old: ZoneStatus = ZoneStatus.CONFIRMED, reason: str = "gone") -> TrackerUpdate:
    """The tracker update of a cycle in which ``record`` (pulled or broken) ended."""
    return TrackerUpdate(
        changed=(record,),
        transitions=(ZoneTransition(record.id, old, record.status, reason),),
        history=(record,),
    )


def confirmed(record: ZoneRecord) -> TrackerUpdate:
    return TrackerUpdate(
        changed=(record,),
        transitions=(ZoneTransition(record.id, ZoneStatus.CANDIDATE, ZoneStatus.CONFIRMED, "persisted"),),
        history=(record,),
    )
