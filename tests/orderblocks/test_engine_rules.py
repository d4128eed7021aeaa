"""Each order-block rule on a small hand-built candle sequence, in both directions (the bearish case is
the bullish sequence mirrored in price)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apps.orderblocks.domain.engine import EngineParams, average_true_range, detect_order_blocks
from tests.orderblocks import scenarios as sc
from tests.orderblocks.reference import ref_atr, reference_blocks

DIRECTIONS = [pytest.param(False, id="bullish"), pytest.param(True, id="bearish")]


def blocks(rows, mirror, **params):
    o, h, lo, c = sc.columns(rows, mirror=mirror)
    detected = detect_order_blocks(o, h, lo, c, EngineParams(**params))
    wanted = not mirror  # bullish flag of the direction under test
    out = []
    for i in range(len(detected)):
        if bool(detected.bullish[i]) != wanted:
            continue
        low, high = float(detected.price_low[i]), float(detected.price_high[i])
        if mirror:
            low, high = sc.mirrored_zone(low, high)  # back into the bullish picture
        out.append(
            {
                "ob": int(detected.ob_index[i]),
                "bos": int(detected.bos_index[i]),
                "swing": int(detected.swing_index[i]),
                "zone": (round(low, 6), round(high, 6)),
                "touched": int(detected.touched_index[i]),
                "invalid": int(detected.invalid_index[i]),
            }
        )
    return out


def strong(rows, index, k=1.2, **atr_args):
    _o, h, lo, c = sc.columns(rows)
    atr = average_true_range(np.array(h), np.array(lo), np.array(c), **atr_args)
    return h[index] - lo[index] >= k * atr[index]


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_swing_pullback_displacement_gives_one_block_at_the_last_opposite_bar(mirror):
    assert strong(sc.BASE, 20)
    assert blocks(sc.BASE, mirror) == [
        {"ob": 19, "bos": 20, "swing": 16, "zone": (104.0, 106.5), "touched": -1, "invalid": -1}
    ]


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_a_swing_is_only_known_three_bars_later(mirror):
    rows = [
        (105, 106.5, 104.5, 106),  # 14
        (106, 107.5, 105.5, 107),  # 15
        (107, 110, 106.5, 109.5),  # 16 swing A = 110
        (109.5, 109.8, 106, 106.5),  # 17 bear: OB, origin
        (106.5, 108, 106.2, 107.5),  # 18
        (107.5, 109, 107, 108.5),  # 19
        (108.5, 113, 107.3, 109.5),  # 20 strong up bar, high 113 = swing B, known only from bar 23
        (109.5, 112, 109.3, 111.5),  # 21 closes above A (110) but below B (113)
        (111.5, 112.5, 110, 110.5),  # 22
        (110.5, 111, 109, 109.5),  # 23
    ]
    assert strong(rows, 20)
    # at bar 21 the last known swing is still A: B cannot be seen yet, so A is broken
    found = blocks(rows, mirror)
    assert [(b["ob"], b["bos"], b["swing"]) for b in found] == [(17, 21, 16)]
    # and the block is already there when the series ends at bar 21 (nothing from later bars used)
    assert [(b["ob"], b["bos"], b["swing"]) for b in blocks(rows[:8], mirror)] == [(17, 21, 16)]


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_a_swing_is_broken_only_once(mirror):
    rows = [
        *sc.SWING_AND_PULLBACK,
        sc.DISPLACEMENT_BOS,  # 20 breaks swing 16
        (114, 116, 103, 110.5),  # 21 deep wick to 103 (new lowest low), closes above 110 again
        (110.5, 125, 110, 124),  # 22 strong up bar closing far above 110
        (124, 126, 123, 125),  # 23 highs kept rising: no newer swing high exists
    ]
    assert strong(rows, 22)
    found = blocks(rows, mirror)
    # a second break of the same swing would have made bar 21 an order block
    assert [(b["ob"], b["bos"]) for b in found] == [(19, 20)]
    assert found[0]["touched"] == 21


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_no_displacement_bar_means_no_block(mirror):
    rows = [
        *sc.SWING_AND_PULLBACK,
        (104.5, 108.5, 104.2, 108),  # 20 up bar, range 4.3 < 1.2 ATR
        (108, 111, 107.8, 110.8),  # 21 breaks 110 with a range of 3.2 < 1.2 ATR
        (110.8, 111.5, 110.5, 111.2),  # 22
    ]
    assert not strong(rows, 20) and not strong(rows, 21)
    assert blocks(rows, mirror) == []
    # the same bars with a lower displacement multiplier: bar 20 is the displacement
    assert strong(rows, 20, k=0.8)
    assert [(b["ob"], b["bos"]) for b in blocks(rows, mirror, displacement_k=0.8)] == [(19, 21)]


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_no_bearish_bar_between_swing_and_displacement_means_no_block(mirror):
    rows = [
        (105, 106.5, 104.5, 106),  # 14
        (106.5, 107.5, 105.5, 106),  # 15 bear, but before the swing
        (106, 110, 105.8, 109.5),  # 16 swing high 110
        (108, 109.8, 107.5, 108.5),  # 17 bull
        (106.2, 107, 106, 106.8),  # 18 bull
        (104.2, 105, 104, 104.6),  # 19 bull, origin
        (104.6, 115, 104.3, 114),  # 20 displacement + break
        (114, 116, 113.5, 115.5),  # 21
    ]
    assert strong(rows, 20)
    assert blocks(rows, mirror) == []


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_the_block_is_before_the_displacement_not_the_last_bear_bar_before_the_break(mirror):
    rows = [
        (105, 106.5, 104.5, 106),  # 14
        (106, 107.5, 105.5, 107),  # 15
        (107, 110, 106.5, 109.5),  # 16 swing high 110
        (109.5, 109.8, 107.5, 108),  # 17 bear
        (108, 108.3, 104, 104.5),  # 18 bear, origin: the OB
        (104.5, 109.9, 104.3, 109.5),  # 19 displacement, closes below 110
        (109.5, 109.7, 108, 108.5),  # 20 bear after the displacement
        (108.5, 111.5, 108.2, 111),  # 21 break
        (111, 112, 110.5, 111.5),  # 22
    ]
    assert strong(rows, 19) and not strong(rows, 21)
    assert [(b["ob"], b["bos"], b["zone"]) for b in blocks(rows, mirror)] == [(18, 21, (104.0, 108.0))]


@pytest.mark.parametrize("mirror", DIRECTIONS)
@pytest.mark.parametrize(
    ("close_18", "expected"),
    [
        pytest.param(107.0, [], id="close-below-zone-discards"),
        pytest.param(108.0, [(17, 20, (108.0, 109.5))], id="close-at-zone-low-keeps"),
    ],
)
def test_a_close_beyond_the_zone_before_the_break_discards_the_block(mirror, close_18, expected):
    rows = [
        (105, 106.5, 104.5, 106),  # 14
        (106, 107.5, 105.5, 107),  # 15
        (107, 110, 106.5, 109.5),  # 16 swing high 110
        (109.5, 109.8, 108, 108.5),  # 17 bear: the OB, zone [108, 109.5]
        (106.5, 108.2, 106, close_18),  # 18 bull, origin (low 106)
        (108.1, 108.5, 107.6, 108.3),  # 19 bull
        (108.3, 115, 108, 114),  # 20 displacement + break
        (114, 116, 113.5, 115.5),  # 21
    ]
    assert strong(rows, 20) and not strong(rows, 18) and not strong(rows, 19)
    assert [(b["ob"], b["bos"], b["zone"]) for b in blocks(rows, mirror)] == expected


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_origin_ties_take_the_last_lowest_low(mirror):
    rows = [
        *sc.SWING_AND_PULLBACK[:3],  # 14-16, swing high 110
        (109.5, 109.8, 104, 104.5),  # 17 bear, low 104 (first of the tie)
        (104.5, 109.9, 104.2, 109.5),  # 18 strong up bar, but closes below 110
        (109.5, 109.7, 104, 104.5),  # 19 bear, low 104 (last of the tie): origin
        (104.5, 115, 104.3, 114),  # 20 displacement + break
        (114, 116, 113.5, 115.5),  # 21
    ]
    assert strong(rows, 18) and strong(rows, 20)
    # origin 17 would make 18 the displacement and 17 the block
    assert [(b["ob"], b["bos"]) for b in blocks(rows, mirror)] == [(19, 20)]


@pytest.mark.parametrize("mirror", DIRECTIONS)
@pytest.mark.parametrize(
    ("high_17", "expected"),
    [
        pytest.param(110.0, [], id="equal-high-is-the-newer-swing"),
        pytest.param(109.9, [(16, 21)], id="lower-high-is-no-swing"),
    ],
)
def test_equal_highs_are_both_swings_and_the_newer_one_counts(mirror, high_17, expected):
    rows = [
        (105, 106.5, 104.5, 106),  # 14
        (106, 110, 105.5, 109.5),  # 15 swing A 110
        (109.5, 109.7, 107, 107.5),  # 16 bear between A and B
        (107.5, high_17, 107.2, 109.8),  # 17 B: equal high (a swing too) or lower (no swing)
        (108, 109, 107.8, 108.6),  # 18 bull
        (106.8, 107.5, 106.5, 107.2),  # 19 bull, origin
        (107.2, 108.5, 107, 108.2),  # 20 bull
        (108.2, 116, 108, 115),  # 21 displacement + break
        (115, 117, 114.5, 116.5),  # 22
    ]
    assert strong(rows, 21)
    # with B the leg is (17, 21]: no bear bar in it. Without B the leg is (15, 21] and 16 is the block.
    assert [(b["ob"], b["bos"]) for b in blocks(rows, mirror)] == expected


@pytest.mark.parametrize("mirror", DIRECTIONS)
@pytest.mark.parametrize(
    ("after", "touched", "invalid"),
    [
        pytest.param([(114, 114.5, 105, 105.5), (105.5, 106, 102, 103)], 21, 22, id="touch-then-invalid"),
        pytest.param([(114, 114.5, 102.5, 103), (103, 104, 102, 103.5)], -1, 21, id="same-bar-invalid-wins"),
        pytest.param([(114, 114.5, 105, 105.5), (105.5, 108, 104.1, 107.5)], 21, -1, id="touched"),
        pytest.param([(114, 114.5, 106.6, 113), (113, 114, 112, 113.5)], -1, -1, id="above-zone-fresh"),
        pytest.param([(114, 114.5, 104, 104)], 21, -1, id="close-at-zone-low-is-a-touch"),
    ],
)
def test_status_after_the_break(mirror, after, touched, invalid):
    rows = [*sc.SWING_AND_PULLBACK, sc.DISPLACEMENT_BOS, *after]
    found = [b for b in blocks(rows, mirror) if b["ob"] == 19]
    assert len(found) == 1
    assert (found[0]["touched"], found[0]["invalid"]) == (touched, invalid)


@pytest.mark.parametrize("mirror", DIRECTIONS)
def test_aggressive_zone_spans_the_whole_bar(mirror):
    rows = [*sc.SWING_AND_PULLBACK, sc.DISPLACEMENT_BOS, (114, 114.5, 106.7, 113)]  # 21 dips to 106.7
    conservative = blocks(rows, mirror)
    aggressive = blocks(rows, mirror, zone_mode="aggressive")
    assert [(b["ob"], b["zone"], b["touched"]) for b in conservative] == [(19, (104.0, 106.5), -1)]
    assert [(b["ob"], b["zone"], b["touched"]) for b in aggressive] == [(19, (104.0, 106.8), 21)]


def _quiet_after_wide_warmup():
    wide = [(105, 115 - 0.5 * i, 95 + 0.5 * i, 105) for i in range(14)]  # wide dojis: ATR starts at 13.5
    quiet = [(105, 105.5 - 0.01 * j, 104.5 + 0.01 * j, 105) for j in range(14)]  # 14 narrow dojis
    pattern = [
        (105, 106, 104.9, 105.8),  # 28
        (105.8, 107, 105.7, 106.8),  # 29 swing high 107
        (106.8, 106.9, 105.8, 106),  # 30 bear
        (106, 106.1, 105, 105.2),  # 31 bear, origin: the OB
        (105.2, 105.8, 105.1, 105.6),  # 32
        (105.6, 107.9, 105.5, 107.6),  # 33 range 2.4, break
        (107.6, 108, 107.4, 107.8),  # 34
        (107.8, 108.2, 107.6, 108),  # 35
    ]
    rows = wide + quiet + pattern
    return [list(col) for col in zip(*rows, strict=True)]


def test_sma_atr_forgets_old_volatility_where_wilder_does_not():
    o, h, lo, c = _quiet_after_wide_warmup()
    sma = average_true_range(np.array(h), np.array(lo), np.array(c), 14, "sma")
    wilder = average_true_range(np.array(h), np.array(lo), np.array(c), 14, "wilder")
    assert h[33] - lo[33] >= 1.2 * sma[33]
    assert h[33] - lo[33] < 1.2 * wilder[33]
    with_sma = detect_order_blocks(o, h, lo, c, EngineParams(atr_method="sma"))
    with_wilder = detect_order_blocks(o, h, lo, c, EngineParams(atr_method="wilder"))
    assert [(int(b), int(t)) for b, t in zip(with_sma.ob_index, with_sma.bos_index, strict=True)] == [
        (31, 33)
    ]
    assert len(with_wilder) == 0


@pytest.mark.parametrize("method", ["wilder", "sma"])
def test_atr_follows_the_formula(method):
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 60))
    high = close + rng.random(60) * 2
    low = close - rng.random(60) * 2
    got = average_true_range(high, low, close, 14, method)
    want = ref_atr(high.tolist(), low.tolist(), close.tolist(), 14, method)
    assert all(math.isnan(x) for x in got[:13])
    assert got[13:] == pytest.approx(want[13:], rel=1e-12)
    # Wilder's first value is the plain mean of TR_0..TR_13 with TR_0 = high - low
    tr0 = high[0] - low[0]
    assert want[13] == pytest.approx(
        (
            tr0
            + sum(
                max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
                for i in range(1, 14)
            )
        )
        / 14
    )


def test_series_shorter_than_a_swing_window_gives_nothing():
    assert len(detect_order_blocks([], [], [], [])) == 0
    assert len(detect_order_blocks([1, 2], [2, 3], [0.5, 1], [1.5, 2.5])) == 0


def test_the_hand_built_sequences_agree_with_the_literal_rules():
    """The reference transcription agrees on the base scenario in both directions."""
    for mirror in (False, True):
        o, h, lo, c = sc.columns(sc.BASE, mirror=mirror)
        ref = reference_blocks(o, h, lo, c)
        got = detect_order_blocks(o, h, lo, c)
        assert [(r.ob, r.bos) for r in ref] == [
            (int(a), int(b)) for a, b in zip(got.ob_index, got.bos_index, strict=True)
        ]
