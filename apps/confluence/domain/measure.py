"""The liquidity rules (apps.confluence.domain.liquidity) for every block at once. Pure.

The fast path of ``measure_block``: prices and quantities in exact 1e-8 units; every block's own
window and its baseline windows in one matrix (a row per block, bids first), all summed with two
binary searches over the ``FollowedBook``'s prefix sums (both sides in one array); medians, scores, zone overlaps
and ``backed`` for all rows in a handful of array operations (``Blocks`` prepares the blocks once per
block set). Floats are made with the same correctly rounded operations as the reference (an integer
of units divided by 1e8), so the readings are identical, not just close:
tests/confluence/test_measure_properties.py.

A cycle only needs a small ``Reading`` per block (to tell what changed); the notional and the
Decimals of a ``BlockLiquidity`` are worked out only for the blocks whose reading is pushed
(``liquidity_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from apps.book.domain.events import Side
from apps.confluence.domain.ladder import ASK_OFFSET, FollowedBook, OffGrid, ceil_units, floor_units, units_of
from apps.confluence.domain.liquidity import (
    MAX_BASELINE_WINDOWS,
    BlockLiquidity,
    BlockRange,
    ConfluenceParams,
    padded_range,
    side_band,
)
from apps.zones.domain.detection import AnalysisBounds
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
class Blocks:
    """The blocks measured: bids first (``bids`` of them), then asks; their padded ranges as Decimals
    and as units."""

    keys: tuple[str, ...]
    sides: tuple[Side, ...]
    bids: int
    lows: tuple[Decimal, ...]
    highs: tuple[Decimal, ...]
    low_units: np.ndarray
    high_units: np.ndarray
    is_bid: np.ndarray
    stored_offset: np.ndarray  # per block: ``offset_of`` its side (asks are stored above the bids)
    far_units: np.ndarray  # per block: the far end of its range (low for bids, high for asks)
    index: dict[str, int]  # key -> position

    @classmethod
    def of(cls, blocks: Iterable[BlockRange], params: ConfluenceParams) -> Blocks:
        """OffGrid if a bound is not a whole number of 1e-8."""
        ordered = sorted(blocks, key=lambda b: b.side is not Side.BID)  # stable: bids first
        ranges = [padded_range(b.price_low, b.price_high, params) for b in ordered]
        bids = sum(1 for b in ordered if b.side is Side.BID)
        return cls(
            keys=tuple(b.key for b in ordered),
            sides=tuple(b.side for b in ordered),
            bids=bids,
            lows=tuple(low for low, _ in ranges),
            highs=tuple(high for _, high in ranges),
            low_units=np.array([units_of(low) for low, _ in ranges], dtype=np.int64),
            high_units=np.array([units_of(high) for _, high in ranges], dtype=np.int64),
            is_bid=np.arange(len(ordered)) < bids,
            stored_offset=np.where(np.arange(len(ordered)) < bids, 0, ASK_OFFSET).astype(np.int64),
            far_units=np.array(
                [
                    units_of(low if b.side is Side.BID else high)
                    for b, (low, high) in zip(ordered, ranges, strict=True)
                ],
                dtype=np.int64,
            ),
            index={b.key: i for i, b in enumerate(ordered)},
        )

    def __len__(self) -> int:
        return len(self.keys)


class ZoneSpans(NamedTuple):
    """The candidate/confirmed zones by price: ids, bounds in units, side, confirmed or not."""

    ids: tuple[str, ...]
    low_units: np.ndarray
    high_units: np.ndarray
    is_bid: np.ndarray
    confirmed: np.ndarray

    @classmethod
    def of(cls, zones: Iterable[ZoneRecord]) -> ZoneSpans:
        mine = sorted((z for z in zones if z.status in LIVE_STATUSES), key=lambda z: (z.price_low, z.id))
        return cls(
            ids=tuple(z.id for z in mine),
            # floor/ceil: for a whole number h of units, low < h iff floor(low) < h, high > h iff ceil(high) > h
            low_units=np.array([floor_units(z.price_low) for z in mine], dtype=np.int64),
            high_units=np.array([ceil_units(z.price_high) for z in mine], dtype=np.int64),
            is_bid=np.array([z.side == Side.BID for z in mine], dtype=bool),
            confirmed=np.array([z.status == ZoneStatus.CONFIRMED for z in mine], dtype=bool),
        )


def band_units(band: tuple[Decimal, Decimal]) -> tuple[int, int]:
    """The band's prices in whole units: [ceil(low), floor(high)] holds the same grid prices."""
    return ceil_units(band[0]), floor_units(band[1])


