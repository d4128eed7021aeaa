"""The heatmap's grid rules, one function each: bins, the observed (trusted) bins, the time grid."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.heatmap.domain.grid import (
    BinSpan,
    HeatmapParams,
    column_start,
    cycle_weight_ms,
    default_resolution,
    heatmap_bin_of,
    trusted_bins,
)

PARAMS = HeatmapParams(bin_size=D(50), range_pct=D("2.0"), column_s=60, publish_interval_ms=1000)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (D("86499.99"), 1729),
        (D("86500"), 1730),
        (D("86500.00000001"), 1730),
        (D("86549.99"), 1730),
        (D(0), 0),
    ],
)
def test_bin_k_covers_k_times_size_up_to_the_next_edge_on_both_sides(price, expected):
    assert heatmap_bin_of(price, D(50)) == expected


def test_the_bins_run_from_the_band_edges_to_the_touch():
    spans = trusted_bins(D("87020"), D("87030"), None, PARAMS)  # mid 87025, +-2 %: 85284.5 .. 88765.5
    assert spans.bid == BinSpan(1705, 1740) and spans.ask == BinSpan(1740, 1775)
    assert spans.bid.bins == 36 and spans.ask.bins == 36


def test_a_full_book_side_is_trusted_to_zero_and_infinity():
    window = (D(0), D("Infinity"))
    assert trusted_bins(D("87020"), D("87030"), window, PARAMS) == trusted_bins(
        D("87020"), D("87030"), None, PARAMS
    )


@pytest.mark.parametrize(
    ("window", "bid_first", "ask_last"),
    [
        ((D("86000.5"), D("88000")), 1721, 1759),  # [86050, ...) is the first bin wholly above 86000.5
        ((D("86000"), D("88000.01")), 1720, 1759),  # [88000, 88050) would reach past 88000.01
        ((D("86000"), D("88050")), 1720, 1760),
    ],
)
def test_only_bins_wholly_inside_the_trusted_window_are_observed(window, bid_first, ask_last):
    spans = trusted_bins(D("87020"), D("87030"), window, PARAMS)
    assert spans.bid == BinSpan(bid_first, 1740) and spans.ask == BinSpan(1740, ask_last)


def test_a_window_narrower_than_the_touch_leaves_a_side_without_bins():
    spans = trusted_bins(D("87020"), D("87030"), (D("87040"), D("87040")), PARAMS)
    assert spans.bid.bins == 0 and spans.ask.bins == 0


def test_a_side_has_at_most_2000_bins_the_ones_nearest_the_touch():
    tiny = HeatmapParams(bin_size=D("0.01"), range_pct=D("2.0"))
    spans = trusted_bins(D("87020"), D("87030"), None, tiny)
    assert spans.bid == BinSpan(8_702_000 - 1999, 8_702_000) and spans.ask == BinSpan(
        8_703_000, 8_703_000 + 1999
    )


def test_columns_start_on_multiples_of_the_column_length():
    assert column_start(1_796_162_459_999, 60) == 1_796_162_400
    assert column_start(1_796_162_460_000, 60) == 1_796_162_460
    assert column_start(5_999, 2) == 4


def test_a_cycle_weighs_the_time_since_the_previous_live_cycle_capped_at_two_intervals():
    assert cycle_weight_ms(10_000, None, 1000) == 1000  # first live cycle: one interval
    assert cycle_weight_ms(10_000, 9_000, 1000) == 1000
    assert cycle_weight_ms(10_000, 9_700, 1000) == 300
    assert cycle_weight_ms(10_000, 4_000, 1000) == 2000
    assert cycle_weight_ms(10_000, 10_000, 1000) == 1  # never zero


@pytest.mark.parametrize(
    ("span_s", "column_s", "expected"),
    [(86_400, 60, 60), (7 * 86_400, 60, 600), (30 * 86_400, 60, 1800), (86_400, 7, 49), (3600, 60, 60)],
)
def test_the_default_resolution_keeps_an_answer_under_2000_columns(span_s, column_s, expected):
    resolution = default_resolution(0, span_s - 1, column_s)
    assert resolution == expected
    assert resolution % column_s == 0 and span_s / resolution <= 2000
