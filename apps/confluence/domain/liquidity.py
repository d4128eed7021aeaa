"""Liquidity inside an order block: the rules, one function each, and the plain reference. Pure.

No Django, no I/O, no clock. Prices and quantities are exact Decimals; the score is a float (a
ratio, like a zone's strength).

Rules (the numbers come from ``ConfluenceParams``):
- ``block_side``: a bullish block is measured on the bids, a bearish one on the asks.
- ``padded_range``: the block's [price_low, price_high] widened by ``pad_bins`` zone bins each way
  (never below 0).
- ``side_band``: where the zone analysis looks on that side (apps.zones.domain.detection
  ``analysis_bounds``: within ZONE_RANGE_PCT of mid and inside the book's trusted window): bids
  [bid_low, best_bid], asks [best_ask, ask_high].
- ``is_measurable``: the padded range's far end (low for bids, high for asks) lies inside the band.
  The near end may pass the touch: a side has no resting orders beyond its touch, a known 0. A block
  that is not measurable has unknown liquidity (null), never 0.
- ``resting_quantity`` / ``resting_notional``: sum(qty) / sum(qty*price) of the side's levels with
  low <= price <= high (``window_quantities``: the quantities of many windows in one pass).
- ``baseline_windows``: the windows of the padded range's width shifted by whole zone bins (the block's
  own window is the shift 0) that lie wholly inside the band; at most ``MAX_BASELINE_WINDOWS``, those
  nearest the block.
- ``window_median``: the median resting quantity of those windows (the mean of the two middle ones for
  an even count); None without a window.
- ``liquidity_score``: float(qty) / max(float(median), eps): the wall score of the block's window.
- ``overlapping_zones``: the candidate/confirmed zones on the side that share more than an edge with
  the padded range (zone low < high and zone high > low), by price.
- ``is_backed``: a confirmed zone among them, or score >= wall_multiplier.

``measure_block`` applies them to one block with plain Decimal arithmetic on the side's levels: the
reference the fast path (apps.confluence.domain.measure) is tested against.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, localcontext
from itertools import accumulate
from typing import Any, NamedTuple

from apps.book.domain.events import Level, Side
from apps.orderblocks.domain.enums import Direction
from apps.zones.domain.detection import AnalysisBounds, ZoneParams
from apps.zones.domain.enums import LIVE_STATUSES, ZoneStatus
from apps.zones.domain.tracking import ZoneRecord

MAX_BASELINE_WINDOWS = 200  # per block: bounds a cycle's work whatever the bin size and range
_ZERO = Decimal(0)
_EXACT = Context(prec=80)  # sums and halves of 1e-8 quantities never round


@dataclass(frozen=True, slots=True)
class ConfluenceParams:
    """The settings confluence uses: its own padding and the zone detection's grid, band and score."""

    zone: ZoneParams = field(default_factory=ZoneParams)
    pad_bins: int = 1
    change_fraction: float = 0.1  # a block is pushed again once a value moved by this much of it

    def __post_init__(self) -> None:
        if self.pad_bins < 0 or not 0 <= self.change_fraction <= 1:
            raise ValueError("pad_bins must be >= 0 and change_fraction within [0, 1]")

    @property
    def bin_size(self) -> Decimal:
        return self.zone.bin_size

    @property
    def wall_multiplier(self) -> float:
        return self.zone.wall_multiplier

    @property
    def eps(self) -> float:
        return self.zone.baseline_eps

    @classmethod
    def from_config(cls, config: Any) -> ConfluenceParams:
        """From project.config.Config (duck-typed: the zone_* and confluence_* attributes)."""
        return cls(
            zone=ZoneParams.from_config(config),
            pad_bins=int(config.confluence_pad_bins),
            change_fraction=float(config.confluence_change_pct) / 100,
        )


class BlockRange(NamedTuple):
    """What confluence needs of one order block: its id, the side it is measured on, its bounds."""

    key: str
    side: Side
    price_low: Decimal
    price_high: Decimal


@dataclass(frozen=True, slots=True)
class BlockLiquidity:
    """The liquidity measured inside one block's padded range in one cycle."""

    side: Side
    price_low: Decimal  # the padded range
    price_high: Decimal
    qty: Decimal
    notional: Decimal
    score: float | None  # None: no baseline window fits in the band
    zones: tuple[str, ...]
    avg_1h: float | None  # from the heatmap; None where it has no data
    backed: bool


def block_side(direction: str) -> Side:
    """Bullish blocks are measured on the bids, bearish ones on the asks."""
    return Side.BID if direction == Direction.BULLISH else Side.ASK


def block_range(key: str, direction: str, price_low: Decimal, price_high: Decimal) -> BlockRange:
    return BlockRange(key, block_side(direction), price_low, price_high)


def padded_range(
    price_low: Decimal, price_high: Decimal, params: ConfluenceParams
) -> tuple[Decimal, Decimal]:
    """[price_low - pad, price_high + pad] with pad = pad_bins x bin_size; the low end not below 0."""
    pad = params.pad_bins * params.bin_size
    return max(price_low - pad, _ZERO), price_high + pad


def side_band(bounds: AnalysisBounds, side: Side) -> tuple[Decimal, Decimal]:
    """The analysed band of one side: bids [bid_low, best_bid], asks [best_ask, ask_high]."""
    if side is Side.BID:
        return bounds.bid_low, bounds.best_bid
    return bounds.best_ask, bounds.ask_high


