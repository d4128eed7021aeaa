"""Hand-built candle sequences for the order-block rules.

Every sequence starts with WARMUP: 14 doji bars (open == close, neither bullish nor bearish) in a
contracting triangle (highs fall, lows rise), so they hold no swing and no OB candidate but give the
ATR a start value (mean true range 4.7). Scenario bars therefore start at index 14.
"""

from __future__ import annotations

from decimal import Decimal

from apps.orderblocks.domain.candles import HOUR_MS, Bar

T0 = 1_500_000_000_000 - 1_500_000_000_000 % HOUR_MS  # an hour boundary
WARMUP = [(105.0, round(108 - 0.1 * i, 1), round(102 + 0.1 * i, 1), 105.0) for i in range(14)]
FIRST = len(WARMUP)  # index of the first scenario bar
MIRROR_AXIS = 210.0  # price p -> MIRROR_AXIS - p turns every bullish pattern into a bearish one

# A swing high at 16 (110), a three-bar pullback to 104 at 19, a displacement bar at 20 closing at 114.
SWING_AND_PULLBACK = [
    (105, 106.5, 104.5, 106),  # 14
    (106, 107.5, 105.5, 107),  # 15
    (107, 110, 106.5, 109.5),  # 16 swing high 110
    (109.5, 109.8, 107.5, 108),  # 17 bear
    (108, 108.3, 106, 106.5),  # 18 bear
    (106.5, 106.8, 104, 104.5),  # 19 bear, lowest low: origin and OB
]
DISPLACEMENT_BOS = (104.5, 115, 104.2, 114)  # 20: range 10.8 (>= 1.2 ATR), close 114 > 110
RALLY = [
    (114, 116, 113.5, 115.5),  # 21
    (115.5, 117, 115, 116.5),  # 22
    (116.5, 118, 116, 117.5),  # 23
]
BASE = [*SWING_AND_PULLBACK, DISPLACEMENT_BOS, *RALLY]


def columns(rows, *, mirror=False):
    """(open, high, low, close) lists for WARMUP + rows, optionally mirrored into the bearish case."""
    bars = [tuple(float(x) for x in row) for row in (*WARMUP, *rows)]
    if mirror:
        m = MIRROR_AXIS
        bars = [(m - o, m - lo, m - h, m - c) for o, h, lo, c in bars]
    o, h, lo, c = (list(col) for col in zip(*bars, strict=True))
    return o, h, lo, c


def as_bars(rows, *, mirror=False, start_ms=T0):
    o, h, lo, c = columns(rows, mirror=mirror)
    return [
        Bar(
            open_time_ms=start_ms + i * HOUR_MS,
            open=Decimal(str(o[i])),
            high=Decimal(str(h[i])),
            low=Decimal(str(lo[i])),
            close=Decimal(str(c[i])),
            volume=Decimal("1.5"),
        )
        for i in range(len(o))
    ]


def mirrored_zone(low, high):
    return MIRROR_AXIS - high, MIRROR_AXIS - low


def random_bars(seed, count, *, start_ms=T0, tick="1"):
    """A random walk of `count` hourly Bars with exact decimal prices on a grid of `tick`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    step = Decimal(tick)
    close = 30000 + np.cumsum(rng.normal(0, 120, count))
    open_ = np.concatenate([close[:1], close[:-1]]) + rng.normal(0, 20, count)
    high = np.maximum(open_, close) + np.abs(rng.normal(0, 90, count))
    low = np.minimum(open_, close) - np.abs(rng.normal(0, 90, count))

    def dec(x):
        return (Decimal(repr(float(x))) / step).quantize(Decimal(1)) * step

    bars = []
    for i in range(count):
        o, c = dec(open_[i]), dec(close[i])
        h = max(dec(high[i]), o, c)
        lo = min(dec(low[i]), o, c)
        bars.append(Bar(start_ms + i * HOUR_MS, o, h, lo, c, Decimal("12.34567")))
    return bars
