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


def shift_matrix(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(shifts per block and column, valid mask) from each block's ``shift_limits`` (first, last):
    ``nearest_shifts`` for every block, each row holding its shifts from the left (invalid columns
    pad the shorter rows)."""
    count = np.maximum(last - first + 1, 0)
    width = int(count.max(initial=0))
    limit = MAX_BASELINE_WINDOWS
    if width > limit:  # a tiny bin or a wide band: the shifts nearest the block
        first = np.where(count > limit, np.minimum(np.maximum(-(limit // 2), first), last - limit + 1), first)
        count, width = np.minimum(count, limit), limit
    columns = np.arange(max(width, 1), dtype=np.int64)
    return first[:, None] + columns, columns < count[:, None]


class WindowGrid(NamedTuple):
    """The windows of the measured rows as one query of the book: each row's own range, then its
    baseline windows (a row of ``width`` per block, invalid columns padding the shorter rows), and
    where each row's median lies once its windows are sorted. Depends only on the rows and their
    shift limits, which mostly stay from one cycle to the next."""

    first: np.ndarray  # the shift limits it was made for
    last: np.ndarray
    lows: np.ndarray  # stored units: the rows' own ranges, then their windows row by row
    highs: np.ndarray
    width: int
    invalid: np.ndarray | None  # rows x width: padding (None: there is none)
    lower_middle: np.ndarray  # flat index of each row's lower middle window once sorted
    upper_middle: np.ndarray
    empty: np.ndarray | None  # rows without a window (None: there are none)

    @classmethod
    def of(cls, rows: Rows, first: np.ndarray, last: np.ndarray, bin_units: int) -> WindowGrid:
        shifts, valid = shift_matrix(first, last)
        steps = shifts * bin_units
        width = steps.shape[1]
        counts = valid.sum(axis=1)
        base = np.arange(len(counts)) * width
        empty = counts == 0
        return cls(
            first,
            last,
            np.concatenate((rows.stored_lows, (rows.stored_lows[:, None] + steps).ravel())),
            np.concatenate((rows.stored_highs, (rows.stored_highs[:, None] + steps).ravel())),
            width,
            None if valid.all() else ~valid,
            base + np.maximum(counts - 1, 0) // 2,
            base + np.minimum(counts // 2, width - 1),
            empty if empty.any() else None,
        )


def window_medians(sums: np.ndarray, grid: WindowGrid) -> np.ndarray:
    """``window_median`` of each row's valid windows (``sums``: rows x width, as laid out by ``grid``),
    as a float of the base asset (NaN: none). ``sums`` is sorted in place (its padding is set past
    every real window first)."""
    if grid.invalid is not None:
        sums[grid.invalid] = _FILL
    sums.sort(axis=1)
    flat = sums.ravel()
    low, high = flat[grid.lower_middle], flat[grid.upper_middle]
    if grid.empty is not None:  # rows without a window: no median (and no sum of two fills)
        low[grid.empty] = high[grid.empty] = 0
    # an exact integer sum, then one correctly rounded division: float(the exact median)
    medians = (low + high) / (2 * _UNIT)
    if grid.empty is not None:
        medians[grid.empty] = np.nan
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


class Rows(NamedTuple):
    """The blocks measured in a cycle (those measurable), as rows: positions and padded ranges."""

    chosen: np.ndarray  # their positions in the ``Blocks``
    positions: list[int]
    lows: np.ndarray  # units
    highs: np.ndarray
    stored_lows: np.ndarray  # units shifted where their side is in the book's arrays (``offset_of``)
    stored_highs: np.ndarray
    is_bid: np.ndarray

    @classmethod
    def of(cls, blocks: Blocks, known: np.ndarray) -> Rows:
        chosen = known.nonzero()[0]
        lows, highs, stored = (
            blocks.low_units[chosen],
            blocks.high_units[chosen],
            blocks.stored_offset[chosen],
        )
        return cls(chosen, chosen.tolist(), lows, highs, lows + stored, highs + stored, blocks.is_bid[chosen])


class MeasureMemo:
    """What a cycle's measurement can take from the last one: the rows, while the same blocks are
    measurable, and their zone overlaps, while the zones are the same too (most cycles: the band
    moves by a few ticks and the zones stay). ``measure_blocks`` gives the same readings with or
    without it; it only saves work."""

    def __init__(self) -> None:
        self._blocks: Blocks | None = None
        self._known = np.empty(0, dtype=bool)
        self._rows: Rows | None = None
        self._zones: ZoneSpans | None = None  # the zones and the rows the overlaps are of
        self._overlaps_of: Rows | None = None
        self._overlaps: tuple[np.ndarray, dict[int, tuple[str, ...]]] = (np.empty(0, dtype=bool), {})
        self._grid: WindowGrid | None = None
        self._grid_of: Rows | None = None

    def rows(self, blocks: Blocks, known: np.ndarray) -> Rows:
        if self._rows is None or blocks is not self._blocks or not (known == self._known).all():
            self._blocks, self._known, self._rows = blocks, known, Rows.of(blocks, known)
        return self._rows

    def overlaps(self, rows: Rows, zones: ZoneSpans) -> tuple[np.ndarray, dict[int, tuple[str, ...]]]:
        """``zone_overlaps`` of ``rows``."""
        if zones is not self._zones or rows is not self._overlaps_of:
            self._zones, self._overlaps_of = zones, rows
            self._overlaps = zone_overlaps(zones, rows.lows, rows.highs, rows.is_bid, rows.positions)
        return self._overlaps

    def grid(self, rows: Rows, first: np.ndarray, last: np.ndarray, bin_units: int) -> WindowGrid:
        """``WindowGrid.of`` the rows with these shift limits."""
        grid = self._grid
        if (
            grid is None
            or rows is not self._grid_of
            or not (first == grid.first).all()  # the same rows: the same shapes
            or not (last == grid.last).all()
        ):
            grid = self._grid = WindowGrid.of(rows, first, last, bin_units)
            self._grid_of = rows
        return grid


def measure_blocks(
    blocks: Blocks,
    book: FollowedBook,
    bounds: AnalysisBounds,
    zones: ZoneSpans,
    params: ConfluenceParams,
    averages: np.ndarray,
    memo: MeasureMemo | None = None,
) -> Readings:
    """Every block's reading (``averages``: ``block_averages_array``; ``memo``: one kept from cycle
    to cycle by the caller, for speed)."""
    n = len(blocks)
    band_low, band_high = row_bands(blocks, bounds)
    known = (blocks.far_units >= band_low) & (blocks.far_units <= band_high)  # ``is_measurable``
    if not known.any():
        return Readings.unknown(n)
    bin_units = params.zone.bin_units
    if bin_units is None:
        raise OffGrid(f"bin size {params.bin_size} is not a whole number of 1e-8")
    memo = memo or MeasureMemo()
    rows = memo.rows(blocks, known)
    chosen = rows.chosen
    first = -((rows.lows - band_low[chosen]) // bin_units)  # ``shift_limits``: ceil((band low - low) / bin)
    last = (band_high[chosen] - rows.highs) // bin_units  # floor((band high - high) / bin)
    grid = memo.grid(rows, first, last, bin_units)
    found = book.quantities_between(grid.lows, grid.highs)
    m = len(chosen)
    amounts = found[:m]
    medians = window_medians(found[m:].reshape(m, grid.width), grid)
    scores = (amounts / _UNIT) / np.maximum(medians, params.eps)
    confirmed, touching = memo.overlaps(rows, zones)
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
