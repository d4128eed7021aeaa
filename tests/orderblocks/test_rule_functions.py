"""The named order-block rules, literally, against the vectorised forms the engine runs (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.orderblocks.domain.blocks import order_blocks_for_bars
from apps.orderblocks.domain.engine import (
    EngineParams,
    advance_status,
    atr_sma,
    atr_wilder,
    break_of_structure,
    detect_order_blocks,
    fractal_swing_highs,
    fractal_swing_lows,
    is_displacement,
    is_invalidated,
    is_touched,
    ob_zone,
    order_block_bar,
    true_range,
)
from apps.orderblocks.domain.enums import Direction
from tests.orderblocks import scenarios as sc
from tests.orderblocks.test_engine_properties import random_series

series_args = {
    "seed": st.integers(0, 2**32 - 1),
    "size": st.integers(0, 300),
    "tick": st.sampled_from([0.01, 1.0, 5.0]),
}


def first_events(o, h, lo, c, start, low, high, direction, check_touch):
    """Status events bar by bar with the two rules: the first close beyond the zone, and the first
    touch before it (invalidation wins on the same bar)."""
    touched = invalid = -1
    for j in range(start, len(c)):
        if is_invalidated(c[j], low, high, direction):
            invalid = j
            break
        if check_touch and touched < 0 and is_touched(h[j], lo[j], low, high):
            touched = j
    return touched, invalid


@settings(max_examples=120, deadline=None)
@given(**series_args, data=st.data())
def test_the_status_search_finds_the_first_bars_is_touched_and_is_invalidated_name(seed, size, tick, data):
    o, h, lo, c = random_series(seed, size, tick)
    count = data.draw(st.integers(0, 12))
    directions = [data.draw(st.sampled_from(list(Direction))) for _ in range(count)]
    starts = [data.draw(st.integers(0, size)) for _ in range(count)]
    checks = [data.draw(st.booleans()) for _ in range(count)]
    zones = []
    for _ in range(count):
        a = data.draw(st.floats(900, 1100, allow_nan=False))
        b = data.draw(st.floats(0, 30, allow_nan=False))
        zones.append((a, a + b))
    touched, invalid = advance_status(
        o,
        h,
        lo,
        c,
        bullish=[d is Direction.BULLISH for d in directions],
        start=starts,
        price_low=[z[0] for z in zones],
        price_high=[z[1] for z in zones],
        check_touch=checks,
    )
    for i in range(count):
        want = first_events(o, h, lo, c, starts[i], *zones[i], directions[i], checks[i])
        assert (int(touched[i]), int(invalid[i])) == want


@settings(max_examples=80, deadline=None)
@given(**series_args, n=st.integers(1, 4))
def test_fractal_swings_are_the_extremes_of_their_full_window(seed, size, tick, n):
    _o, h, lo, _c = random_series(seed, size, tick)
    highs, lows = fractal_swing_highs(h, n).tolist(), fractal_swing_lows(lo, n).tolist()
    for s in range(size):
        full = n <= s < size - n
        assert highs[s] == (full and h[s] == max(h[s - n : s + n + 1]))
        assert lows[s] == (full and lo[s] == min(lo[s - n : s + n + 1]))


@settings(max_examples=80, deadline=None)
@given(**series_args, n=st.integers(1, 4))
def test_break_of_structure_is_the_first_close_above_the_last_known_swing_high(seed, size, tick, n):
    _o, h, _lo, c = random_series(seed, size, tick)
    bos, swing = break_of_structure(c, h, fractal_swing_highs(h, n), n)
    want = []
    last, broken = None, set()
    for t in range(size):
        s = t - n
        if s >= n and h[s] == max(h[s - n : s + n + 1]):
            last = s
        if last is not None and last not in broken and c[t] > h[last]:
            broken.add(last)
            want.append((t, last))
    assert list(zip(bos.tolist(), swing.tolist(), strict=True)) == want


@settings(max_examples=80, deadline=None)
@given(**series_args, data=st.data())
def test_order_block_bar_is_the_last_down_bar_between_swing_and_displacement(seed, size, tick, data):
    o, _h, _lo, c = random_series(seed, size, tick)
    if size < 2:
        return
    pairs = [
        sorted(data.draw(st.lists(st.integers(0, size - 1), min_size=2, max_size=2, unique=True)))
        for _ in range(8)
    ]
    swing = np.array([p[0] for p in pairs], dtype=np.int64)
    displacement = np.array([p[1] for p in pairs], dtype=np.int64)
    got = order_block_bar(o, c, swing, displacement).tolist()
    want = [next((i for i in range(d - 1, s, -1) if c[i] < o[i]), -1) for s, d in pairs]
    assert got == want


def test_is_displacement_is_an_up_bar_of_k_atrs_and_mirrors_to_a_down_bar():
    o, h, lo, c = (np.array(x) for x in sc.columns(sc.BASE))
    atr = atr_wilder(true_range(h, lo, c), 14)
    got = is_displacement(o, h, lo, c, atr, 1.2).tolist()
    assert got == [bool(c[i] > o[i] and h[i] - lo[i] >= 1.2 * atr[i]) for i in range(len(c))]
    assert got.index(True) == 20  # the scenario's displacement bar
    mirrored = is_displacement(-o, -lo, -h, -c, atr, 1.2).tolist()
    assert mirrored == [bool(c[i] < o[i] and h[i] - lo[i] >= 1.2 * atr[i]) for i in range(len(c))]


@settings(max_examples=60, deadline=None)
@given(tr=st.lists(st.floats(0, 1e6, allow_nan=False), max_size=300), period=st.sampled_from([2, 3, 14]))
def test_atr_forms_follow_their_recursions(tr, period):
    # period 1 is left out: the block-wise Wilder form divides by a = (p-1)/p = 0 there (NaN from
    # bar 2 on), as it always has; the plain recursion would give ATR = TR
    values = np.array(tr, dtype=np.float64)
    wilder, sma = atr_wilder(values, period).tolist(), atr_sma(values, period).tolist()
    prev = math.nan
    for i in range(len(tr)):
        if i < period - 1:
            assert math.isnan(wilder[i]) and math.isnan(sma[i])
            continue
        prev = sum(tr[:period]) / period if i == period - 1 else (prev * (period - 1) + tr[i]) / period
        assert wilder[i] == pytest.approx(prev, rel=1e-9, abs=1e-9)
        assert sma[i] == pytest.approx(sum(tr[i - period + 1 : i + 1]) / period, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("mode", ["conservative", "aggressive"])
def test_engine_and_records_take_their_zones_from_ob_zone(mode):
    params = EngineParams(zone_mode=mode)
    o, h, lo, c = random_series(3, 2000, 1.0)
    detected = detect_order_blocks(o, h, lo, c, params)
    assert len(detected) > 50
    for i in range(len(detected)):
        ob = int(detected.ob_index[i])
        direction = Direction.BULLISH if detected.bullish[i] else Direction.BEARISH
        zone = ob_zone(o[ob], h[ob], lo[ob], direction, mode)
        assert (detected.price_low[i], detected.price_high[i]) == zone
    bars = sc.random_bars(5, 1500)
    records = order_blocks_for_bars(bars, "BTCEUR", params)
    assert len(records) > 20
    by_open = {bar.open_time_ms: bar for bar in bars}
    for record in records:
        bar = by_open[record.created_ts_ms]
        assert (record.price_low, record.price_high) == ob_zone(
            bar.open, bar.high, bar.low, record.direction, mode
        )
        assert type(record.direction) is Direction
