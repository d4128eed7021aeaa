"""The liquidity rules (apps.confluence.domain.liquidity) for every block of a side at once. Pure.

The fast path of ``measure_block``: prices and quantities in exact 1e-8 units, every window of every
block summed with two binary searches over a ``SideLadder``'s prefix sums, the windows of all blocks
in one matrix (``SideBlocks`` prepares the blocks once per block set). Floats are made with the same
correctly rounded operations as the reference (an integer of units divided by 1e8), so the readings
are identical, not just close: tests/confluence/test_measure_properties.py.

A cycle only needs a small ``Reading`` per block (to tell what changed); the notional and the
Decimals of a ``BlockLiquidity`` are worked out only for the blocks whose reading is pushed
(``liquidity_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from apps.book.domain.events import Side
from apps.confluence.domain.ladder import OffGrid, SideLadder, ceil_units, floor_units, units_of
from apps.confluence.domain.liquidity import (
    MAX_BASELINE_WINDOWS,
    BlockLiquidity,
    BlockRange,
    ConfluenceParams,
    padded_range,
)
from apps.zones.domain.enums import LIVE_STATUSES, ZoneStatus
from apps.zones.domain.tracking import ZoneRecord

_UNIT = 1e8
_FILL = np.iinfo(np.int64).max  # sorts after every real window quantity


class Reading(NamedTuple):
    """One block's liquidity in one cycle, as compared from cycle to cycle."""

    qty: int  # 1e-8 units
    score: float | None
    zones: tuple[str, ...]
    backed: bool
    avg_1h: float | None


@dataclass(frozen=True, slots=True)
class SideBlocks:
    """The blocks measured on one side, their padded ranges as Decimals and as units."""

    side: Side
    keys: tuple[str, ...]
    lows: tuple[Decimal, ...]
    highs: tuple[Decimal, ...]
    low_units: np.ndarray
    high_units: np.ndarray
    index: dict[str, int]  # key -> position

    @classmethod
    def of(cls, side: Side, blocks: Iterable[BlockRange], params: ConfluenceParams) -> SideBlocks:
        """The blocks of ``side`` among ``blocks`` (OffGrid if a bound is not a whole number of 1e-8)."""
        mine = [b for b in blocks if b.side is side]
        ranges = [padded_range(b.price_low, b.price_high, params) for b in mine]
        return cls(
            side=side,
            keys=tuple(b.key for b in mine),
            lows=tuple(low for low, _ in ranges),
            highs=tuple(high for _, high in ranges),
            low_units=np.array([units_of(low) for low, _ in ranges], dtype=np.int64),
            high_units=np.array([units_of(high) for _, high in ranges], dtype=np.int64),
            index={b.key: i for i, b in enumerate(mine)},
        )

    def __len__(self) -> int:
        return len(self.keys)


class ZoneSpans(NamedTuple):
    """One side's candidate/confirmed zones by price: ids, bounds in units, confirmed or not."""

    ids: tuple[str, ...]
    low_units: np.ndarray
    high_units: np.ndarray
    confirmed: np.ndarray

    @classmethod
    def of(cls, zones: Iterable[ZoneRecord], side: Side) -> ZoneSpans:
        mine = sorted(
            (z for z in zones if z.side == side and z.status in LIVE_STATUSES),
            key=lambda z: (z.price_low, z.id),
        )
        return cls(
            ids=tuple(z.id for z in mine),
            # floor/ceil: for a whole number h of units, low < h iff floor(low) < h, high > h iff ceil(high) > h
            low_units=np.array([floor_units(z.price_low) for z in mine], dtype=np.int64),
            high_units=np.array([ceil_units(z.price_high) for z in mine], dtype=np.int64),
            confirmed=np.array([z.status == ZoneStatus.CONFIRMED for z in mine], dtype=bool),
        )


def band_units(band: tuple[Decimal, Decimal]) -> tuple[int, int]:
    """The band's prices in whole units: [ceil(low), floor(high)] holds the same grid prices."""
    return ceil_units(band[0]), floor_units(band[1])


def measurable_mask(blocks: SideBlocks, band: tuple[int, int]) -> np.ndarray:
    """``is_measurable`` for every block: its far end inside the band."""
    far = blocks.low_units if blocks.side is Side.BID else blocks.high_units
    return np.asarray((far >= band[0]) & (far <= band[1]))


