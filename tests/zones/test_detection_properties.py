"""Invariants of zone detection over generated books (hypothesis)."""

import itertools
import statistics
from decimal import Decimal as D

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.zones.domain.detection import LevelEncoder, ZoneParams, clipped_rolling_median, detect_zones
from tests.zones.reference import reference_zones

CENT = D("0.01")


@st.composite
def books(draw):
    """A sane book: best bid < best ask, prices in cents, a few levels much bigger than the rest."""
    base = draw(st.integers(min_value=1_000_00, max_value=120_000_00))  # best bid in cents
    spread = draw(st.integers(min_value=1, max_value=500))
    span = draw(st.sampled_from([2_000, 20_000, 200_000]))  # how far the levels spread, in cents
    qty = st.one_of(
        st.integers(min_value=1, max_value=2_000_000).map(lambda q: D(q) / 10**8),
        st.integers(min_value=1, max_value=500).map(D),  # walls
    )
    bid_offsets = draw(st.lists(st.integers(0, span), min_size=1, max_size=60, unique=True))
    ask_offsets = draw(st.lists(st.integers(0, span), min_size=1, max_size=60, unique=True))
    if 0 not in bid_offsets:
        bid_offsets.append(0)
    if 0 not in ask_offsets:
        ask_offsets.append(0)
    bids = [((base - off) * CENT, draw(qty)) for off in bid_offsets if base - off > 0]
    asks = [((base + spread + off) * CENT, draw(qty)) for off in ask_offsets]
    return bids, asks


params_strategy = st.builds(
    ZoneParams,
    range_pct=st.sampled_from([D("0.5"), D("1"), D("10")]),
    bin_size=st.sampled_from([D("0.5"), D("1"), D("10"), D("50")]),
    rounding=st.sampled_from(["floor_ceil", "half_up"]),
    volume_mode=st.sampled_from(["qty", "notional"]),
    baseline_k=st.integers(0, 4),
    wall_multiplier=st.sampled_from([1.5, 3.0, 4.0]),
    max_gap_bins=st.integers(0, 3),
)


def windows(draw_bids, draw_asks, data):
    if data.draw(st.booleans()):
        return None
    low = min(p for p, _ in draw_bids)
    high = max(p for p, _ in draw_asks)
    return (data.draw(st.sampled_from([low, low + (max(p for p, _ in draw_bids) - low) / 2])), high)


@settings(max_examples=150, deadline=None)
@given(book=books(), params=params_strategy, data=st.data())
def test_zones_on_a_side_never_overlap_and_each_holds_a_real_wall(book, params, data):
    bids, asks = book
    window = windows(bids, asks, data)
    detection = detect_zones(bids, asks, window, params)
    for side in ("bid", "ask"):
        zones = sorted((z for z in detection.zones if z.side == side), key=lambda z: z.price_low)
        for lower, upper in itertools.pairwise(zones):
            assert lower.price_high < upper.price_low
        for zone in zones:
            assert zone.bins, "a zone without wall bins"
            assert any(b.score >= params.wall_multiplier and b.volume > 0 for b in zone.bins)
            for b in zone.bins:
                assert zone.price_low <= b.price_low < b.price_high <= zone.price_high
            assert zone.notional == sum(b.notional for b in zone.bins)
            scores = [b.score for b in zone.bins]
            assert min(scores) * (1 - 1e-12) <= zone.strength <= max(scores) * (1 + 1e-12)


@settings(max_examples=100, deadline=None)
@given(book=books(), params=params_strategy, data=st.data())
def test_result_does_not_depend_on_level_order(book, params, data):
    bids, asks = book
    window = windows(bids, asks, data)
    shuffled_bids = data.draw(st.permutations(bids))
    shuffled_asks = data.draw(st.permutations(asks))
    assert detect_zones(shuffled_bids, shuffled_asks, window, params) == detect_zones(
        bids, asks, window, params
    )


@settings(max_examples=150, deadline=None)
@given(book=books(), params=params_strategy, data=st.data())
def test_zones_match_a_naive_reading_of_the_rules(book, params, data):
    bids, asks = book
    window = windows(bids, asks, data)
    detection = detect_zones(bids, asks, window, params, exact_decimal=data.draw(st.booleans()))
    found = [
        (z.side.value, z.price_low, z.price_high, z.notional, [b.bin_index for b in z.bins])
        for z in detection.zones
    ]
    assert found == reference_zones(bids, asks, window, params)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(0, 50).map(float), min_size=1, max_size=40),
    k=st.integers(0, 6),
)
def test_rolling_median_equals_the_median_of_each_clipped_window(values, k):
    expected = [statistics.median(values[max(0, i - k) : i + k + 1]) for i in range(len(values))]
    assert clipped_rolling_median(np.array(values), k).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(book=books(), params=params_strategy, data=st.data())
def test_the_integer_path_equals_the_decimal_path(book, params, data):
    bids, asks = book
    window = windows(bids, asks, data)
    encoder = LevelEncoder()
    fast = detect_zones(bids, asks, window, params, encoder=encoder)
    assert len(encoder) > 0  # the integer path really ran
    assert fast == detect_zones(bids, asks, window, params, exact_decimal=True)
    assert detect_zones(bids, asks, window, params, encoder=encoder) == fast  # memo reused