def is_measurable(low: Decimal, high: Decimal, side: Side, band: tuple[Decimal, Decimal]) -> bool:
    """Whether the range's far end (low for bids, high for asks) lies inside the band."""
    far = low if side is Side.BID else high
    return band[0] <= far <= band[1]


def resting_quantity(levels: Iterable[Level], price_low: Decimal, price_high: Decimal) -> Decimal:
    """Sum of the quantities of the levels with price_low <= price <= price_high (exact). ``levels``
    are one side's (price, qty) in any order, e.g. ``BookSnapshotView.levels_between(side, low, high)``."""
    total = _ZERO
    for price, qty in levels:
        if price_low <= price <= price_high:
            total = _EXACT.add(total, qty)
    return total


def resting_notional(levels: Iterable[Level], price_low: Decimal, price_high: Decimal) -> Decimal:
    """Sum of qty x price of the levels with price_low <= price <= price_high (exact)."""
    total = _ZERO
    for price, qty in levels:
        if price_low <= price <= price_high:
            total = _EXACT.add(total, _EXACT.multiply(qty, price))
    return total


def window_quantities(levels: Iterable[Level], windows: Sequence[tuple[Decimal, Decimal]]) -> list[Decimal]:
    """``resting_quantity`` of each window [low, high], in one pass over the levels (prefix sums and
    bisection): what a single measure (a reaction's touch) uses instead of one scan per window."""
    ordered = sorted(levels)
    prices = [price for price, _ in ordered]
    with localcontext(_EXACT):  # never rounds (see _EXACT)
        sums = list(accumulate((qty for _, qty in ordered), initial=_ZERO))
        return [sums[bisect_right(prices, high)] - sums[bisect_left(prices, low)] for low, high in windows]


def shift_limits(
    low: Decimal, high: Decimal, band: tuple[Decimal, Decimal], bin_size: Decimal
) -> tuple[int, int]:
    """(first, last) whole-bin shifts k with [low + k*bin, high + k*bin] inside the band (last < first:
    none). ceil((band_low - low)/bin) .. floor((band_high - high)/bin), exact."""
    first_whole, first_rest = divmod(band[0] - low, bin_size)
    first = int(first_whole) + (first_rest > 0)  # Decimal's divmod truncates: ceil for either sign
    last_whole, last_rest = divmod(band[1] - high, bin_size)
    last = int(last_whole) - (last_rest < 0)  # floor
    return first, last


def nearest_shifts(first: int, last: int, limit: int = MAX_BASELINE_WINDOWS) -> range:
    """At most ``limit`` consecutive shifts of first..last, those nearest shift 0 (the block itself)."""
    if last - first + 1 <= limit:
        return range(first, last + 1)
    start = min(max(-(limit // 2), first), last - limit + 1)
    return range(start, start + limit)


def baseline_windows(
    low: Decimal, high: Decimal, band: tuple[Decimal, Decimal], bin_size: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """The same-width windows the score compares the block's window with (see the module docstring)."""
    first, last = shift_limits(low, high, band, bin_size)
    return [(low + k * bin_size, high + k * bin_size) for k in nearest_shifts(first, last)]


def window_median(quantities: Sequence[Decimal]) -> Decimal | None:
    """The median (mean of the two middle values for an even count), exact; None when empty."""
    if not quantities:
        return None
    ordered = sorted(quantities)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return _EXACT.divide(_EXACT.add(ordered[middle - 1], ordered[middle]), Decimal(2))


def liquidity_score(qty: Decimal, median: Decimal | None, eps: float) -> float | None:
    """float(qty) / max(float(median), eps); None without a median."""
    if median is None:
        return None
    return float(qty) / max(float(median), eps)


def overlapping_zones(
    zones: Iterable[ZoneRecord], side: Side, low: Decimal, high: Decimal
) -> tuple[ZoneRecord, ...]:
    """Candidate/confirmed zones of ``side`` sharing more than an edge with [low, high], by price."""
    found = [
        z
        for z in zones
        if z.side == side and z.status in LIVE_STATUSES and z.price_low < high and z.price_high > low
    ]
    return tuple(sorted(found, key=lambda z: (z.price_low, z.id)))


def is_backed(zones: Iterable[ZoneRecord], score: float | None, wall_multiplier: float) -> bool:
    """A confirmed zone overlaps, or the score reaches the wall multiplier."""
    if any(z.status == ZoneStatus.CONFIRMED for z in zones):
        return True
    return score is not None and score >= wall_multiplier


def measure_block(
    block: BlockRange,
    levels: Sequence[Level],
    bounds: AnalysisBounds,
    zones: Iterable[ZoneRecord],
    params: ConfluenceParams,
    avg_1h: float | None = None,
) -> BlockLiquidity | None:
    """The rules above on one block, with plain Decimal arithmetic over ``levels`` (the block side's
    levels, any order). None when the block is not measurable (unknown)."""
    low, high = padded_range(block.price_low, block.price_high, params)
    band = side_band(bounds, block.side)
    if not is_measurable(low, high, block.side, band):
        return None
    qty = resting_quantity(levels, low, high)
    windows = baseline_windows(low, high, band, params.bin_size)
    median = window_median([resting_quantity(levels, w_low, w_high) for w_low, w_high in windows])
    score = liquidity_score(qty, median, params.eps)
    overlapping = overlapping_zones(zones, block.side, low, high)
    return BlockLiquidity(
        side=block.side,
        price_low=low,
        price_high=high,
        qty=qty,
        notional=resting_notional(levels, low, high),
        score=score,
        zones=tuple(z.id for z in overlapping),
        avg_1h=avg_1h,
        backed=is_backed(overlapping, score, params.wall_multiplier),
    )
