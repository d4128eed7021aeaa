"""Order blocks as rows of the `order_blocks_1h` table: built from the engine's output over Bars, and
merged with stored rows so that status only moves forward. Pure.

Timestamps (all UTC epoch ms):
- created_ts_ms   = open time of the OB bar
- bos_ts_ms       = open time of the bar whose close broke the swing (the BOS bar)
- valid_from_ts_ms = bos_ts_ms + interval = the BOS bar's close time, i.e. the open time of the next
  hourly bar: the first moment the block is known (no look-ahead)
- touched_ts_ms   = open time of the first bar after the BOS bar that overlapped the zone (None if
  none; also None when the first overlap closed beyond the zone, since invalidation wins)
- valid_to_ts_ms  = open time of the bar whose close went beyond the zone (None while valid)
- atr14           = ATR at the BOS bar, rounded to 8 decimal places

The zone bounds are the engine's ``ob_zone`` on the OB bar's exact decimals; directions and
statuses are ``Direction`` / ``BlockStatus`` members (apps/orderblocks/domain/enums.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from apps.orderblocks.domain.candles import HOUR_MS, Bar
from apps.orderblocks.domain.engine import DetectedBlocks, EngineParams, detect_order_blocks, ob_zone
from apps.orderblocks.domain.enums import STATUS_RANK, BlockStatus, Direction

ATR_QUANTUM = Decimal("0.00000001")

BlockKey = tuple[str, str, int]  # (symbol, direction, created_ts_ms)


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """One order block with the table's field names."""

    symbol: str
    direction: Direction
    created_ts_ms: int
    valid_from_ts_ms: int
    valid_to_ts_ms: int | None
    price_low: Decimal
    price_high: Decimal
    atr14: Decimal
    bos_level: Decimal
    bos_ts_ms: int
    touched_ts_ms: int | None
    status: BlockStatus

    @property
    def key(self) -> BlockKey:
        return (self.symbol, self.direction, self.created_ts_ms)

    def as_row(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


FIELDS: tuple[str, ...] = BlockRecord.__slots__


def bar_arrays(bars: Sequence[Bar]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(open, high, low, close) as float64 arrays (correctly rounded, so order-preserving)."""
    return (
        np.array([float(b.open) for b in bars], dtype=np.float64),
        np.array([float(b.high) for b in bars], dtype=np.float64),
        np.array([float(b.low) for b in bars], dtype=np.float64),
        np.array([float(b.close) for b in bars], dtype=np.float64),
    )


def bar_numbers(bars: Sequence[Bar], interval_ms: int = HOUR_MS) -> np.ndarray:
    """Intervals since the epoch: the engine's ATR block alignment, the same in any window."""
    return np.array([b.open_time_ms // interval_ms for b in bars], dtype=np.int64)


def status_of(touched_ts_ms: int | None, valid_to_ts_ms: int | None) -> BlockStatus:
    if valid_to_ts_ms is not None:
        return BlockStatus.INVALID
    if touched_ts_ms is not None:
        return BlockStatus.TOUCHED
    return BlockStatus.FRESH


def records_from_detection(
    bars: Sequence[Bar],
    detected: DetectedBlocks,
    symbol: str,
    params: EngineParams,
    interval_ms: int = HOUR_MS,
) -> list[BlockRecord]:
    """Exact decimals are taken from the bars the engine pointed at (never from floats), ATR aside."""
    records: list[BlockRecord] = []
    for i in range(len(detected)):
        ob = bars[int(detected.ob_index[i])]
        bos = bars[int(detected.bos_index[i])]
        swing = bars[int(detected.swing_index[i])]
        if bool(detected.bullish[i]):
            direction, level = Direction.BULLISH, swing.high
        else:
            direction, level = Direction.BEARISH, swing.low
        low, high = ob_zone(ob.open, ob.high, ob.low, direction, params.zone_mode)
        touched_i = int(detected.touched_index[i])
        invalid_i = int(detected.invalid_index[i])
        touched = bars[touched_i].open_time_ms if touched_i >= 0 else None
        valid_to = bars[invalid_i].open_time_ms if invalid_i >= 0 else None
        records.append(
            BlockRecord(
                symbol=symbol,
                direction=direction,
                created_ts_ms=ob.open_time_ms,
                valid_from_ts_ms=bos.open_time_ms + interval_ms,
                valid_to_ts_ms=valid_to,
                price_low=low,
                price_high=high,
                atr14=Decimal(float(detected.atr[i])).quantize(ATR_QUANTUM, rounding=ROUND_HALF_EVEN),
                bos_level=level,
                bos_ts_ms=bos.open_time_ms,
                touched_ts_ms=touched,
                status=status_of(touched, valid_to),
            )
        )
    return records


def order_blocks_for_bars(
    bars: Sequence[Bar], symbol: str, params: EngineParams | None = None, interval_ms: int = HOUR_MS
) -> list[BlockRecord]:
    """The full computation: every order block on `bars` (ascending open times), status as of the end."""
    params = params or EngineParams()
    detected = detect_order_blocks(*bar_arrays(bars), params, bar_numbers=bar_numbers(bars, interval_ms))
    return records_from_detection(bars, detected, symbol, params, interval_ms)


def with_status_events(
    record: BlockRecord, touched_ts_ms: int | None, invalid_ts_ms: int | None
) -> BlockRecord:
    """Apply the events of bars after the ones `record` reflects (first touch, first close beyond the
    zone); a recorded touch is kept and an invalid block never changes."""
    if record.status == BlockStatus.INVALID:
        return record
    touched = record.touched_ts_ms if record.touched_ts_ms is not None else touched_ts_ms
    return replace(
        record, touched_ts_ms=touched, valid_to_ts_ms=invalid_ts_ms, status=status_of(touched, invalid_ts_ms)
    )


def merge_forward(stored: BlockRecord | None, computed: BlockRecord) -> BlockRecord:
    """The row to store when `computed` meets an existing row with the same key: the computed block's
    values, but status never moves back (fresh -> touched -> invalid) and recorded events are kept."""
    if stored is None:
        return computed
    if STATUS_RANK[computed.status] < STATUS_RANK[stored.status]:
        return replace(
            computed,
            status=stored.status,
            touched_ts_ms=stored.touched_ts_ms,
            valid_to_ts_ms=stored.valid_to_ts_ms,
        )
    return replace(
        computed,
        touched_ts_ms=stored.touched_ts_ms if stored.touched_ts_ms is not None else computed.touched_ts_ms,
        valid_to_ts_ms=stored.valid_to_ts_ms
        if stored.valid_to_ts_ms is not None
        else computed.valid_to_ts_ms,
    )
