"""The vectorised engine against the literal rules on random series, and the no-look-ahead property:
computing on bars [0, k) gives exactly the blocks of the full run whose BOS bar is before k."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.orderblocks.domain.engine import EngineParams, detect_order_blocks
from tests.orderblocks.reference import reference_blocks


def random_series(seed, size, tick):
    """A random walk on a price grid of `tick` (coarse grids make many equal highs/lows)."""
    rng = np.random.default_rng(seed)
    close = 1000 + np.cumsum(rng.normal(0, 4, size))
    open_ = np.concatenate([close[:1], close[:-1]]) + rng.normal(0, 1, size)
    high = np.maximum(open_, close) + np.abs(rng.normal(0, 3, size))
    low = np.minimum(open_, close) - np.abs(rng.normal(0, 3, size))

    def grid(x):
        return np.round(x / tick) * tick

    o, c = grid(open_), grid(close)
    h = np.maximum(grid(high), np.maximum(o, c))
    lo = np.minimum(grid(low), np.minimum(o, c))
    return o, h, lo, c


def as_tuples(detected):
    return [
        (
            "bullish" if bool(detected.bullish[i]) else "bearish",
            int(detected.ob_index[i]),
            int(detected.bos_index[i]),
            int(detected.swing_index[i]),
            float(detected.price_low[i]),
            float(detected.price_high[i]),
            float(detected.bos_level[i]),
            int(detected.touched_index[i]),
            int(detected.invalid_index[i]),
        )
        for i in range(len(detected))
    ]


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(0, 400),
    tick=st.sampled_from([0.01, 1.0, 5.0]),
    method=st.sampled_from(["wilder", "sma"]),
    mode=st.sampled_from(["conservative", "aggressive"]),
    n=st.integers(1, 4),
    period=st.sampled_from([3, 14]),
    k=st.sampled_from([0.5, 1.2, 2.0]),
)
def test_engine_matches_the_literal_rules(seed, size, tick, method, mode, n, period, k):
    o, h, lo, c = random_series(seed, size, tick)
    params = EngineParams(atr_period=period, atr_method=method, fractal_n=n, displacement_k=k, zone_mode=mode)
    got = as_tuples(detect_order_blocks(o, h, lo, c, params))
    ref = reference_blocks(
        o.tolist(), h.tolist(), lo.tolist(), c.tolist(), period=period, method=method, n=n, k=k, mode=mode
    )
    want = [(b.direction, b.ob, b.bos, b.swing, b.low, b.high, b.level, b.touched, b.invalid) for b in ref]
    assert got == want


def test_random_series_produce_blocks_in_both_directions_and_every_status():
    """Guards the property tests above against vacuous data."""
    o, h, lo, c = random_series(3, 2000, 1.0)
    got = as_tuples(detect_order_blocks(o, h, lo, c))
    assert {b[0] for b in got} == {"bullish", "bearish"}
    statuses = {("invalid" if b[8] >= 0 else "touched" if b[7] >= 0 else "fresh") for b in got}
    assert statuses == {"fresh", "touched", "invalid"}


def _prefix_view(block, k):
    """What a run on bars [0, k) must say about a block of the full run: same block, status from bars < k."""
    direction, ob, bos, swing, low, high, level, touched, invalid = block
    invalid_k = invalid if 0 <= invalid < k else -1
    touched_k = touched if 0 <= touched < k else -1
    return (direction, ob, bos, swing, low, high, level, touched_k, invalid_k)


def test_prefix_replay_equals_the_full_run_for_many_prefixes():
    o, h, lo, c = random_series(11, 1500, 1.0)
    for params in (EngineParams(), EngineParams(atr_method="sma", zone_mode="aggressive")):
        full = detect_order_blocks(o, h, lo, c, params)
        full_blocks = as_tuples(full)
        assert len(full_blocks) > 50
        full_atr = {(b[0], b[1]): float(full.atr[i]) for i, b in enumerate(full_blocks)}
        for k in range(0, 1501, 7):
            prefix = detect_order_blocks(o[:k], h[:k], lo[:k], c[:k], params)
            expected = [_prefix_view(b, k) for b in full_blocks if b[2] < k]
            assert as_tuples(prefix) == expected, f"prefix {k}"
            for i, b in enumerate(as_tuples(prefix)):
                assert float(prefix.atr[i]) == full_atr[(b[0], b[1])]


def test_wilder_atr_of_a_recent_window_equals_the_full_series_after_the_warmup():
    """The incremental run recomputes a window; its ATR must agree bit for bit with the full run's
    once the window's own seed is forgotten (blocks aligned on absolute bar numbers)."""
    from apps.orderblocks.domain.engine import average_true_range

    _o, h, lo, c = random_series(5, 6000, 0.01)
    numbers = np.arange(len(c)) + 417_001  # e.g. hours since the epoch
    full = average_true_range(h, lo, c, 14, "wilder", numbers)
    need = EngineParams().warmup_bars_needed()
    for start in range(1, 5000, 97):
        window = average_true_range(h[start:], lo[start:], c[start:], 14, "wilder", numbers[start:])
        assert np.array_equal(window[need:], full[start + need :]), start
    for end in (14, 15, 64, 65, 100, 2049):
        prefix = average_true_range(h[:end], lo[:end], c[:end], 14, "wilder", numbers[:end])
        assert np.array_equal(prefix[13:], full[13:end])
