"""The 1h order-block engine: pure numpy, no Django, no I/O, no clock.

Rules (every number is a parameter, defaults are the spec's). Each is one function named after it,
and the engine runs those functions (or, where noted, a fast form tested against them):

- ATR(p) (``average_true_range``), Wilder by default (``atr_wilder``): TR_0 = high-low,
  TR_i = max(h-l, |h-c_prev|, |l-c_prev|) (``true_range``); the first value is at bar p-1 =
  mean(TR_0..TR_{p-1}); then ATR_i = (ATR_{i-1}*(p-1) + TR_i)/p. "sma" (``atr_sma``):
  ATR_i = mean(TR_{i-p+1}..TR_i).
- Fractal swings (``fractal_swing_highs`` / ``fractal_swing_lows``): swing high at s when
  High[s] == max(High[s-N..s+N]) (swing low mirrored). A swing at s is known only from bar s+N on
  (``last_known_swing``; no look-ahead).
- At bar t the last swing high is the most recent known one; it can be broken once. Bullish BOS at
  t: Close[t] > its level and it is unbroken (``break_of_structure``). Bearish mirrored with the last
  swing low.
- Leg (s, t]; origin = lowest low in the leg (the last one on ties) (``leg_origin``);
  displacement-up = the first bar in [origin, t] with close > open and high-low >= k*ATR[bar]
  (``is_displacement``); bullish OB = the last bearish bar strictly between s and the displacement
  bar (``order_block_bar``); discarded if a close in (OB, t] is beyond the zone (``is_invalidated``;
  run as a range minimum). Bearish mirrored.
- Zone (``ob_zone``): conservative bullish [low, open], bearish [open, high]; aggressive [low, high].
  The records (blocks.py) take their exact decimal bounds from the same function.
- One block per (direction, OB bar): the first BOS that produces it wins.
- Status from the bar after t: touched when low <= zone high and high >= zone low (``is_touched``);
  invalid when a close is beyond the zone, below its low for bullish, above its high for bearish
  (``is_invalidated``). Invalidation wins over a touch on the same bar. The engine finds the first
  such bars with range-minimum searches (``_first_status_events``);
  tests/orderblocks/test_rule_functions.py checks them bar by bar against the two rules.

Implementation: the bearish side is the bullish side on the price-negated series (``mirror``:
h' = -l, l' = -h, o' = -o, c' = -c), which maps every bearish rule onto the bullish one exactly
(negation is exact in binary floating point): the rules that take no direction are written for the
bullish case and run on the mirrored series for the bearish one (a swing low is a swing high of
-low). Range queries (arg-min of lows in a leg, min of closes after the OB bar, first bar after t
crossing a level) use sparse tables, so the whole run is a fixed number of vectorised passes.

Exactness: prices enter as float64 converted from the exact decimals. That conversion is correctly
rounded and therefore monotone, so every comparison between two prices (swings, breaks, ties, zone
checks) gives the same answer as on the decimals. Only the displacement test (range vs k*ATR) involves
float arithmetic, and its result is deterministic: the same bars give the same blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from apps.orderblocks.domain.enums import Direction

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Price = TypeVar("Price")  # a float, a Decimal, or a float64 array of them

ATR_METHODS = ("wilder", "sma")
ZONE_MODES = ("conservative", "aggressive")


@dataclass(frozen=True, slots=True)
class EngineParams:
    atr_period: int = 14
    atr_method: str = "wilder"
    fractal_n: int = 3
    displacement_k: float = 1.2
    zone_mode: str = "conservative"

    def __post_init__(self) -> None:
        if self.atr_period < 1:
            raise ValueError("atr_period must be >= 1")
        if self.atr_method not in ATR_METHODS:
            raise ValueError(f"atr_method must be one of {ATR_METHODS}")
        if self.fractal_n < 1:
            raise ValueError("fractal_n must be >= 1")
        if not self.displacement_k > 0:
            raise ValueError("displacement_k must be > 0")
        if self.zone_mode not in ZONE_MODES:
            raise ValueError(f"zone_mode must be one of {ZONE_MODES}")

    @classmethod
    def from_config(cls, config: Any) -> EngineParams:
        """`config` is project.config.Config (or anything with the ob_* attribute names)."""
        return cls(
            atr_period=config.ob_atr_period,
            atr_method=config.ob_atr_method,
            fractal_n=config.ob_fractal_n,
            displacement_k=float(config.ob_displacement_k),
            zone_mode=config.ob_zone_mode,
        )

    def warmup_bars_needed(self) -> int:
        """Bars before a BOS's swing that make every value the engine uses independent of where the
        series starts: swing detection needs N bars, the SMA ATR p bars, and Wilder's recursion forgets
        its seed geometrically ((1-1/p)^k below 2^-64, plus two blocks of the blocked evaluation for
        the float carries to coincide, so results agree bit for bit)."""
        need = self.atr_period + self.fractal_n
        if self.atr_method == "wilder" and self.atr_period > 1:
            decay = -math.log1p(-1.0 / self.atr_period)
            need += math.ceil(64 * math.log(2) / decay) + 2 * WILDER_BLOCK
        return need


@dataclass(frozen=True, slots=True)
class DetectedBlocks:
    """Struct of arrays, one entry per order block, ordered by (bos_index, direction)."""

    bullish: NDArray[np.bool_]
    ob_index: IntArray
    bos_index: IntArray
    swing_index: IntArray
    origin_index: IntArray
    displacement_index: IntArray
    price_low: FloatArray
    price_high: FloatArray
    bos_level: FloatArray
    atr: FloatArray  # ATR at the BOS bar
    touched_index: IntArray  # -1 = never touched
    invalid_index: IntArray  # -1 = still valid

    def __len__(self) -> int:
        return len(self.ob_index)


# ---------------------------------------------------------------------------------------------- ATR


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """TR_0 = high-low; TR_i = max(high-low, |high - close_prev|, |low - close_prev|)."""
    tr = high - low
    if len(tr) > 1:
        prev_close = close[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(high[1:] - prev_close), np.abs(low[1:] - prev_close)))
    return tr


WILDER_BLOCK = 64  # bars per aligned block of the vectorised Wilder recursion


def average_true_range(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    period: int = 14,
    method: str = "wilder",
    bar_numbers: Any = None,
) -> FloatArray:
    """ATR per bar by ``method`` ("wilder": ``atr_wilder``, "sma": ``atr_sma``); NaN before bar
    period-1."""
    if len(high) < period:
        return np.full(len(high), np.nan)
    tr = true_range(high, low, close)
    if method == "sma":
        return atr_sma(tr, period)
    if method != "wilder":
        raise ValueError(f"unknown ATR method {method!r}")
    return atr_wilder(tr, period, bar_numbers)


def atr_sma(tr: FloatArray, period: int) -> FloatArray:
    """ATR_i = mean(TR_{i-p+1}..TR_i); NaN before bar period-1."""
    atr = np.full(len(tr), np.nan)
    if len(tr) >= period:
        atr[period - 1 :] = np.lib.stride_tricks.sliding_window_view(tr, period).sum(axis=1) / period
    return atr


def atr_wilder(tr: FloatArray, period: int, bar_numbers: Any = None) -> FloatArray:
    """Wilder's ATR: ATR_{p-1} = mean(TR_0..TR_{p-1}), then ATR_i = (ATR_{i-1}*(p-1) + TR_i)/p; NaN
    before bar period-1.

    The recursion is evaluated block-wise: with a = (p-1)/p, inside a block starting at s,
    ATR_{s+k} = a^(k+1)*ATR_{s-1} + (1/p)*sum_j a^(k-j)*TR_{s+j}, so each block is a vectorised
    cumulative sum and only the carries between blocks are sequential (equal to the plain recursion
    to rounding; tests/orderblocks/test_rule_functions.py). Blocks are aligned on
    `bar_numbers // WILDER_BLOCK` (default: the position in the series; the services pass hours
    since the epoch), which makes the values on any prefix of a series equal bit for bit to the
    values of the whole series, and makes a run over a recent window agree bit for bit with the full
    run once the seed is forgotten (see EngineParams.warmup_bars_needed).
    """
    n = len(tr)
    atr = np.full(n, np.nan)
    if n < period:
        return atr
    seed = math.fsum(tr[:period].tolist()) / period
    atr[period - 1] = seed
    rest = tr[period:]
    if not len(rest):
        return atr
    numbers = np.arange(n, dtype=np.int64) if bar_numbers is None else np.asarray(bar_numbers, dtype=np.int64)
    block = numbers[period:] // WILDER_BLOCK
    is_start = np.ones(len(rest), dtype=bool)
    is_start[1:] = block[1:] != block[:-1]
    starts = np.flatnonzero(is_start)
    segment = np.cumsum(is_start) - 1
    offset = np.arange(len(rest)) - starts[segment]
    lengths = np.diff(np.append(starts, len(rest)))
    a = (period - 1) / period
    powers = np.power(a, np.arange(WILDER_BLOCK + 1, dtype=np.float64))
    inverse = np.power(a, -np.arange(WILDER_BLOCK, dtype=np.float64))
    scaled = np.zeros((len(starts), WILDER_BLOCK))
    scaled[segment, offset] = rest * inverse[offset]
    partial = (np.cumsum(scaled, axis=1) * powers[:WILDER_BLOCK]) / period  # contribution of the block
    ends = partial[np.arange(len(starts)), lengths - 1].tolist()
    decay = powers[lengths].tolist()
    carries = [seed]
    for end, factor in zip(ends[:-1], decay[:-1], strict=True):  # sequential only per block
        carries.append(carries[-1] * factor + end)
    carry_in = np.array(carries)
    atr[period:] = powers[offset + 1] * carry_in[segment] + partial[segment, offset]
    return atr


# ------------------------------------------------------------------------------ range-query tables


def _levels(n: int) -> int:
    return max(1, int(n).bit_length())


class _MinTable:
    """Sparse table over `values` (table[k, i] = min(values[i : i + 2**k])) answering, for many queries
    at once: the min over [lo, hi], the first index >= start below a level, and the last index
    <= end at or below a level."""

    def __init__(self, values: FloatArray) -> None:
        n = len(values)
        self.n = n
        self.values = values
        levels = _levels(n)
        table = np.empty((levels, max(n, 1)))
        if n:
            table[0, :n] = values
        for k in range(1, levels):
            half = 1 << (k - 1)
            width = n - (1 << k) + 1
            if width <= 0:
                break
            np.minimum(table[k - 1, :width], table[k - 1, half : half + width], out=table[k, :width])
        self.table = table

    def range_min(self, lo: IntArray, hi: IntArray) -> FloatArray:
        """min(values[lo..hi]) per query, inclusive bounds, lo <= hi."""
        k = np.floor(np.log2(hi - lo + 1)).astype(np.int64)
        return np.minimum(self.table[k, lo], self.table[k, hi - (1 << k) + 1])

    def first_below(self, start: IntArray, level: FloatArray, *, inclusive: bool) -> IntArray:
        """First j >= start with values[j] < level (<= when inclusive); n when none."""
        n = self.n
        pos = start.astype(np.int64, copy=True)
        for k in range(self.table.shape[0] - 1, -1, -1):
            span = 1 << k
            fits = pos + span <= n
            block_min = self.table[k, np.minimum(pos, max(n - span, 0))]
            clear = block_min > level if inclusive else block_min >= level
            pos = np.where(fits & clear, pos + span, pos)
        return pos

    def last_at_most(self, end: IntArray, level: FloatArray) -> IntArray:
        """Last j <= end with values[j] <= level; -1 when none."""
        stop = end.astype(np.int64) + 1  # exclusive
        for k in range(self.table.shape[0] - 1, -1, -1):
            span = 1 << k
            fits = stop - span >= 0
            block_min = self.table[k, np.maximum(stop - span, 0)]
            stop = np.where(fits & (block_min > level), stop - span, stop)
        return stop - 1


# --------------------------------------------------------------------------------------- the rules


def mirror(values: Price) -> Price:
    """Prices negated: the bearish picture of a series as the bullish one (high' = -low, ...)."""
    return -values  # type: ignore[operator]


def fractal_swing_highs(high: FloatArray, n: int) -> BoolArray:
    """True at s when high[s] == max(high[s-n..s+n]); needs the full window (no edge swings)."""
    size = len(high)
    out = np.zeros(size, dtype=bool)
    if size < 2 * n + 1:
        return out
    centre = high[n : size - n]
    window_max = centre.copy()
    for offset in range(-n, n + 1):
        if offset:
            np.maximum(window_max, high[n + offset : size - n + offset], out=window_max)
    out[n : size - n] = centre == window_max
    return out


def fractal_swing_lows(low: FloatArray, n: int) -> BoolArray:
    """True at s when low[s] == min(low[s-n..s+n]): the swing highs of the mirrored lows (exact)."""
    return fractal_swing_highs(mirror(low), n)


def last_known_swing(is_swing: BoolArray, n: int) -> IntArray:
    """For each bar t, the index of the most recent swing s with s + n <= t; -1 when none."""
    size = len(is_swing)
    idx = np.arange(size)
    latest = np.maximum.accumulate(np.where(is_swing, idx, -1)) if size else idx
    out = np.full(size, -1, dtype=np.int64)
    if size > n:
        out[n:] = latest[: size - n]
    return out


def break_of_structure(
    close: FloatArray, high: FloatArray, is_swing_high: BoolArray, n: int
) -> tuple[IntArray, IntArray]:
    """(BOS bars, the swing each one breaks), ascending: bar t breaks the last known swing high when
    close[t] > its high and no earlier bar broke it (a swing is broken once). Bullish; the bearish
    BOS is this on the mirrored series with its swing lows."""
    last_swing = last_known_swing(is_swing_high, n)
    known = last_swing >= 0
    level = np.where(known, high[np.maximum(last_swing, 0)], np.inf)
    crossing = np.flatnonzero(known & (close > level))
    owner = last_swing[crossing]
    first = np.ones(len(crossing), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]  # each swing can be broken once: its first crossing
    return crossing[first], owner[first]


def is_displacement(
    open_: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray, atr: FloatArray, k: float
) -> BoolArray:
    """Per bar: an up bar (close > open) whose range high-low is at least k*ATR (never before the
    ATR exists). Bullish; bearish on the mirrored series (a down bar, the same range)."""
    with np.errstate(invalid="ignore"):
        return (close > open_) & (high - low >= k * atr)


def order_block_bar(
    open_: FloatArray, close: FloatArray, swing: IntArray, displacement: IntArray
) -> IntArray:
    """Per BOS: the last bearish bar (close < open) strictly between its swing and its displacement
    bar; -1 when there is none. Bullish; bearish on the mirrored series (the last bullish bar)."""
    idx = np.arange(len(close))
    last_down = np.maximum.accumulate(np.where(close < open_, idx, -1))
    ob = last_down[np.maximum(displacement - 1, 0)]
    return np.where(ob > swing, ob, -1)


def ob_zone(open_: Price, high: Price, low: Price, direction: Direction, mode: str) -> tuple[Price, Price]:
    """(low, high) of an order block's zone from its OB bar: conservative bullish [low, open],
    bearish [open, high]; aggressive [low, high]. Any prices: floats, Decimals, arrays of them."""
    if mode == "aggressive":
        return low, high
    if direction is Direction.BULLISH:
        return low, open_
    return open_, high


def is_touched(high: Price, low: Price, zone_low: Price, zone_high: Price) -> Any:
    """A bar touches a zone when its range overlaps it: low <= zone high and high >= zone low."""
    return (low <= zone_high) & (high >= zone_low)  # type: ignore[operator]


def is_invalidated(close: Price, zone_low: Price, zone_high: Price, direction: Direction) -> Any:
    """A close beyond the zone: below its low for bullish, above its high for bearish."""
    return close < zone_low if direction is Direction.BULLISH else close > zone_high  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class _Side:
    """One direction expressed as the bullish case: the series as given for bullish, mirrored for
    bearish (``open`` ... ``close``), with range-minimum tables over its closes and lows."""

    direction: Direction
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    close_min: _MinTable
    low_min: _MinTable
    real: tuple[FloatArray, FloatArray, FloatArray]  # open, high, low as given (not mirrored)

    @property
    def bullish(self) -> bool:
        return self.direction is Direction.BULLISH

    def mirrored(self, values: FloatArray) -> FloatArray:
        """Prices of the real series in this side's picture, and back (an involution)."""
        return values if self.bullish else mirror(values)

    def mirrored_zone(self, low: FloatArray, high: FloatArray) -> tuple[FloatArray, FloatArray]:
        """A zone of real prices as (low, high) in this side's picture."""
        return (low, high) if self.bullish else (mirror(high), mirror(low))

    def zone(self, ob: IntArray, mode: str) -> tuple[FloatArray, FloatArray]:
        """``ob_zone`` of these OB bars, in real prices."""
        o, h, lo = self.real
        return ob_zone(o[ob], h[ob], lo[ob], self.direction, mode)


def _sides(o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray) -> tuple[_Side, _Side]:
    real = (o, h, lo)
    bull = _Side(Direction.BULLISH, o, h, lo, c, _MinTable(c), _MinTable(lo), real)
    mc, mlo = mirror(c), mirror(h)
    bear = _Side(Direction.BEARISH, mirror(o), mirror(lo), mlo, mc, _MinTable(mc), _MinTable(mlo), real)
    return bull, bear


class _SideBlocks(NamedTuple):
    """One direction's blocks as arrays, one entry per block, ordered by BOS; zone in real prices."""

    ob: IntArray
    bos: IntArray
    swing: IntArray
    origin: IntArray
    displacement: IntArray
    zone_low: FloatArray
    zone_high: FloatArray

    def take(self, which: Any) -> _SideBlocks:
        return _SideBlocks(*(column[which] for column in self))


def leg_origin(low_min: _MinTable, swing: IntArray, bos: IntArray) -> IntArray:
    """Per BOS: the last bar of the leg (swing, bos] at the leg's lowest low (it is the last bar
    <= bos at or below that low, since none of the leg's bars is lower)."""
    return low_min.last_at_most(bos, low_min.range_min(swing + 1, bos))


def _first_true_from(mask: BoolArray) -> IntArray:
    """For each i, the first j >= i with mask[j]; len(mask) when none."""
    size = len(mask)
    return np.minimum.accumulate(np.where(mask, np.arange(size), size)[::-1])[::-1]


def _side_blocks(side: _Side, swings: BoolArray, atr: FloatArray, params: EngineParams) -> _SideBlocks:
    """The blocks of one direction: the rules above on that side's (bullish-case) series."""
    bos, swing = break_of_structure(side.close, side.high, swings, params.fractal_n)
    origin = leg_origin(side.low_min, swing, bos)
    strong = is_displacement(side.open, side.high, side.low, side.close, atr, params.displacement_k)
    displacement = _first_true_from(strong)[origin]
    ob = order_block_bar(side.open, side.close, swing, displacement)
    keep = (displacement <= bos) & (ob >= 0)
    ob_safe = np.where(keep, ob, 0)
    bos_safe = np.where(keep, bos, 1)
    zone_low, zone_high = side.zone(ob_safe, params.zone_mode)
    # discarded when a close in (OB, BOS] is_invalidated: the min of those closes vs the zone
    below, _ = side.mirrored_zone(zone_low, zone_high)
    later_min_close = side.close_min.range_min(ob_safe + 1, np.maximum(bos_safe, ob_safe + 1))
    keep &= later_min_close >= below
    found = _SideBlocks(ob, bos, swing, origin, displacement, zone_low, zone_high).take(keep)
    # one block per OB bar: the first BOS producing it (bos is ascending, unique keeps first)
    _, first_index = np.unique(found.ob, return_index=True)
    return found.take(np.sort(first_index))


def _first_status_events(
    side: _Side, start: IntArray, zone_low: FloatArray, zone_high: FloatArray, check_touch: BoolArray
) -> tuple[IntArray, IntArray]:
    """(touched index, invalid index) scanning from `start`; -1 for none. Zone in the side's
    (bullish-case) prices.

    The fast form of ``is_touched`` / ``is_invalidated``: the first bar reaching down to the zone's
    top either overlaps the zone (a touch, unless it also closes below the zone: invalidation wins)
    or lies wholly below it (its close is below the zone: invalid). So the first touch is that bar
    exactly when it is not the invalidating bar.
    """
    size = len(side.close)
    reach = side.low_min.first_below(start, zone_high, inclusive=True)
    invalid = side.close_min.first_below(start, zone_low, inclusive=False)
    touched = np.where(check_touch & (reach < size) & (reach < invalid), reach, -1)
    invalid = np.where(invalid < size, invalid, -1)
    return touched, invalid


def _as_arrays(*columns: Any) -> list[FloatArray]:
    arrays = [np.ascontiguousarray(col, dtype=np.float64) for col in columns]
    size = len(arrays[0])
    if any(len(a) != size for a in arrays):
        raise ValueError("open/high/low/close must have the same length")
    return arrays


def detect_order_blocks(
    open_: Any,
    high: Any,
    low: Any,
    close: Any,
    params: EngineParams | None = None,
    *,
    bar_numbers: Any = None,
) -> DetectedBlocks:
    """Every order block on the series, with its status as of the last bar. `bar_numbers` (ascending
    integers, e.g. hours since the epoch) only align the ATR's evaluation blocks; see
    average_true_range."""
    params = params or EngineParams()
    o, h, lo, c = _as_arrays(open_, high, low, close)
    atr = average_true_range(h, lo, c, params.atr_period, params.atr_method, bar_numbers)
    n = params.fractal_n
    swings = (fractal_swing_highs(h, n), fractal_swing_lows(lo, n))
    parts = []
    for side, side_swings in zip(_sides(o, h, lo, c), swings, strict=True):
        found = _side_blocks(side, side_swings, atr, params)
        status_low, status_high = side.mirrored_zone(found.zone_low, found.zone_high)
        everywhere = np.ones(len(found.ob), dtype=bool)
        touched, invalid = _first_status_events(side, found.bos + 1, status_low, status_high, everywhere)
        level = side.mirrored(side.high[found.swing])  # the swing's high (bullish) or low (bearish)
        parts.append((np.full(len(found.ob), side.bullish), *found, level, atr[found.bos], touched, invalid))
    columns = [np.concatenate(col) for col in zip(*parts, strict=True)]
    # ordered by (bos, bullish first)
    order = np.lexsort((~columns[0], columns[2]))
    columns = [col[order] for col in columns]
    return DetectedBlocks(*columns)


def advance_status(
    open_: Any,
    high: Any,
    low: Any,
    close: Any,
    *,
    bullish: Any,
    start: Any,
    price_low: Any,
    price_high: Any,
    check_touch: Any,
) -> tuple[IntArray, IntArray]:
    """Status events of known blocks on bars [start, end): (touched index, invalid index), -1 = none.

    Used by the incremental run to move stored blocks forward over new bars. `check_touch` False skips
    the touch search (the block is already touched).
    """
    o, h, lo, c = _as_arrays(open_, high, low, close)
    bullish = np.asarray(bullish, dtype=bool)
    start = np.asarray(start, dtype=np.int64)
    price_low = np.asarray(price_low, dtype=np.float64)
    price_high = np.asarray(price_high, dtype=np.float64)
    check_touch = np.asarray(check_touch, dtype=bool)
    touched = np.full(len(start), -1, dtype=np.int64)
    invalid = np.full(len(start), -1, dtype=np.int64)
    if not len(start):
        return touched, invalid
    for side in _sides(o, h, lo, c):
        mask = bullish if side.bullish else ~bullish
        if mask.any():
            zone_low, zone_high = side.mirrored_zone(price_low[mask], price_high[mask])
            t, i = _first_status_events(side, start[mask], zone_low, zone_high, check_touch[mask])
            touched[mask], invalid[mask] = t, i
    return touched, invalid


def params_fingerprint(params: EngineParams) -> str:
    """A short text that changes whenever a setting that changes the blocks changes."""
    return (
        f"atr={params.atr_period}/{params.atr_method};n={params.fractal_n};"
        f"k={params.displacement_k!r};zone={params.zone_mode}"
    )


def window_reproduces_full_run(high: Any, low: Any, first_new: int, params: EngineParams) -> bool:
    """Whether a run over a window of recent bars gives exactly the full run's blocks for every BOS at
    or after window index `first_new`.

    A BOS at t depends only on bars in (s, t] (s = the swing it breaks) and the ATR there. Per
    direction let s_min be the swing known at `first_new`; no block of a later BOS can lie at or before
    s_min. If the swing known at s_min + 1 is at least `warmup_bars_needed()` into the window, then
    every BOS from s_min + 1 on (including the earlier ones that could claim the same OB bar) breaks a
    swing the window sees exactly as the full history does, with the same ATR values.
    """
    h, lo = _as_arrays(high, low)
    need = params.warmup_bars_needed()
    n = params.fractal_n
    for swings in (fractal_swing_highs(h, n), fractal_swing_lows(lo, n)):
        last_swing = last_known_swing(swings, n)
        if first_new >= len(swings):
            continue
        s_min = int(last_swing[first_new])
        if s_min < 0 or int(last_swing[s_min + 1]) < need:
            return False
    return True
