"""The named zone rules against the fast paths that run them (hypothesis)."""

from decimal import Decimal as D

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.zones.domain.detection import ZoneParams, _unit_bins, bin_index, bin_of, to_units
from apps.zones.domain.tracking import persistence_s

sides = st.sampled_from([Side.BID, Side.ASK])
roundings = st.sampled_from(["floor_ceil", "half_up"])
bin_sizes = st.sampled_from([D("0.00000001"), D("0.01"), D("0.5"), D("1"), D("7.25"), D("50"), D("1000")])
price_units = st.integers(min_value=1, max_value=2**52)  # 1e-8 units, as Binance sends them


@settings(max_examples=300, deadline=None)
@given(prices=st.lists(price_units, min_size=1, max_size=40), size=bin_sizes, side=sides, rounding=roundings)
def test_bin_of_on_an_array_of_units_is_bin_of_on_each_decimal_price(prices, size, side, rounding):
    params = ZoneParams(bin_size=size, rounding=rounding)
    got = bin_of(np.array(prices, dtype=np.int64), side, to_units(size), rounding).tolist()
    assert got == [bin_index(D(p).scaleb(-8), side, params) for p in prices]


@settings(max_examples=200, deadline=None)
@given(
    prices=st.lists(price_units, min_size=1, max_size=40, unique=True),
    size=bin_sizes,
    side=sides,
    rounding=roundings,
    data=st.data(),
)
def test_the_fast_paths_bins_hold_exactly_the_levels_bin_index_puts_there(prices, size, side, rounding, data):
    params = ZoneParams(bin_size=size, rounding=rounding)
    quantities = data.draw(st.lists(st.integers(1, 10**12), min_size=len(prices), max_size=len(prices)))
    bins = _unit_bins(side, np.array(prices, dtype=np.int64), np.array(quantities, dtype=np.int64), params)
    got: dict[int, int] = {}
    for slot, position in enumerate(bins.positions.tolist()):
        got[bins.first + position] = int(bins.qty_sums[slot])
    want: dict[int, int] = {}
    for price, qty in zip(prices, quantities, strict=True):
        index = bin_index(D(price).scaleb(-8), side, params)
        want[index] = want.get(index, 0) + qty
    assert got == want
    assert bins.length == max(want) - min(want) + 1


@given(first=st.integers(0, 2**52), elapsed=st.integers(0, 2**52))
def test_persistence_is_seconds_since_first_seen(first, elapsed):
    assert persistence_s(first, first + elapsed) == elapsed / 1000
