"""Zone detection rules on small hand-built books (every expectation worked out by hand)."""

from decimal import Decimal as D

import numpy as np
import pytest

from apps.book.domain.events import Side
from apps.zones.domain.detection import (
    LevelEncoder,
    ZoneParams,
    bin_bounds,
    bin_index,
    clipped_rolling_median,
    detect_zones,
)
from project.config import load_config

WIDE = ZoneParams(range_pct=D("90"))  # range wide enough that only the rule under test matters


def flat_bids(top, bins, qty="1", size=50):
    """One level per bin, `qty` each, the best at `top`, going down one bin at a time."""
    return [(D(top) - i * size, D(qty)) for i in range(bins)]


def flat_asks(bottom, bins, qty="1", size=50):
    return [(D(bottom) + i * size, D(qty)) for i in range(bins)]


def with_level(levels, price, qty):
    """Replace or add the level at `price`."""
    price, qty = D(price), D(qty)
    return [(p, q) for p, q in levels if p != price] + [(price, qty)]


def zones_on(detection, side):
    return [z for z in detection.zones if z.side == side]


def test_defaults_come_from_the_settings():
    params = ZoneParams.from_config(load_config({}))
    assert params == ZoneParams()
    assert (params.range_pct, params.bin_size, params.baseline_k) == (D("1.0"), D("50"), 3)
    assert (params.wall_multiplier, params.max_gap_bins, params.rounding, params.volume_mode) == (
        4.0,
        1,
        "floor_ceil",
        "qty",
    )
    env = {
        "ZONE_BIN_SIZE": "10",
        "ZONE_BIN_ROUNDING": "half_up",
        "ZONE_VOLUME_MODE": "notional",
        "ZONE_BASELINE_EPS": "0.5",
    }
    changed = ZoneParams.from_config(load_config(env))
    assert (changed.bin_size, changed.rounding, changed.volume_mode, changed.baseline_eps) == (
        D("10"),
        "half_up",
        "notional",
        0.5,
    )


# -- binning edges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "low", "high"),
    [("1000.00", "1000", "1050"), ("1049.99", "1000", "1050"), ("1050.00", "1050", "1100")],
)
def test_bid_bins_are_floor_closed_at_the_low_edge(price, low, high):
    bids = with_level(flat_bids("1075", 12), price, "20")
    detection = detect_zones(bids, flat_asks("1125", 3), None, WIDE)
    [zone] = zones_on(detection, Side.BID)
    assert (zone.price_low, zone.price_high) == (D(low), D(high))


@pytest.mark.parametrize(
    ("price", "low", "high"),
    [("1050.00", "1000", "1050"), ("1000.01", "1000", "1050"), ("1000.00", "950", "1000")],
)
def test_ask_bins_are_ceil_closed_at_the_high_edge(price, low, high):
    asks = with_level(flat_asks("875", 12), price, "20")
    detection = detect_zones(flat_bids("825", 3), asks, None, WIDE)
    [zone] = zones_on(detection, Side.ASK)
    assert (zone.price_low, zone.price_high) == (D(low), D(high))


@pytest.mark.parametrize(
    ("price", "index", "low", "high"),
    [
        ("1024.99", 20, "975", "1025"),
        ("1025.00", 21, "1025", "1075"),  # exactly half way rounds up
        ("975.00", 20, "975", "1025"),
    ],
)
def test_half_up_rounding_uses_the_same_bins_on_both_sides(price, index, low, high):
    params = ZoneParams(range_pct=D("50"), rounding="half_up")
    for side in Side:
        assert bin_index(D(price), side, params) == index
        assert bin_bounds(index, side, params) == (D(low), D(high))
    # and through the detector: a bid wall at `price` covers [low, high)
    bids = with_level(flat_bids("1200", 15), price, "20")
    [zone] = zones_on(detect_zones(bids, flat_asks("1300", 3), None, params), Side.BID)
    assert (zone.price_low, zone.price_high) == (D(low), D(high))