def row_bands(blocks: Blocks, bounds: AnalysisBounds) -> tuple[np.ndarray, np.ndarray]:
    """(band low, band high) in units for every row: its side's band (``side_band``)."""
    bid, ask = band_units(side_band(bounds, Side.BID)), band_units(side_band(bounds, Side.ASK))
    return np.where(blocks.is_bid, bid[0], ask[0]), np.where(blocks.is_bid, bid[1], ask[1])


def shift_matrix(
    lows: np.ndarray, highs: np.ndarray, band_low: np.ndarray, band_high: np.ndarray, bin_units: int
) -> tuple[np.ndarray, np.ndarray]:
    """(shifts per block and column, valid mask): ``shift_limits`` and ``nearest_shifts`` for every
    block, each row holding its shifts from the left (invalid columns pad the shorter rows)."""
    first = -((lows - band_low) // bin_units)  # ceil((band_low - low) / bin)
    last = (band_high - highs) // bin_units  # floor((band_high - high) / bin)
    count = np.maximum(last - first + 1, 0)
    width = int(count.max(initial=0))
    limit = MAX_BASELINE_WINDOWS
    if width > limit:  # a tiny bin or a wide band: the shifts nearest the block
        first = np.where(count > limit, np.minimum(np.maximum(-(limit // 2), first), last - limit + 1), first)
        count, width = np.minimum(count, limit), limit
    columns = np.arange(max(width, 1), dtype=np.int64)
    return first[:, None] + columns, columns < count[:, None]


def window_medians(sums: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``window_median`` of each row's valid windows, as a float of the base asset (NaN: none).
    ``sums`` is sorted in place (its invalid windows are set past every real one first)."""
    counts = valid.sum(axis=1)
    sums[~valid] = _FILL
    sums.sort(axis=1)
    rows = np.arange(len(sums))
    low = sums[rows, np.maximum(counts - 1, 0) // 2]
    high = sums[rows, np.minimum(counts // 2, sums.shape[1] - 1)]
    empty = counts == 0
    if empty.any():  # rows without a window: no median (and no sum of two fills)
        low[empty] = high[empty] = 0
    # an exact integer sum, then one correctly rounded division: float(the exact median)
    medians = (low + high) / (2 * _UNIT)
    if empty.any():
        medians[empty] = np.nan
    return medians


class Readings(NamedTuple):
    """One cycle's readings of every block of a ``Blocks``, by position, as arrays."""

    known: np.ndarray  # bool: measurable (the others are unknown)
    qty: np.ndarray  # int64 units (0 where unknown)
    score: np.ndarray  # float64, NaN: no score (or unknown)
    backed: np.ndarray  # bool
    avg_1h: np.ndarray  # float64, NaN: no heatmap data (or unknown)
    zones: dict[int, tuple[str, ...]]  # position -> overlapping zone ids (only where there are some)

    @classmethod
    def unknown(cls, size: int) -> Readings:
        """Every block unknown (the book is not live, ...)."""
        nothing = np.zeros(size, dtype=bool)
        return cls(
            nothing, np.zeros(size, dtype=np.int64), np.full(size, np.nan), nothing, np.full(size, np.nan), {}
        )

    def reading(self, at: int) -> Reading | None:
        """The ``Reading`` of one block (None: unknown)."""
        if not self.known[at]:
            return None
        score, avg = float(self.score[at]), float(self.avg_1h[at])
        return Reading(
            qty=int(self.qty[at]),
            score=None if score != score else score,  # NaN: none
            zones=self.zones.get(at, ()),
            backed=bool(self.backed[at]),
            avg_1h=None if avg != avg else avg,
        )


def block_averages_array(blocks: Blocks, averages: Mapping[str, float | None]) -> np.ndarray:
    """The blocks' one-hour averages by position (NaN: none)."""
    values = [averages.get(key) for key in blocks.keys]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def zone_overlaps(
    zones: ZoneSpans, lows: np.ndarray, highs: np.ndarray, is_bid: np.ndarray, positions: list[int]
) -> tuple[np.ndarray, dict[int, tuple[str, ...]]]:
    """(a confirmed zone overlaps, per row; position -> overlapping zone ids by price): the zones of each
    row's side sharing more than an edge with its range (``overlapping_zones``)."""
    if not zones.ids:
        return np.zeros(len(lows), dtype=bool), {}
    overlaps = (
        (zones.low_units[None, :] < highs[:, None])
        & (zones.high_units[None, :] > lows[:, None])
        & (zones.is_bid[None, :] == is_bid[:, None])
    )
    ids = zones.ids
    found: dict[int, list[str]] = {}
    for row, column in zip(*(axis.tolist() for axis in overlaps.nonzero()), strict=True):
        found.setdefault(positions[row], []).append(ids[column])  # row-major: by price within a row
    confirmed = (overlaps & zones.confirmed[None, :]).any(axis=1)
    return confirmed, {at: tuple(names) for at, names in found.items()}


def measure_blocks(
    blocks: Blocks,
    book: FollowedBook,
    bounds: AnalysisBounds,
    zones: ZoneSpans,
    params: ConfluenceParams,
    averages: np.ndarray,
) -> Readings:
    """Every block's reading (``averages``: ``block_averages_array``)."""
    n = len(blocks)
    band_low, band_high = row_bands(blocks, bounds)
    known = (blocks.far_units >= band_low) & (blocks.far_units <= band_high)  # ``is_measurable``
    chosen = known.nonzero()[0]
    if len(chosen) == 0:
        return Readings.unknown(n)
    bin_units = params.zone.bin_units
    if bin_units is None:
        raise OffGrid(f"bin size {params.bin_size} is not a whole number of 1e-8")
    lows, highs = blocks.low_units[chosen], blocks.high_units[chosen]
    shifts, valid = shift_matrix(lows, highs, band_low[chosen], band_high[chosen], bin_units)
    stored = blocks.stored_offset[chosen]  # where each side is in the book's arrays
    amounts = book.quantities_between(lows + stored, highs + stored)
    offsets = shifts * bin_units + stored[:, None]
    sums = book.quantities_between((lows[:, None] + offsets).ravel(), (highs[:, None] + offsets).ravel())
    medians = window_medians(sums.reshape(offsets.shape), valid)
    scores = (amounts / _UNIT) / np.maximum(medians, params.eps)
    positions = chosen.tolist()
    confirmed, touching = zone_overlaps(zones, lows, highs, blocks.is_bid[chosen], positions)
    qty, score = np.zeros(n, dtype=np.int64), np.full(n, np.nan)
    backed = np.zeros(n, dtype=bool)
    qty[chosen], score[chosen] = amounts, scores
    backed[chosen] = confirmed | (scores >= params.wall_multiplier)  # NaN compares False
    return Readings(known, qty, score, backed, np.where(known, averages, np.nan), touching)


def liquidity_of(reading: Reading, blocks: Blocks, at: int, book: FollowedBook) -> BlockLiquidity:
    """The full liquidity of a block whose reading is pushed: Decimals and the exact notional."""
    side = blocks.sides[at]
    low_units, high_units = int(blocks.low_units[at]), int(blocks.high_units[at])
    return BlockLiquidity(
        side=side,
        price_low=blocks.lows[at],
        price_high=blocks.highs[at],
        qty=Decimal(reading.qty).scaleb(-8),
        notional=Decimal(book.notional_between(side, low_units, high_units)).scaleb(-16),
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
