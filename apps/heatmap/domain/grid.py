"""The heatmap's fixed price grid and its time grid. Pure: no Django, no I/O, time passed in.

Rules, one function each:
- ``heatmap_bin_of``: bin k covers [k*bin_size, (k+1)*bin_size) on both sides, k = floor(price/bin_size)
  (exact: Decimal or int arithmetic, never float).
- ``trusted_bins``: the bins one cycle observes. Bids from the bin of mid*(1 - range_pct/100) up to
  the bin of the best bid, asks from the bin of the best ask up to the bin of mid*(1 + range_pct/100),
  each only where the bin lies wholly inside the book's trusted window (what the snapshot covered): a
  bin partly outside would be under-counted, so it is absent, never 0. At most ``MAX_BINS_PER_SIDE``
  bins a side, the ones nearest the touch (a tiny bin size must not make a cycle's work unbounded).
- ``column_start``: the column a moment belongs to, floor(t / column_s) * column_s (UTC seconds).
- ``cycle_weight_ms``: how long a live cycle's picture stood: the time since the previous cycle when
  that one was live too, at most two publication intervals; one interval for the first live cycle
  after a start or an outage (the time the book was not live is never counted).
- ``default_resolution``: the smallest of the usual chart steps (1 min ... 1 week) that is a multiple
  of column_s and keeps a range under ``max_columns`` columns; the smallest such multiple of
  column_s when no usual step is near.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

_HUNDRED = Decimal(100)
_HALF = Decimal("0.5")
MAX_COLUMNS = 2000  # a default resolution keeps an answer under this many columns
MAX_BINS_PER_SIDE = 2000
NICE_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 604800)


@dataclass(frozen=True, slots=True)
class HeatmapParams:
    bin_size: Decimal = Decimal("50")
    range_pct: Decimal = Decimal("2.0")
    column_s: int = 60
    publish_interval_ms: int = 1000
    # 1 - range_pct/100 and 1 + range_pct/100, worked out once (exact Decimals)
    low_factor: Decimal = field(init=False, repr=False)
    high_factor: Decimal = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.bin_size > 0 or not self.range_pct > 0 or self.column_s < 1:
            raise ValueError("bin_size, range_pct and column_s must be positive")
        fraction = self.range_pct / _HUNDRED
        object.__setattr__(self, "low_factor", max(1 - fraction, Decimal(0)))
        object.__setattr__(self, "high_factor", 1 + fraction)

    @classmethod
    def from_config(cls, config: Any) -> HeatmapParams:
        """From project.config.Config (duck-typed)."""
        return cls(
            bin_size=Decimal(config.heatmap_bin_size),
            range_pct=Decimal(config.heatmap_range_pct),
            column_s=int(config.heatmap_column_s),
            publish_interval_ms=int(config.publish_interval_ms),
        )


class BinSpan(NamedTuple):
    """Bins first..last (inclusive) of one side; empty when last < first."""

    first: int
    last: int

    @property
    def bins(self) -> int:
        return max(0, self.last - self.first + 1)


class BookSpans(NamedTuple):
    bid: BinSpan
    ask: BinSpan


def heatmap_bin_of(price: Decimal, bin_size: Decimal) -> int:
    """floor(price / bin_size) for a price >= 0 (Decimal's // truncates, which is floor there)."""
    return int(price // bin_size)


def _ceil_bin(price: Decimal, bin_size: Decimal) -> int:
    """The first bin whose lower edge is >= price (price >= 0)."""
    whole, rest = divmod(price, bin_size)
    return int(whole) + (rest != 0)


def trusted_bins(
    best_bid: Decimal,
    best_ask: Decimal,
    trusted_window: tuple[Decimal, Decimal] | None,
    params: HeatmapParams,
) -> BookSpans:
    """The bins of each side this cycle observes (see the module docstring). ``trusted_window`` None
    means every level is trusted."""
    size = params.bin_size
    mid = (best_bid + best_ask) * _HALF  # exact, as / 2 is
    bid_first = heatmap_bin_of(mid * params.low_factor, size)
    ask_last = heatmap_bin_of(mid * params.high_factor, size)
    if trusted_window is not None:
        low, high = trusted_window
        bid_first = max(bid_first, _ceil_bin(low, size))  # [k*size, ...) wholly at or above low
        if high.is_finite():
            ask_last = min(ask_last, heatmap_bin_of(high, size) - 1)  # (k+1)*size <= high
    bid_last, ask_first = heatmap_bin_of(best_bid, size), heatmap_bin_of(best_ask, size)
    return BookSpans(
        bid=BinSpan(max(bid_first, bid_last - MAX_BINS_PER_SIDE + 1), bid_last),
        ask=BinSpan(ask_first, min(ask_last, ask_first + MAX_BINS_PER_SIDE - 1)),
    )


def column_start(now_ms: int, column_s: int) -> int:
    """UTC seconds at which the column holding ``now_ms`` starts."""
    seconds = now_ms // 1000
    return seconds - seconds % column_s


def cycle_weight_ms(now_ms: int, previous_live_ms: int | None, interval_ms: int) -> int:
    """Weight of a live cycle's picture (see the module docstring); at least 1 ms."""
    if previous_live_ms is None:
        return interval_ms
    return max(1, min(now_ms - previous_live_ms, 2 * interval_ms))


def default_resolution(from_s: int, to_s: int, column_s: int, max_columns: int = MAX_COLUMNS) -> int:
    """The resolution (seconds) for [from_s, to_s] when the request names none."""
    span = max(1, to_s - from_s + 1)
    steps = max(1, -(-span // (max_columns * column_s)))  # ceil
    needed = steps * column_s
    for step in NICE_STEPS_S:
        if needed <= step < 4 * needed and step % column_s == 0:
            return step
    return needed  # an unusual column length: no usual step is a multiple of it nearby