def test_prices_across_a_digit_boundary_bin_exactly():
    """99,999.99 and 100,000.00 sit on either side of a bin edge for bids, in one bin for asks."""
    params = ZoneParams(range_pct=D("1"))
    assert bin_bounds(bin_index(D("99999.99"), Side.BID, params), Side.BID, params) == (
        D("99950"),
        D("100000"),
    )
    assert bin_bounds(bin_index(D("100000.00"), Side.BID, params), Side.BID, params) == (
        D("100000"),
        D("100050"),
    )
    assert bin_index(D("99999.99"), Side.ASK, params) == bin_index(D("100000.00"), Side.ASK, params) == 2000
    assert bin_bounds(bin_index(D("100000.01"), Side.ASK, params), Side.ASK, params) == (
        D("100000"),
        D("100050"),
    )

    bids = with_level(flat_bids("99999.99", 10), "99999.99", "30")
    asks = with_level(flat_asks("100000.00", 10), "100000.00", "30")
    detection = detect_zones(bids, asks, None, params)
    [bid], [ask] = zones_on(detection, Side.BID), zones_on(detection, Side.ASK)
    assert (bid.price_low, bid.price_high, bid.notional) == (D("99950"), D("100000"), D("2999999.70"))
    assert (ask.price_low, ask.price_high, ask.notional) == (D("99950"), D("100000"), D("3000000.00"))
    assert detection.mid == D("99999.995")


# -- series, empty bins, baseline window --------------------------------------------------


def test_empty_bins_between_levels_count_as_zero_volume():
    # bins (bid side, 50 wide): 600 has 2.0, 650/700/750 are empty, 800..1000 have 1.0 each.
    # Bin 600's window (clipped) is [2, 0, 0, 0] -> median 0 -> a wall; had the empty bins been
    # skipped its window would be [2, 1, 1, 1] -> median 1 -> score 2, no wall.
    bids = [(D("600"), D("2"))] + [(D(p), D("1")) for p in ("800", "850", "900", "950", "1000")]
    detection = detect_zones(bids, flat_asks("1010", 3), None, WIDE)
    assert detection.bid_summary.bins == 9  # 600..1000, the empty ones included
    walls = [b for z in zones_on(detection, Side.BID) for b in z.bins]
    assert [b.price_low for b in walls] == [D("600")]
    assert walls[0].baseline == 0.0
    assert walls[0].score == pytest.approx(2 / WIDE.baseline_eps)


def test_baseline_window_is_clipped_at_both_ends_of_the_series():
    # volumes bottom-up: 12, 1, 2, 3, 1, 1, 1, 3, 2, 1, 12 (k = 3)
    # first bin: window [12, 1, 2, 3] -> median 2.5 -> score 4.8 (a wall); same at the top end.
    qtys = ["12", "1", "2", "3", "1", "1", "1", "3", "2", "1", "12"]
    bids = [(D(500 + 50 * i), D(q)) for i, q in enumerate(qtys)]
    detection = detect_zones(bids, flat_asks("1200", 3), None, WIDE)
    low_zone, high_zone = zones_on(detection, Side.BID)
    for zone, low in ((low_zone, "500"), (high_zone, "1000")):
        [wall] = zone.bins
        assert wall.price_low == D(low)
        assert wall.baseline == 2.5
        assert wall.score == 12 / 2.5


def test_a_score_exactly_at_the_multiplier_is_a_wall_and_just_below_is_not():
    # k = 3 interior windows of seven 1.0 bins and the candidate: median 1 -> score == qty
    for qty, is_wall in (("4", True), ("3.99999999", False)):
        bids = with_level(flat_bids("1000", 11), "750", qty)
        zones = zones_on(detect_zones(bids, flat_asks("1010", 3), None, WIDE), Side.BID)
        assert bool(zones) is is_wall


def test_rolling_median_matches_definition_on_short_and_long_series():
    values = np.array([5.0, 0.0, 2.0, 9.0, 1.0, 1.0, 4.0, 0.0])
    for k in range(0, 6):
        expected = [np.median(values[max(0, i - k) : i + k + 1]) for i in range(len(values))]
        assert clipped_rolling_median(values, k).tolist() == expected


# -- merging, notional, strength -----------------------------------------------------------


