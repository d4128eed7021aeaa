"""The liquidity rules on hand-made books: padding, side, score, zones, backed, unknown outside the band."""

from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side
from apps.confluence.domain.liquidity import (
    ConfluenceParams,
    baseline_windows,
    block_range,
    is_backed,
    measure_block,
    nearest_shifts,
    padded_range,
    resting_quantity,
    shift_limits,
    window_median,
)
from apps.zones.domain.detection import ZoneParams, analysis_bounds
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import ZoneRecord

PARAMS = ConfluenceParams(ZoneParams(range_pct=D("1"), bin_size=D("50"), wall_multiplier=4.0), pad_bins=1)
BID, ASK = D("86990"), D("87010")  # mid 87000: the bid band reaches down to 86130


def bounds(window=None):
    return analysis_bounds(BID, ASK, window, PARAMS.zone)


def even_bids(step=D("10"), qty=D("0.5")):
    """A bid every 10 EUR from the best bid down to 85000, 0.5 each."""
    levels, price = [], BID
    while price >= D("85000"):
        levels.append((price, qty))
        price -= step
    return levels


def zone(zone_id, side, low, high, status):
    return ZoneRecord(
        id=zone_id,
        ts_ms=0,
        symbol="BTCEUR",
        side=side,
        price_low=D(low),
        price_high=D(high),
        notional=D(1),
        strength=5.0,
        persistence_s=1.0,
        status=status,
        first_seen_ts_ms=0,
        last_seen_ts_ms=0,
        book_update_id=1,
    )


def test_the_range_is_padded_by_whole_zone_bins_each_way():
    assert padded_range(D("86500"), D("86600"), PARAMS) == (D("86450"), D("86650"))
    three = ConfluenceParams(PARAMS.zone, pad_bins=3)
    assert padded_range(D("86500"), D("86600"), three) == (D("86350"), D("86750"))
    assert padded_range(D("86500"), D("86600"), ConfluenceParams(PARAMS.zone, pad_bins=0)) == (
        D("86500"),
        D("86600"),
    )
    assert padded_range(D("20"), D("30"), PARAMS)[0] == 0  # never below 0


def test_the_padding_decides_which_levels_count():
    block = block_range("b", "bullish", D("86500"), D("86600"))
    levels = [
        (D("86450"), D("2")),
        (D("86449.99"), D("100")),
        (D("86650"), D("3")),
        (D("86650.01"), D("100")),
    ]
    padded = measure_block(block, levels, bounds(), (), PARAMS)
    assert padded is not None and padded.qty == D("5")  # both padded edges in, just beyond them out
    assert (padded.price_low, padded.price_high) == (D("86450"), D("86650"))
    bare = measure_block(block, levels, bounds(), (), ConfluenceParams(PARAMS.zone, pad_bins=0))
    assert bare is not None and bare.qty == 0
    assert bare.notional == 0 and padded.notional == D("86450") * 2 + D("86650") * 3


def test_bullish_blocks_are_measured_on_the_bids_and_bearish_ones_on_the_asks():
    bullish = block_range("b", "bullish", D("86500"), D("86600"))
    bearish = block_range("a", "bearish", D("87400"), D("87500"))
    assert bullish.side is Side.BID and bearish.side is Side.ASK
    asks = [(D("87010") + 10 * i, D("0.25")) for i in range(90)]
    measured = measure_block(bearish, asks, bounds(), (), PARAMS)
    assert measured is not None and measured.side is Side.ASK
    assert measured.qty == resting_quantity(asks, D("87350"), D("87550")) == D("0.25") * 21
    # the ask band is [best ask, mid + 1 %]: a bearish block's far end must be inside it
    assert (
        measure_block(block_range("a", "bearish", D("87800"), D("87900")), asks, bounds(), (), PARAMS) is None
    )


def test_the_score_is_the_quantity_over_the_median_of_same_width_windows_in_the_band():
    block = block_range("b", "bullish", D("86500"), D("86600"))
    levels = even_bids()
    plain = measure_block(block, levels, bounds(), (), PARAMS)
    assert plain is not None
    # 21 levels of 0.5 in the padded 200-EUR window, and in every other window of that width
    assert plain.qty == D("10.5") and plain.score == pytest.approx(1.0)
    assert not plain.backed
    wall = [(p, q + (D("40") if p == D("86550") else 0)) for p, q in levels]
    walled = measure_block(block, wall, bounds(), (), PARAMS)
    assert walled is not None and walled.qty == D("50.5")
    # the windows holding the wall are 5 of the 13 shifts within the band: the median is a plain one
    assert walled.score == pytest.approx(50.5 / 10.5)
    assert walled.backed  # 4.8x >= ZONE_WALL_MULTIPLIER