def shift_matrix(
    lows: np.ndarray, highs: np.ndarray, band: tuple[int, int], bin_units: int
) -> tuple[np.ndarray, np.ndarray]:
    """(shifts per block and column, valid mask): ``shift_limits`` and ``nearest_shifts`` for every
    block, each row holding its shifts from the left (invalid columns pad the shorter rows)."""
    first = -((lows - band[0]) // bin_units)  # ceil((band_low - low) / bin)
    last = (band[1] - highs) // bin_units  # floor((band_high - high) / bin)
    count = np.maximum(last - first + 1, 0)
    limit = MAX_BASELINE_WINDOWS
    start = np.where(count > limit, np.minimum(np.maximum(-(limit // 2), first), last - limit + 1), first)
    count = np.minimum(count, limit)
    width = max(int(count.max(initial=0)), 1)
    columns = np.arange(width, dtype=np.int64)
    return start[:, None] + columns, columns < count[:, None]


def window_medians(sums: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``window_median`` of each row's valid windows, as a float of the base asset (NaN: none)."""
    counts = valid.sum(axis=1)
    ordered = np.sort(np.where(valid, sums, _FILL), axis=1)
    rows = np.arange(len(ordered))
    low = ordered[rows, np.maximum(counts - 1, 0) // 2]
    high = ordered[rows, np.minimum(counts // 2, ordered.shape[1] - 1)]
    found = counts > 0
    medians = np.full(len(ordered), np.nan)
    # an exact integer sum, then one correctly rounded division: float(the exact median)
    medians[found] = (low[found] + high[found]) / (2 * _UNIT)
    return medians


def measure_side(
    blocks: SideBlocks,
    ladder: SideLadder,
    band: tuple[Decimal, Decimal],
    zones: ZoneSpans,
    params: ConfluenceParams,
    averages: Mapping[str, float | None],
) -> dict[str, Reading]:
    """The reading of each measurable block (the others are unknown: absent)."""
    readings: dict[str, Reading] = {}
    units = band_units(band)
    chosen = np.flatnonzero(measurable_mask(blocks, units))
    if len(chosen) == 0:
        return readings
    bin_units = params.zone.bin_units
    if bin_units is None:
        raise OffGrid(f"bin size {params.bin_size} is not a whole number of 1e-8")
    lows, highs = blocks.low_units[chosen], blocks.high_units[chosen]
    qty = ladder.quantities_between(lows, highs)
    shifts, valid = shift_matrix(lows, highs, units, bin_units)
    offsets = shifts * bin_units
    sums = ladder.quantities_between((lows[:, None] + offsets).ravel(), (highs[:, None] + offsets).ravel())
    medians = window_medians(sums.reshape(shifts.shape), valid)
    scores = (qty / _UNIT) / np.maximum(medians, params.eps)
    overlaps = (zones.low_units[None, :] < highs[:, None]) & (zones.high_units[None, :] > lows[:, None])
    confirmed = (overlaps & zones.confirmed[None, :]).any(axis=1)
    backed = confirmed | (scores >= params.wall_multiplier)  # NaN compares False
    ids = zones.ids
    touching: dict[int, tuple[str, ...]] = {
        row: tuple(ids[i] for i in np.flatnonzero(overlaps[row]).tolist())
        for row in np.flatnonzero(overlaps.any(axis=1)).tolist()
    }
    for row, (at, amount, score, held) in enumerate(
        zip(chosen.tolist(), qty.tolist(), scores.tolist(), backed.tolist(), strict=True)
    ):
        key = blocks.keys[at]
        readings[key] = Reading(
            qty=amount,
            score=None if score != score else score,  # NaN: no window
            zones=touching.get(row, ()),
            backed=held,
            avg_1h=averages.get(key),
        )
    return readings


def liquidity_of(reading: Reading, blocks: SideBlocks, index: int, ladder: SideLadder) -> BlockLiquidity:
    """The full liquidity of a block whose reading is pushed: Decimals and the exact notional."""
    low_units, high_units = int(blocks.low_units[index]), int(blocks.high_units[index])
    return BlockLiquidity(
        side=blocks.side,
        price_low=blocks.lows[index],
        price_high=blocks.highs[index],
        qty=Decimal(reading.qty).scaleb(-8),
        notional=Decimal(ladder.notional_between(low_units, high_units)).scaleb(-16),
        score=reading.score,
        zones=reading.zones,
        avg_1h=reading.avg_1h,
        backed=reading.backed,
    )


def reading_of(liquidity: BlockLiquidity) -> Reading:
    """The reading a ``BlockLiquidity`` (e.g. the reference's) corresponds to."""
    return Reading(
        qty=units_of(liquidity.qty),
        score=liquidity.score,
        zones=liquidity.zones,
        backed=liquidity.backed,
        avg_1h=liquidity.avg_1h,
    )


def side_blocks(blocks: Sequence[BlockRange], params: ConfluenceParams) -> tuple[SideBlocks, SideBlocks]:
    """(bid blocks, ask blocks)."""
    return SideBlocks.of(Side.BID, blocks, params), SideBlocks.of(Side.ASK, blocks, params)