@pytest.mark.parametrize(
    ("gap_bins", "max_gap", "zones"),
    [(0, 0, 1), (1, 0, 2), (1, 1, 1), (2, 1, 2), (2, 2, 1)],
)
def test_wall_bins_merge_when_at_most_max_gap_bins_lie_between(gap_bins, max_gap, zones):
    first, second = 600, 600 + 50 * (gap_bins + 1)
    bids = with_level(with_level(flat_bids("1000", 15), first, "10"), second, "10")
    params = ZoneParams(range_pct=D("50"), max_gap_bins=max_gap)
    found = zones_on(detect_zones(bids, flat_asks("1010", 3), None, params), Side.BID)
    assert len(found) == zones
    if zones == 1:
        assert (found[0].price_low, found[0].price_high) == (D(first), D(second + 50))
        # notional counts the wall bins only, not the ordinary bins between them
        assert found[0].notional == D(10) * first + D(10) * second


def test_strength_is_the_notional_weighted_mean_of_member_scores():
    bids = with_level(with_level(flat_bids("1000", 15), "600", "10"), "650", "20")
    [zone] = zones_on(detect_zones(bids, flat_asks("1010", 3), None, WIDE), Side.BID)
    assert [b.score for b in zone.bins] == [10.0, 20.0]  # each over a median of 1
    notional_600, notional_650 = 10 * 600, 20 * 650
    expected = (notional_600 * 10 + notional_650 * 20) / (notional_600 + notional_650)
    assert zone.strength == pytest.approx(expected, rel=1e-12)
    assert zone.notional == D(notional_600 + notional_650)


def test_notional_volume_mode_weighs_each_level_by_its_price():
    # k = 1. Bin [950,1000) holds 4 @ 950; its neighbours hold 1 @ 949 and 1 @ 1049.
    # qty mode: median(1, 4, 1) = 1 -> score 4 -> wall.
    # notional mode: median(949, 3800, 1049) = 1049 -> score 3.62 -> no wall.
    bids = [(D("949"), D("1")), (D("950"), D("4")), (D("1049"), D("1"))]
    asks = flat_asks("1060", 2)
    qty_mode = ZoneParams(range_pct=D("50"), baseline_k=1)
    notional_mode = ZoneParams(range_pct=D("50"), baseline_k=1, volume_mode="notional")
    [wall] = zones_on(detect_zones(bids, asks, None, qty_mode), Side.BID)
    assert (wall.price_low, wall.bins[0].volume) == (D("950"), D("4"))
    assert zones_on(detect_zones(bids, asks, None, notional_mode), Side.BID) == []

    bids = [(D("949"), D("1")), (D("950"), D("5")), (D("1049"), D("1"))]
    [wall] = zones_on(detect_zones(bids, asks, None, notional_mode), Side.BID)
    assert wall.bins[0].volume == D("4750")
    assert wall.bins[0].score == 4750 / 1049


# -- the analysed band ----------------------------------------------------------------------


def test_only_levels_within_range_pct_of_mid_are_analysed():
    # best bid 995, best ask 1005 -> mid 1000; 10 % -> bids >= 900, asks <= 1100
    params = ZoneParams(range_pct=D("10"), bin_size=D("10"))
    bids = [(D(p), D("1")) for p in range(900, 1000, 10)] + [(D("995"), D("1"))]
    asks = [(D(p), D("1")) for p in range(1010, 1101, 10)] + [(D("1005"), D("1"))]
    inside_detection = detect_zones(
        with_level(bids, "900", "50"), with_level(asks, "1100", "50"), None, params
    )
    assert [(z.side, z.price_low) for z in inside_detection.zones] == [
        (Side.BID, D("900")),
        (Side.ASK, D("1090")),
    ]
    outside_bids, outside_asks = [*bids, (D("899.99"), D("50"))], [*asks, (D("1100.01"), D("50"))]
    outside_detection = detect_zones(outside_bids, outside_asks, None, params)
    assert outside_detection.zones == ()
    assert (outside_detection.bounds.bid_low, outside_detection.bounds.ask_high) == (D("900"), D("1100"))


