"""Liquidity walls and cluster zones from one picture of the order book.

Pure: no Django, no I/O, no clock. Fed plain ``(price, qty)`` Decimal levels, returns plain data.

Rules (every number comes from ``ZoneParams``); each is one function below, named after it, that
both detection paths call:
- mid = (best_bid + best_ask) / 2; bids with price >= mid*(1 - range_pct/100) and asks with
  price <= mid*(1 + range_pct/100) are analysed, and only inside the book's trusted window
  (``analysis_bounds``).
- Bins of ``bin_size`` (``bin_of``, ``bin_bounds``): bid index floor(price/bin) covering
  [i*bin, (i+1)*bin), ask index ceil(price/bin) covering ((i-1)*bin, i*bin]; ``half_up`` rounds
  price/bin half-up on both sides, covering [(i-1/2)*bin, (i+1/2)*bin).  A side's series runs over
  every bin between its extreme occupied bins; empty bins have volume 0.
- vol_i = sum(qty) or sum(qty*price); baseline_i = median of vol over bins i-k..i+k clipped to the
  series (``clipped_rolling_median``); score_i = vol_i / max(baseline_i, eps) (``wall_score``); a
  wall bin has score >= wall_multiplier and vol > 0 (``is_wall``).
- Wall bins with at most ``max_gap_bins`` bins strictly between them form one zone
  (``merge_clusters``): bounds from its outer bins, notional = sum(qty*price) of its wall bins,
  strength = notional-weighted mean score (``cluster_zone``).

Two paths run these rules with exact arithmetic: the integer fast path (``_detect_units``: prices
and quantities in 1e-8 units, numpy arrays; ``bin_of`` runs on the whole array) and the plain
Decimal path (``_detect_decimal``). Tests check the fast path against the rules:
tests/zones/test_rule_functions.py (its bins against ``bin_index`` of each Decimal price) and
tests/zones/test_detection_properties.py (against the Decimal path and a naive reference).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from apps.book.domain.events import Level, Side

ROUNDING_MODES = ("floor_ceil", "half_up")
VOLUME_MODES = ("qty", "notional")
_HUNDRED = Decimal(100)
_ZERO = Decimal(0)
_EXACT = Context(prec=80)  # enough digits that sums and scalings never round
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

    @property
    def bin_units(self) -> int | None:
        """bin_size in 1e-8 units when it is a whole number of them (the integer fast path)."""
        return to_units(self.bin_size)

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


class WallBin(NamedTuple):  # immutable; a tuple because there can be thousands per cycle
    """One bin whose volume stands out from its neighbourhood."""

    bin_index: int
    price_low: Decimal
    price_high: Decimal
    qty: Decimal
    notional: Decimal
    volume: Decimal  # qty or notional, per volume_mode
    baseline: float
    score: float


class DetectedZone(NamedTuple):
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


BinNumber = TypeVar("BinNumber", Decimal, int, np.ndarray)


def bin_of(price: BinNumber, side: Side, size: BinNumber, rounding: str) -> BinNumber:
    """The bin index of a price: floor(price/size) for bids, ceil(price/size) for asks; ``half_up``:
    floor(price/size + 1/2) on both sides.

    Written with ``divmod``, comparisons and ``+`` alone, so the same rule runs on a Decimal price
    and bin size, on integers of 1e-8 units, or elementwise on an int64 array of them (the fast
    path). Prices are positive, where Decimal's truncating division is floor division, and nothing
    is rounded: the remainder is exact.
    """
    whole, rest = divmod(price, size)
    if rounding == "half_up":
        return whole + (2 * rest >= size)  # the fraction rest/size is at least 1/2
    if side is Side.BID:
        return whole
    return whole + (rest != 0)  # ceil


def bin_index(price: Decimal, side: Side, params: ZoneParams) -> int:
    """``bin_of`` for a Decimal price with the settings' bin size and rounding (no float)."""
    return int(bin_of(price, side, params.bin_size, params.rounding))


def bin_bounds(index: int, side: Side, params: ZoneParams) -> tuple[Decimal, Decimal]:
    """(price_low, price_high) of a bin; see the module docstring for which end is closed."""
    size = params.bin_size
    if params.rounding == "half_up":
        centre = index * size
        return centre - size / _TWO, centre + size / _TWO
    if side is Side.BID:
        return index * size, (index + 1) * size
    return (index - 1) * size, index * size