def test_baseline_windows_are_whole_bin_shifts_of_the_padded_range_inside_the_band():
    band = (D("86130"), D("86990"))
    windows = baseline_windows(D("86450"), D("86650"), band, D("50"))
    assert (D("86450"), D("86650")) in windows  # the block's own window (shift 0)
    assert windows[0] == (D("86150"), D("86350")) and windows[-1] == (D("86750"), D("86950"))
    assert all(high - low == 200 and low >= band[0] and high <= band[1] for low, high in windows)
    assert shift_limits(D("86450"), D("86650"), band, D("50")) == (-6, 6)
    assert baseline_windows(D("86000"), D("87500"), band, D("50")) == []  # wider than the band
    assert list(nearest_shifts(-1000, 1000, limit=4)) == [-2, -1, 0, 1]
    assert list(nearest_shifts(10, 1000, limit=3)) == [10, 11, 12]
    assert window_median([D(3), D(1), D(2)]) == 2 and window_median([D(4), D(1), D(2), D(3)]) == D("2.5")
    assert window_median([]) is None


def test_no_window_fits_then_there_is_no_score_and_only_a_confirmed_zone_backs_it():
    wide = block_range("b", "bullish", D("86140"), D("86995"))  # no whole-bin shift fits in the band
    levels = even_bids()
    measured = measure_block(wide, levels, bounds(), (), ConfluenceParams(PARAMS.zone, pad_bins=0))
    assert measured is not None and measured.score is None and not measured.backed
    assert is_backed([zone("z", Side.BID, "86500", "86550", ZoneStatus.CONFIRMED)], None, 4.0)
    assert not is_backed([zone("z", Side.BID, "86500", "86550", ZoneStatus.CANDIDATE)], None, 4.0)


def test_zones_overlapping_the_padded_range_on_the_blocks_side_are_listed_and_a_confirmed_one_backs_it():
    block = block_range("b", "bullish", D("86500"), D("86600"))
    zones = [
        zone("confirmed", Side.BID, "86600", "86650", ZoneStatus.CONFIRMED),
        zone("candidate", Side.BID, "86400", "86500", ZoneStatus.CANDIDATE),
        zone("edge", Side.BID, "86650", "86700", ZoneStatus.CONFIRMED),  # shares only the edge 86650
        zone("ask side", Side.ASK, "86500", "86550", ZoneStatus.CONFIRMED),
        zone("pulled", Side.BID, "86500", "86550", ZoneStatus.PULLED),
    ]
    measured = measure_block(block, even_bids(), bounds(), zones, PARAMS)
    assert measured is not None
    assert measured.zones == ("candidate", "confirmed")  # by price
    assert measured.backed and measured.score == pytest.approx(1.0)
    unconfirmed = measure_block(block, even_bids(), bounds(), zones[1:], PARAMS)
    assert unconfirmed is not None and unconfirmed.zones == ("candidate",) and not unconfirmed.backed


def test_blocks_outside_the_band_or_the_trusted_window_are_unknown_not_zero():
    levels = even_bids()
    far = block_range("b", "bullish", D("85000"), D("85100"))  # 2.2 % below mid: beyond the 1 % band
    assert measure_block(far, levels, bounds(), (), PARAMS) is None
    above = block_range("b", "bullish", D("87100"), D("87200"))  # above the best bid: no band there
    assert measure_block(above, levels, bounds(), (), PARAMS) is None
    inside = block_range("b", "bullish", D("86500"), D("86600"))
    assert measure_block(inside, levels, bounds(), (), PARAMS) is not None
    # the snapshot reached down to 86600 only: the bid band is cut there, the block is unknown
    cut = bounds(window=(D("86600"), D("Infinity")))
    assert measure_block(inside, levels, cut, (), PARAMS) is None
    assert (
        measure_block(block_range("b", "bullish", D("86700"), D("86800")), levels, cut, (), PARAMS)
        is not None
    )


def test_a_block_price_is_inside_is_measured_and_nothing_rests_beyond_the_touch():
    straddling = block_range("b", "bullish", D("86900"), D("87050"))  # the best bid 86990 is inside
    levels = even_bids()
    measured = measure_block(straddling, levels, bounds(), (), PARAMS)
    assert measured is not None
    assert measured.qty == resting_quantity(levels, D("86850"), D("86990")) == D("0.5") * 15
