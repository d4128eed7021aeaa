"""Liquidity walls and cluster zones from one picture of the order book.

Pure: no Django, no I/O, no clock. Fed plain ``(price, qty)`` Decimal levels, returns plain data.

Rules (every number comes from ``ZoneParams``):
- mid = (best_bid + best_ask) / 2; bids with price >= mid*(1 - range_pct/100) and asks with
  price <= mid*(1 + range_pct/100) are analysed, and only inside the book's trusted window.
- Bins of ``bin_size``: bid index floor(price/bin) covering [i*bin, (i+1)*bin), ask index
  ceil(price/bin) covering ((i-1)*bin, i*bin]; ``half_up`` rounds price/bin half-up on both sides,
  covering [(i-1/2)*bin, (i+1/2)*bin).  A side's series runs over every bin between its extreme
  occupied bins; empty bins have volume 0.
- vol_i = sum(qty) or sum(qty*price); baseline_i = median of vol over bins i-k..i+k clipped to the
  series; score_i = vol_i / max(baseline_i, eps); a wall bin has score >= wall_multiplier and vol > 0.
- Wall bins with at most ``max_gap_bins`` bins strictly between them form one zone: bounds from its
  outer bins, notional = sum(qty*price) of its wall bins, strength = notional-weighted mean score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from apps.book.domain.events import Level, Side

ROUNDING_MODES = ("floor_ceil", "half_up")
VOLUME_MODES = ("qty", "notional")
_HUNDRED = Decimal(100)
_TWO = Decimal(2)


@dataclass(frozen=True, slots=True)
class ZoneParams:
    """The detection settings (defaults are the spec's)."""

    range_pct: Decimal = Decimal("1.0")
    bin_size: Decimal = Decimal("50")
    rounding: str = "floor_ceil"
    volume_mode: str = "qty"
    baseline_k: int = 3
    wall_multiplier: float = 4.0
    max_gap_bins: int = 1
    baseline_eps: float = 1e-8

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDING_MODES:
            raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {self.rounding!r}")
        if self.volume_mode not in VOLUME_MODES:
            raise ValueError(f"volume_mode must be one of {VOLUME_MODES}, got {self.volume_mode!r}")
        if not self.bin_size > 0 or not self.range_pct > 0:
            raise ValueError("bin_size and range_pct must be positive")
        if self.baseline_k < 0 or self.max_gap_bins < 0:
            raise ValueError("baseline_k and max_gap_bins must be >= 0")
        if not self.baseline_eps > 0:
            raise ValueError("baseline_eps must be positive")

    @classmethod
    def from_config(cls, config: Any) -> ZoneParams:
        """From project.config.Config (duck-typed: the zone_* attributes)."""
        return cls(
            range_pct=Decimal(config.zone_range_pct),
            bin_size=Decimal(config.zone_bin_size),
            rounding=config.zone_bin_rounding,
            volume_mode=config.zone_volume_mode,
            baseline_k=int(config.zone_baseline_k),
            wall_multiplier=float(config.zone_wall_multiplier),
            max_gap_bins=int(config.zone_max_gap_bins),
            baseline_eps=float(config.zone_baseline_eps),
        )


@dataclass(frozen=True, slots=True)
class AnalysisBounds:
    """Where the analysis looks, given the touch and the trusted window."""

    best_bid: Decimal
    best_ask: Decimal
    mid: Decimal
    range_low: Decimal  # mid * (1 - range_pct/100)
    range_high: Decimal  # mid * (1 + range_pct/100)
    bid_low: Decimal  # lowest bid price analysed: range_low clipped to the trusted window
    ask_high: Decimal  # highest ask price analysed
    window_narrower_than_range: bool


@dataclass(frozen=True, slots=True)
class WallBin:
    """One bin whose volume stands out from its neighbourhood."""

    index: int
    price_low: Decimal
    price_high: Decimal
    qty: Decimal
    notional: Decimal
    volume: Decimal  # qty or notional, per volume_mode
    baseline: float
    score: float


@dataclass(frozen=True, slots=True)
class DetectedZone:
    side: Side
    price_low: Decimal
    price_high: Decimal
    notional: Decimal
    strength: float
    bins: tuple[WallBin, ...]


@dataclass(frozen=True, slots=True)
class SideSummary:
    """What one side's analysis covered (for the 'why' in the output)."""

    levels: int  # levels analysed
    bins: int  # length of the bin series (occupied + empty in between)
    wall_bins: int


@dataclass(frozen=True, slots=True)
class ZoneDetection:
    bounds: AnalysisBounds | None  # None when there is no touch to centre on
    zones: tuple[DetectedZone, ...]  # bids first (ascending price), then asks (ascending price)
    bid_summary: SideSummary
    ask_summary: SideSummary
    problem: str | None = None  # why nothing could be analysed, e.g. "the book has no asks"

    @property
    def mid(self) -> Decimal | None:
        return self.bounds.mid if self.bounds else None

    @property
    def window_narrower_than_range(self) -> bool:
        return bool(self.bounds and self.bounds.window_narrower_than_range)


_EMPTY_SUMMARY = SideSummary(levels=0, bins=0, wall_bins=0)


def analysis_bounds(
    best_bid: Decimal,
    best_ask: Decimal,
    trusted_window: tuple[Decimal, Decimal] | None,
    params: ZoneParams,
) -> AnalysisBounds:
    """The analysed price band per side. ``trusted_window`` None means every level is trusted."""
    mid = (best_bid + best_ask) / _TWO
    fraction = params.range_pct / _HUNDRED
    range_low = mid * (1 - fraction)
    range_high = mid * (1 + fraction)
    bid_low, ask_high, narrower = range_low, range_high, False
    if trusted_window is not None:
        window_low, window_high = trusted_window
        if window_low > range_low:
            bid_low, narrower = window_low, True
        if window_high < range_high:
            ask_high, narrower = window_high, True
    return AnalysisBounds(
        best_bid=best_bid,
        best_ask=best_ask,
        mid=mid,
        range_low=range_low,
        range_high=range_high,
        bid_low=bid_low,
        ask_high=ask_high,
        window_narrower_than_range=narrower,
    )


def bin_index(price: Decimal, side: Side, params: ZoneParams) -> int:
    """The bin a price falls in (exact Decimal arithmetic, no float)."""
    size = params.bin_size
    if params.rounding == "half_up":
        return int((price + size / _TWO) // size)  # floor(x + 1/2): halves go up
    whole, rest = divmod(price, size)  # prices are positive, so Decimal's truncation is floor
    if side is Side.BID or rest == 0:
        return int(whole)
    return int(whole) + 1  # ceil


def bin_bounds(index: int, side: Side, params: ZoneParams) -> tuple[Decimal, Decimal]:
    """(price_low, price_high) of a bin; see the module docstring for which end is closed."""
    size = params.bin_size
    if params.rounding == "half_up":
        centre = index * size
        return centre - size / _TWO, centre + size / _TWO
    if side is Side.BID:
        return index * size, (index + 1) * size
    return (index - 1) * size, index * size


def clipped_rolling_median(values: np.ndarray, k: int) -> np.ndarray:
    """median(values[i-k..i+k]) for every i, the window clipped to the array (not padded)."""
    n = len(values)
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    if k == 0:
        out[:] = values
        return out
    width = 2 * k + 1
    if n >= width:
        out[k : n - k] = np.median(sliding_window_view(values, width), axis=1)
        edges: Iterable[int] = (*range(k), *range(n - k, n))
    else:
        edges = range(n)
    for i in edges:
        out[i] = np.median(values[max(0, i - k) : i + k + 1])
    return out


def detect_zones(
    bids: Iterable[Level],
    asks: Iterable[Level],
    trusted_window: tuple[Decimal, Decimal] | None,
    params: ZoneParams,
    touch: tuple[Decimal, Decimal] | None = None,
) -> ZoneDetection:
    """Zones on both sides. Levels may come in any order and may include out-of-range levels.

    ``touch`` is (best_bid, best_ask) when the caller knows it (a live book); otherwise it is
    taken from the levels. Levels with quantity 0 are absent levels and are ignored.
    """
    bid_levels = [(p, q) for p, q in bids if q > 0]
    ask_levels = [(p, q) for p, q in asks if q > 0]
    if touch is None:
        if not bid_levels or not ask_levels:
            missing = "bids" if not bid_levels else "asks"
            return _nothing(None, f"the book has no {missing}; a mid price needs both sides")
        touch = (max(p for p, _ in bid_levels), min(p for p, _ in ask_levels))
    best_bid, best_ask = touch
    if best_bid >= best_ask:
        return _nothing(None, f"the book is crossed (best bid {best_bid} >= best ask {best_ask})")
    bounds = analysis_bounds(best_bid, best_ask, trusted_window, params)
    bid_in = [(p, q) for p, q in bid_levels if bounds.bid_low <= p <= best_bid]
    ask_in = [(p, q) for p, q in ask_levels if best_ask <= p <= bounds.ask_high]
    bid_zones, bid_summary = _side_zones(Side.BID, bid_in, params)
    ask_zones, ask_summary = _side_zones(Side.ASK, ask_in, params)
    return ZoneDetection(
        bounds=bounds,
        zones=(*bid_zones, *ask_zones),
        bid_summary=bid_summary,
        ask_summary=ask_summary,
    )


def _nothing(bounds: AnalysisBounds | None, problem: str) -> ZoneDetection:
    return ZoneDetection(
        bounds=bounds, zones=(), bid_summary=_EMPTY_SUMMARY, ask_summary=_EMPTY_SUMMARY, problem=problem
    )


def _side_zones(
    side: Side, levels: list[Level], params: ZoneParams
) -> tuple[tuple[DetectedZone, ...], SideSummary]:
    if not levels:
        return (), _EMPTY_SUMMARY
    qty_by_bin: dict[int, Decimal] = {}
    notional_by_bin: dict[int, Decimal] = {}
    for price, qty in levels:
        index = bin_index(price, side, params)
        qty_by_bin[index] = qty_by_bin.get(index, Decimal(0)) + qty
        notional_by_bin[index] = notional_by_bin.get(index, Decimal(0)) + qty * price
    volume_by_bin = qty_by_bin if params.volume_mode == "qty" else notional_by_bin
    first = min(volume_by_bin)
    length = max(volume_by_bin) - first + 1
    volumes = np.zeros(length, dtype=np.float64)
    for index, volume in volume_by_bin.items():
        volumes[index - first] = float(volume)
    baselines = clipped_rolling_median(volumes, params.baseline_k)
    scores = volumes / np.maximum(baselines, params.baseline_eps)
    walls = np.flatnonzero((scores >= params.wall_multiplier) & (volumes > 0))
    summary = SideSummary(levels=len(levels), bins=length, wall_bins=len(walls))
    if len(walls) == 0:
        return (), summary
    # a new group starts wherever more than max_gap_bins bins lie strictly between two wall bins
    breaks = np.flatnonzero(np.diff(walls) - 1 > params.max_gap_bins) + 1
    zones = []
    for group in np.split(walls, breaks):
        members = []
        for position in group.tolist():
            index = first + position
            low, high = bin_bounds(index, side, params)
            members.append(
                WallBin(
                    index=index,
                    price_low=low,
                    price_high=high,
                    qty=qty_by_bin[index],
                    notional=notional_by_bin[index],
                    volume=volume_by_bin[index],
                    baseline=float(baselines[position]),
                    score=float(scores[position]),
                )
            )
        zones.append(_zone(side, members))
    return tuple(zones), summary


def _zone(side: Side, members: list[WallBin]) -> DetectedZone:
    notional = sum((b.notional for b in members), Decimal(0))
    weights = [float(b.notional) for b in members]
    strength = sum(w * b.score for w, b in zip(weights, members, strict=True)) / sum(weights)
    return DetectedZone(
        side=side,
        price_low=min(b.price_low for b in members),
        price_high=max(b.price_high for b in members),
        notional=notional,
        strength=strength,
        bins=tuple(members),
    )