def _median(window: list[float]) -> float:
    """np.median of a short list, without numpy's per-call overhead (same float result)."""
    ordered = sorted(window)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


SMALL_SERIES = 64  # below this many bins a plain loop beats numpy's per-call overhead


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
    if n < SMALL_SERIES or n < width:
        plain = values.tolist()
        for i in range(n):
            out[i] = _median(plain[max(0, i - k) : i + k + 1])
        return out
    out[k : n - k] = np.median(sliding_window_view(values, width), axis=1)
    plain = values.tolist()
    for i in (*range(k), *range(n - k, n)):
        out[i] = _median(plain[max(0, i - k) : i + k + 1])
    return out


def detect_zones(
    bids: Iterable[Level],
    asks: Iterable[Level],
    trusted_window: tuple[Decimal, Decimal] | None,
    params: ZoneParams,
    touch: tuple[Decimal, Decimal] | None = None,
    *,
    encoder: LevelEncoder | None = None,
    exact_decimal: bool = False,
) -> ZoneDetection:
    """Zones on both sides. Levels may come in any order and may include out-of-range levels.

    ``touch`` is (best_bid, best_ask) when the caller knows it (a live book); otherwise it is
    taken from the levels. Levels with quantity <= 0 are absent levels and are ignored.

    Arithmetic is exact either way: prices and quantities that are whole multiples of 1e-8 (all
    of Binance's) are binned and summed as integers in numpy, memoised by ``encoder`` across
    cycles; anything else, or ``exact_decimal=True``, takes the plain Decimal path. Both paths
    give identical results.
    """
    bid_list = bids if isinstance(bids, list | tuple) else list(bids)
    ask_list = asks if isinstance(asks, list | tuple) else list(asks)
    bid_units = ask_units = None
    if not exact_decimal and params.bin_units is not None:
        encoder = encoder if encoder is not None else LevelEncoder()
        bid_units = encoder.encode(bid_list, "bid")
        ask_units = encoder.encode(ask_list, "ask") if bid_units is not None else None
    if bid_units is None or ask_units is None:
        return _detect_decimal(bid_list, ask_list, trusted_window, params, touch)
    return _detect_units(bid_list, ask_list, bid_units, ask_units, trusted_window, params, touch)


def _nothing(problem: str) -> ZoneDetection:
    return ZoneDetection(
        bounds=None, zones=(), bid_summary=_EMPTY_SUMMARY, ask_summary=_EMPTY_SUMMARY, problem=problem
    )


def _no_side(missing: str) -> ZoneDetection:
    return _nothing(f"the book has no {missing}; a mid price needs both sides")


def _crossed(best_bid: Decimal, best_ask: Decimal) -> ZoneDetection:
    return _nothing(f"the book is crossed (best bid {best_bid} >= best ask {best_ask})")


# -- exact integer path ---------------------------------------------------------------------

UNIT_SCALE = 10**8  # Binance prices and quantities have at most 8 decimals
_MAX_UNITS = 2**53  # integers up to here convert to float64 exactly


def to_units(value: Decimal) -> int | None:
    """``value`` in 1e-8 units if it is a whole number of them (and small enough), else None."""
    if not value.is_finite():
        return None
    numerator, denominator = value.as_integer_ratio()
    scaled = numerator * UNIT_SCALE
    if scaled % denominator:
        return None
    units = scaled // denominator
    return units if -_MAX_UNITS < units < _MAX_UNITS else None


