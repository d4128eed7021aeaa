"""What resting liquidity an order block's range holds, and whether it is backed. Pure.

Rules (one function each):
- The block's side of the book (``block_side``): bids for a bullish block, asks for a bearish one.
- The range (``padded_range``): [price_low, price_high] widened by ``pad_bins`` zone bins on each
  side (CONFLUENCE_PAD_BINS x ZONE_BIN_SIZE).
- Liquidity in the range (``resting_liquidity``): the quantity (and notional) of the side's levels
  with price in the range, inclusive; unknown (None, with the reason) when the range is not wholly
  inside the book's trusted window, since a level missing there may just be unknown to us.
- Window score (``window_score``): the range's quantity over the median quantity of the windows of
  the same width that tile the side's analysis band (the zones' band: mid +- ZONE_RANGE_PCT, within
  the trusted window), the range itself being one of them: the zones' wall score with the block's
  window as the bin. Unknown when the range is outside the band or fewer than two neighbouring
  windows fit in it.
- Backed (``is_backed``): a confirmed zone on that side overlaps the range, or the window score is
  at least ZONE_WALL_MULTIPLIER; unknown when there is no such zone and no score.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from statistics import median
from typing import Protocol

from apps.book.domain.events import Level, Side
from apps.orderblocks.domain.enums import Direction
from apps.zones.domain.detection import ZoneParams, analysis_bounds
from apps.zones.domain.enums import ZoneStatus

QUANTUM = Decimal("0.00000001")  # the stored scale: what is pushed equals what is stored
MIN_WINDOWS = 3  # a score needs the range and at least two neighbours


class LevelSource(Protocol):
    """A book to read levels from: the cycle's BookSnapshotView (duck-typed)."""

    @property
    def trusted_window(self) -> tuple[Decimal, Decimal] | None: ...

    def best_bid(self) -> Level | None: ...

    def best_ask(self) -> Level | None: ...

    def levels_between(self, side: Side, low: Decimal, high: Decimal) -> list[Level]: ...


class ZoneLike(Protocol):
    """A liquidity zone of the zone tracker's current set (apps.zones ZoneRecord, duck-typed)."""

    @property
    def id(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def price_low(self) -> Decimal: ...
    @property
    def price_high(self) -> Decimal: ...
    @property
    def status(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Liquidity:
    """Resting quantity and notional in a range; both None when unknown (``note`` says why)."""

    qty: Decimal | None
    notional: Decimal | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Backing:
    backed: bool | None  # None: unknown (no confirmed zone there and no score)
    zone_ids: tuple[str, ...]  # confirmed zones on the block's side overlapping the range
    score: float | None  # window score, None when unknown


def block_side(direction: str) -> Side:
    return Side.BID if direction == Direction.BULLISH else Side.ASK


def padded_range(
    price_low: Decimal, price_high: Decimal, bin_size: Decimal, pad_bins: int
) -> tuple[Decimal, Decimal]:
    pad = bin_size * pad_bins
    return price_low - pad, price_high + pad


def overlaps(low_a: Decimal, high_a: Decimal, low_b: Decimal, high_b: Decimal) -> bool:
    """Two price ranges share more than an edge."""
    return low_a < high_b and low_b < high_a


def liquidity_of(levels: Iterable[Level]) -> Liquidity:
    qty = notional = Decimal(0)
    for price, size in levels:
        qty += size
        notional += price * size
    return Liquidity(qty.quantize(QUANTUM, ROUND_HALF_EVEN), notional.quantize(QUANTUM, ROUND_HALF_EVEN))


def resting_liquidity(book: LevelSource, side: Side, low: Decimal, high: Decimal) -> Liquidity:
    window = book.trusted_window
    if window is not None and (low < window[0] or high > window[1]):
        return Liquidity(None, None, "the range is not wholly inside the book's trusted window")
    return liquidity_of(book.levels_between(side, low, high))


def window_score(
    levels: Sequence[Level],
    window_low: Decimal,
    window_high: Decimal,
    band_low: Decimal,
    band_high: Decimal,
    eps: float = 1e-8,
) -> float | None:
    """``levels``: the side's levels in [band_low, band_high], ascending by price (as levels_between
    returns them). Windows are half-open, [window_low + k*w, window_low + (k+1)*w) with
    w = window_high - window_low; k = 0 is the range itself, which must overlap the band (at a touch
    it reaches past the best price, where the side has no levels); its neighbours count when wholly
    inside the band, and at least two are needed. score = qty(range) / max(median of all, eps)."""
    width = window_high - window_low
    if width <= 0 or not overlaps(window_low, window_high, band_low, band_high):
        return None
    first = math.ceil((band_low - window_low) / width)
    last = math.floor((band_high - window_low) / width) - 1
    neighbours = [k for k in range(first, last + 1) if k != 0]
    if len(neighbours) < MIN_WINDOWS - 1:
        return None
    prices = [price for price, _ in levels]

    def quantity(k: int) -> Decimal:
        start = bisect_left(prices, window_low + k * width)
        stop = bisect_left(prices, window_low + (k + 1) * width)
        return sum((qty for _, qty in levels[start:stop]), Decimal(0))

    own = quantity(0)
    baseline = float(median([own, *(quantity(k) for k in neighbours)]))
    return float(own) / max(baseline, eps)


def is_backed(confirmed_zone_ids: Sequence[str], score: float | None, wall_multiplier: float) -> bool | None:
    if confirmed_zone_ids:
        return True
    if score is None:
        return None
    return score >= wall_multiplier


def confirmed_zones_in(zones: Iterable[ZoneLike], side: Side, low: Decimal, high: Decimal) -> tuple[str, ...]:
    return tuple(
        zone.id
        for zone in zones
        if zone.side == side
        and zone.status == ZoneStatus.CONFIRMED
        and overlaps(zone.price_low, zone.price_high, low, high)
    )


def backing_of(
    book: LevelSource,
    side: Side,
    low: Decimal,
    high: Decimal,
    zones: Iterable[ZoneLike],
    params: ZoneParams,
) -> Backing:
    """Whether the range [low, high] (already padded) is backed on this book and zone set."""
    zone_ids = confirmed_zones_in(zones, side, low, high)
    score = None
    bid, ask = book.best_bid(), book.best_ask()
    if bid is not None and ask is not None and bid[0] < ask[0]:
        bounds = analysis_bounds(bid[0], ask[0], book.trusted_window, params)
        band = (bounds.bid_low, bid[0]) if side is Side.BID else (ask[0], bounds.ask_high)
        if overlaps(low, high, band[0], band[1]):
            levels = book.levels_between(side, band[0], band[1])
            score = window_score(levels, low, high, band[0], band[1], params.baseline_eps)
    return Backing(is_backed(zone_ids, score, params.wall_multiplier), zone_ids, score)