def test_levels_outside_the_trusted_window_are_ignored_and_the_output_says_so():
    params = ZoneParams(range_pct=D("10"), bin_size=D("10"))
    bids = with_level([(D(p), D("1")) for p in range(900, 1000, 10)], "920", "30")
    asks = [(D(p), D("1")) for p in range(1000, 1101, 10)]
    full = detect_zones(bids, asks, (D(0), D("Infinity")), params)
    assert [z.price_low for z in full.zones] == [D("920")]
    assert full.window_narrower_than_range is False

    narrow = detect_zones(bids, asks, (D("950"), D("1050")), params)
    assert narrow.zones == ()
    assert narrow.window_narrower_than_range is True
    assert (narrow.bounds.bid_low, narrow.bounds.ask_high) == (D("950"), D("1050"))
    assert narrow.bid_summary.levels == 5  # 950..990


def test_a_book_without_two_sides_or_crossed_reports_the_problem():
    bids = flat_bids("1000", 5)
    no_asks = detect_zones(bids, [], None, WIDE)
    assert no_asks.zones == () and "no asks" in no_asks.problem
    zero_qty_only = detect_zones(bids, [(D("1010"), D("0"))], None, WIDE)
    assert "no asks" in zero_qty_only.problem
    crossed = detect_zones(bids, [(D("990"), D("1"))], None, WIDE)
    assert crossed.zones == () and "crossed" in crossed.problem


def test_zero_quantity_levels_are_absent_levels():
    bids = with_level(flat_bids("1000", 12), "700", "20")
    with_zeros = [*bids, (D("1003"), D("0")), (D("675"), D("0"))]
    asks = flat_asks("1010", 3)
    assert detect_zones(with_zeros, asks, None, WIDE) == detect_zones(bids, asks, None, WIDE)


def test_values_finer_than_1e_8_take_the_exact_decimal_path_with_the_same_rules():
    # 1000.000000001 is not a whole number of 1e-8 units; it still bins exactly: floor -> [1000, 1050)
    bids = with_level(flat_bids("1075", 12), "1000.000000001", "20")
    encoder = LevelEncoder()
    detection = detect_zones(bids, flat_asks("1125", 3), None, WIDE, encoder=encoder)
    [zone] = zones_on(detection, Side.BID)
    assert (zone.price_low, zone.price_high, zone.bins[0].qty) == (D("1000"), D("1050"), D("21"))
    assert detection == detect_zones(bids, flat_asks("1125", 3), None, WIDE, exact_decimal=True)
    assert ZoneParams(bin_size=D("0.000000001")).bin_units is None  # such a bin also uses Decimals


def test_the_encoder_converts_each_value_once_and_sees_changed_quantities():
    encoder = LevelEncoder()
    bids = with_level(flat_bids("1000", 12), "700", "20")
    asks = flat_asks("1010", 3)
    first = detect_zones(bids, asks, None, WIDE, encoder=encoder)
    converted = encoder.conversions
    assert converted > 0
    assert detect_zones(bids, asks, None, WIDE, encoder=encoder) == first
    assert encoder.conversions == converted  # nothing new to convert
    moved = with_level(with_level(bids, "700", "1"), "800", "20")  # the wall moved
    [zone] = zones_on(detect_zones(moved, asks, None, WIDE, encoder=encoder), Side.BID)
    assert zone.price_low == D("800")
    assert encoder.conversions - converted <= 2  # only the two changed quantities


def test_the_encoder_holds_only_the_current_books_values_however_many_it_has_seen():
    """A live book brings new quantities every cycle; the memo must not keep the old ones."""
    encoder = LevelEncoder()
    asks = flat_asks("1010", 3)
    for cycle in range(300):  # 300 cycles x 12 fresh quantities = 3600 values seen
        bids = [
            (price, qty + D(cycle * 12 + i) / 10**6) for i, (price, qty) in enumerate(flat_bids("1000", 12))
        ]
        detection = detect_zones(bids, asks, None, WIDE, encoder=encoder)
        assert detection == detect_zones(bids, asks, None, WIDE, exact_decimal=True)
        assert len(encoder) <= encoder.slack * 2 * (len(bids) + len(asks))
    assert encoder.rebuilds >= 2
