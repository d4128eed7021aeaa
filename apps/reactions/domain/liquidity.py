"""What resting liquidity an order block's range holds at a reaction's steps, and whether it was
backed at the touch. Pure. The measures are confluence's (apps.confluence.domain.liquidity), so a
reaction records what the page showed for that block:

- the block's side, the padded range, the resting quantity and notional, the window score (the
  same-width windows shifted by whole zone bins inside the side's analysis band) and the wall rule are
  confluence's functions;
- ``resting_liquidity`` (a reaction's step): unknown (None, with the reason) when the range is not
  wholly inside the book's trusted window, since a level missing there may just be unknown to us;
- ``backing_of`` (at the touch): a confirmed zone on that side overlaps the range, or the window score
  is at least ZONE_WALL_MULTIPLIER; unknown (None) when there is no such zone and no score (the range's
  far end is outside the band), where confluence's live figure says "not backed".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

from apps.book.domain.events import Level, Side
from apps.confluence.domain.liquidity import (
    ConfluenceParams,
    baseline_windows,
    is_measurable,
    liquidity_score,
    resting_notional,
    resting_quantity,
    side_band,
    window_median,
    window_quantities,
)
from apps.zones.domain.detection import analysis_bounds
from apps.zones.domain.enums import ZoneStatus

QUANTUM = Decimal("0.00000001")  # the stored scale: what is pushed equals what is stored


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


def overlaps(low_a: Decimal, high_a: Decimal, low_b: Decimal, high_b: Decimal) -> bool:
    """Two price ranges share more than an edge."""
    return low_a < high_b and low_b < high_a


def resting_liquidity(book: LevelSource, side: Side, low: Decimal, high: Decimal) -> Liquidity:
    window = book.trusted_window
    if window is not None and (low < window[0] or high > window[1]):
        return Liquidity(None, None, "the range is not wholly inside the book's trusted window")
    levels = book.levels_between(side, low, high)
    qty, notional = resting_quantity(levels, low, high), resting_notional(levels, low, high)
    return Liquidity(qty.quantize(QUANTUM, ROUND_HALF_EVEN), notional.quantize(QUANTUM, ROUND_HALF_EVEN))


def backed_or_unknown(
    confirmed_zone_ids: Sequence[str], score: float | None, wall_multiplier: float
) -> bool | None:
    """Confluence's wall rule, with "unknown" kept apart: no confirmed zone and no score is None."""
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
    params: ConfluenceParams,
) -> Backing:
    """Whether the range [low, high] (already padded) is backed on this book and zone set."""
    zone_ids = confirmed_zones_in(zones, side, low, high)
    score = None
    bid, ask = book.best_bid(), book.best_ask()
    if bid is not None and ask is not None and bid[0] < ask[0]:
        band = side_band(analysis_bounds(bid[0], ask[0], book.trusted_window, params.zone), side)
        if is_measurable(low, high, side, band):
            levels = book.levels_between(side, min(low, band[0]), max(high, band[1]))
            quantities = window_quantities(
                levels, [(low, high), *baseline_windows(low, high, band, params.bin_size)]
            )
            score = liquidity_score(quantities[0], window_median(quantities[1:]), params.eps)
    return Backing(backed_or_unknown(zone_ids, score, params.wall_multiplier), zone_ids, score)