class LevelEncoder:
    """Memo of exact Decimal -> 1e-8 unit conversions, reused from cycle to cycle.

    A live book keeps the same Decimal objects for unchanged levels, so after the first cycle
    only changed levels are converted. Each side has its own memo; new values are added, and
    once a side's memo holds more than ``slack`` x the values of the book slice it was just asked
    for, it is rebuilt from that slice alone. So its size follows the analysed book, never how long
    the process has run or how many quantities it has seen, and the rebuild costs one dict per
    book-sized amount of churn rather than one per cycle.
    Not thread-safe: one detection at a time per encoder.
    """

    def __init__(self, slack: int = 2) -> None:
        self.slack = max(1, slack)
        self._memos: dict[str, dict[Decimal, int]] = {}
        self.conversions = 0  # values converted (memo misses), for tests and benchmarks
        self.rebuilds = 0

    def __len__(self) -> int:
        """Values held, all sides (what the memo costs in memory)."""
        return sum(len(memo) for memo in self._memos.values())

    def encode(self, levels: Sequence[Level], side: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(price units, quantity units) as int64 arrays, or None if a value is not exact in units.
        ``side`` names the memo: the same side of the book from cycle to cycle."""
        memo = self._memos.setdefault(side, {})
        get = memo.get
        prices = [get(price) for price, _ in levels]
        quantities = [get(qty) for _, qty in levels]
        try:  # every value known: the memo stays as it is
            return np.array(prices, dtype=np.int64), np.array(quantities, dtype=np.int64)
        except TypeError:  # some None: values this side has not seen yet
            pass
        for column, position in ((prices, 0), (quantities, 1)):
            for i, units in enumerate(column):
                if units is None:
                    value = levels[i][position]
                    units = to_units(value)
                    self.conversions += 1
                    if units is None:  # not a whole number of units: the caller falls back
                        return None
                    memo[value] = column[i] = units
        if len(memo) > self.slack * 2 * len(levels):  # mostly values that left the book: start over
            # every entry is a number of units by now (a None returned above)
            memo = dict(zip([price for price, _ in levels], cast("list[int]", prices), strict=True))
            memo.update(zip([qty for _, qty in levels], cast("list[int]", quantities), strict=True))
            self._memos[side] = memo
            self.rebuilds += 1
        return np.array(prices, dtype=np.int64), np.array(quantities, dtype=np.int64)


def _ceil_units(value: Decimal) -> int:
    numerator, denominator = value.as_integer_ratio()
    return -((-numerator * UNIT_SCALE) // denominator)


def _floor_units(value: Decimal) -> int:
    numerator, denominator = value.as_integer_ratio()
    return (numerator * UNIT_SCALE) // denominator


def _detect_units(
    bid_list: Sequence[Level],
    ask_list: Sequence[Level],
    bid_units: tuple[np.ndarray, np.ndarray],
    ask_units: tuple[np.ndarray, np.ndarray],
    trusted_window: tuple[Decimal, Decimal] | None,
    params: ZoneParams,
    touch: tuple[Decimal, Decimal] | None,
) -> ZoneDetection:
    (bid_p, bid_q), (ask_p, ask_q) = bid_units, ask_units
    if touch is None:
        bid_present, ask_present = np.flatnonzero(bid_q > 0), np.flatnonzero(ask_q > 0)
        if len(bid_present) == 0:
            return _no_side("bids")
        if len(ask_present) == 0:
            return _no_side("asks")
        touch = (
            bid_list[int(bid_present[np.argmax(bid_p[bid_present])])][0],
            ask_list[int(ask_present[np.argmin(ask_p[ask_present])])][0],
        )
    best_bid, best_ask = touch
    if best_bid >= best_ask:
        return _crossed(best_bid, best_ask)
    bounds = analysis_bounds(best_bid, best_ask, trusted_window, params)
    bid_mask = (bid_q > 0) & (bid_p >= _ceil_units(bounds.bid_low)) & (bid_p <= _floor_units(best_bid))
    ask_mask = (ask_q > 0) & (ask_p >= _ceil_units(best_ask)) & (ask_p <= _floor_units(bounds.ask_high))
    bid_zones, bid_summary = _side_zones_units(Side.BID, bid_p[bid_mask], bid_q[bid_mask], params)
    ask_zones, ask_summary = _side_zones_units(Side.ASK, ask_p[ask_mask], ask_q[ask_mask], params)
    return ZoneDetection(
        bounds=bounds, zones=(*bid_zones, *ask_zones), bid_summary=bid_summary, ask_summary=ask_summary
    )


@dataclass(slots=True)
class _UnitBins:
    """One side's levels, sorted by price, in 1e-8 units, grouped by ``bin_of`` into occupied bins
    (slot s = the s-th occupied bin from the lowest)."""

    prices: np.ndarray
    quantities: np.ndarray
    starts: np.ndarray  # per slot: its first level
    ends: np.ndarray  # per slot: one past its last level
    positions: np.ndarray  # per slot: bin index - first
    qty_sums: np.ndarray  # per slot: sum(qty) in units
    first: int  # index of the lowest occupied bin
    length: int  # bins from the lowest to the highest occupied one, empty ones included
    _lists: tuple[list[int], list[int], list[int], list[int]] | None = None

    def notional(self, slot: int) -> int:
        """sum(price*qty) of a slot's levels in 1e-16 units (Python ints: exact at any size)."""
        if self._lists is None:
            self._lists = (
                self.prices.tolist(),
                self.quantities.tolist(),
                self.starts.tolist(),
                self.ends.tolist(),
            )
        prices, quantities, starts, ends = self._lists
        start, end = starts[slot], ends[slot]
        return sum(p * q for p, q in zip(prices[start:end], quantities[start:end], strict=True))


def _unit_bins(side: Side, prices: np.ndarray, quantities: np.ndarray, params: ZoneParams) -> _UnitBins:
    order = np.argsort(prices, kind="stable")
    prices, quantities = prices[order], quantities[order]
    size = params.bin_units
    assert size is not None
    indices: np.ndarray = bin_of(prices, side, np.asarray(size), params.rounding)  # the size as a 0-d array
    starts = np.flatnonzero(np.concatenate(([True], indices[1:] != indices[:-1])))
    bin_ids = indices[starts]
    first = int(bin_ids[0])
    return _UnitBins(
        prices=prices,
        quantities=quantities,
        starts=starts,
        ends=np.append(starts[1:], len(prices)),
        positions=bin_ids - first,
        qty_sums=np.add.reduceat(quantities, starts),
        first=first,
        length=int(bin_ids[-1]) - first + 1,
    )


def _unit_volumes(bins: _UnitBins, params: ZoneParams) -> tuple[np.ndarray, dict[int, int]]:
    """(vol per bin of the series as float64, notional units per position when already summed)."""
    volumes = np.zeros(bins.length, dtype=np.float64)
    bin_notional: dict[int, int] = {}
    if params.volume_mode == "qty":
        if bins.qty_sums.max() < _MAX_UNITS:  # int64 -> float64 exact, one correctly rounded division
            volumes[bins.positions] = bins.qty_sums / UNIT_SCALE
        else:  # absurdly large sums: Python's int / int is correctly rounded at any size
            volumes[bins.positions] = [total / UNIT_SCALE for total in bins.qty_sums.tolist()]
    else:
        for slot, position in enumerate(bins.positions.tolist()):
            bin_notional[position] = total = bins.notional(slot)
            volumes[position] = total / UNIT_SCALE**2  # int / int is correctly rounded
    return volumes, bin_notional


def _side_zones_units(
    side: Side, prices: np.ndarray, quantities: np.ndarray, params: ZoneParams
) -> tuple[tuple[DetectedZone, ...], SideSummary]:
    if len(prices) == 0:
        return (), _EMPTY_SUMMARY
    bins = _unit_bins(side, prices, quantities, params)
    volumes, bin_notional = _unit_volumes(bins, params)
    walls, baselines, scores = _walls(volumes, params)
    summary = SideSummary(levels=len(prices), bins=bins.length, wall_bins=len(walls))
    if len(walls) == 0:
        return (), summary
    slot_of = {p: i for i, p in enumerate(bins.positions.tolist())}
    qty_at, baseline_at, score_at = bins.qty_sums.tolist(), baselines.tolist(), scores.tolist()
    by_qty = params.volume_mode == "qty"
    zones = []
    for cluster in merge_clusters(walls, params.max_gap_bins):
        members = []
        for position in cluster:
            slot = slot_of[position]
            notional = bin_notional.get(position)
            if notional is None:
                notional = bins.notional(slot)
            qty = Decimal(qty_at[slot]).scaleb(-8, context=_EXACT)
            notional_decimal = Decimal(notional).scaleb(-16, context=_EXACT)
            low, high = bin_bounds(bins.first + position, side, params)
            members.append(
                WallBin(
                    bins.first + position,
                    low,
                    high,
                    qty,
                    notional_decimal,
                    qty if by_qty else notional_decimal,
                    baseline_at[position],
                    score_at[position],
                )
            )
        zones.append(cluster_zone(side, members))
    return tuple(zones), summary


# -- plain Decimal path ---------------------------------------------------------------------


def _detect_decimal(
    bid_list: Sequence[Level],
    ask_list: Sequence[Level],
    trusted_window: tuple[Decimal, Decimal] | None,
    params: ZoneParams,
    touch: tuple[Decimal, Decimal] | None,
) -> ZoneDetection:
    bid_levels = [(p, q) for p, q in bid_list if q > 0]
    ask_levels = [(p, q) for p, q in ask_list if q > 0]
    if touch is None:
        if not bid_levels:
            return _no_side("bids")
        if not ask_levels:
            return _no_side("asks")
        touch = (max(p for p, _ in bid_levels), min(p for p, _ in ask_levels))
    best_bid, best_ask = touch
    if best_bid >= best_ask:
        return _crossed(best_bid, best_ask)
    bounds = analysis_bounds(best_bid, best_ask, trusted_window, params)
    bid_in = [(p, q) for p, q in bid_levels if bounds.bid_low <= p <= best_bid]
    ask_in = [(p, q) for p, q in ask_levels if best_ask <= p <= bounds.ask_high]
    bid_zones, bid_summary = _side_zones_decimal(Side.BID, bid_in, params)
    ask_zones, ask_summary = _side_zones_decimal(Side.ASK, ask_in, params)
    return ZoneDetection(
        bounds=bounds, zones=(*bid_zones, *ask_zones), bid_summary=bid_summary, ask_summary=ask_summary
    )


def _side_zones_decimal(
    side: Side, levels: list[Level], params: ZoneParams
) -> tuple[tuple[DetectedZone, ...], SideSummary]:
    if not levels:
        return (), _EMPTY_SUMMARY
    qty_by_bin: dict[int, Decimal] = {}
    notional_by_bin: dict[int, Decimal] = {}
    for price, qty in levels:
        index = bin_index(price, side, params)
        qty_by_bin[index] = qty_by_bin.get(index, _ZERO) + qty
        notional_by_bin[index] = notional_by_bin.get(index, _ZERO) + qty * price
    volume_by_bin = qty_by_bin if params.volume_mode == "qty" else notional_by_bin
    first = min(volume_by_bin)
    length = max(volume_by_bin) - first + 1
    volumes = np.zeros(length, dtype=np.float64)
    for index, volume in volume_by_bin.items():
        volumes[index - first] = float(volume)
    walls, baselines, scores = _walls(volumes, params)
    summary = SideSummary(levels=len(levels), bins=length, wall_bins=len(walls))
    zones = []
    for cluster in merge_clusters(walls, params.max_gap_bins):
        members = []
        for position in cluster:
            index = first + position
            low, high = bin_bounds(index, side, params)
            members.append(
                WallBin(
                    bin_index=index,
                    price_low=low,
                    price_high=high,
                    qty=qty_by_bin[index],
                    notional=notional_by_bin[index],
                    volume=volume_by_bin[index],
                    baseline=float(baselines[position]),
                    score=float(scores[position]),
                )
            )
        zones.append(cluster_zone(side, members))
    return tuple(zones), summary


# -- shared: scores, walls, merging ---------------------------------------------------------


def wall_score(volumes: np.ndarray, baselines: np.ndarray, eps: float) -> np.ndarray:
    """score_i = vol_i / max(baseline_i, eps), elementwise."""
    return volumes / np.maximum(baselines, eps)


def is_wall(volumes: np.ndarray, scores: np.ndarray, multiplier: float) -> np.ndarray:
    """Whether each bin is a wall bin: score >= multiplier and a non-empty bin."""
    return (scores >= multiplier) & (volumes > 0)


def _walls(volumes: np.ndarray, params: ZoneParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions of wall bins, baselines, scores) of a bin series."""
    baselines = clipped_rolling_median(volumes, params.baseline_k)
    scores = wall_score(volumes, baselines, params.baseline_eps)
    walls = np.flatnonzero(is_wall(volumes, scores, params.wall_multiplier))
    return walls, baselines, scores


def merge_clusters(walls: np.ndarray, max_gap_bins: int) -> list[list[int]]:
    """Ascending wall positions split into clusters wherever more than ``max_gap_bins`` bins lie
    strictly between two neighbours."""
    if len(walls) == 0:
        return []
    breaks = np.flatnonzero(np.diff(walls) - 1 > max_gap_bins) + 1
    return [group.tolist() for group in np.split(walls, breaks)]


def cluster_zone(side: Side, members: list[WallBin]) -> DetectedZone:
    """The zone of one cluster: bounds from its outer bins, notional = sum of the bins' notionals
    (exact), strength = notional-weighted mean score."""
    if len(members) == 1:
        [b] = members
        return DetectedZone(side, b.price_low, b.price_high, b.notional, b.score, (b,))
    notional = _ZERO
    for b in members:
        notional = _EXACT.add(notional, b.notional)
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
