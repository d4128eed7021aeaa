"""avg_1h: the mean resting quantity of a block's range over the last hour of heatmap columns."""

from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import Side
from apps.confluence.domain.history import (
    block_averages,
    heatmap_bins_of,
    range_average,
    range_averages,
)
from apps.confluence.domain.liquidity import ConfluenceParams, block_range
from apps.heatmap.domain.columns import FinishedColumn, SideColumn
from apps.heatmap.domain.packing import ColumnRows, stored_row

NAN = float("nan")


def column(t, cycles, bid_first, bid_means, ask_first=0, ask_means=()):
    def side(first, means):
        values = np.array(means, dtype=np.float32)
        return SideColumn(first, values, values)

    return stored_row(FinishedColumn(t, cycles, side(bid_first, bid_means), side(ask_first, ask_means)))


def test_the_bins_holding_a_range_are_those_its_prices_fall_in():
    assert heatmap_bins_of(D("86450"), D("86650"), D("50")) == (1729, 1733)
    assert heatmap_bins_of(D("86449.99"), D("86650.01"), D("50")) == (1728, 1733)


def test_the_average_is_weighted_by_live_cycles_over_the_columns_that_saw_every_bin():
    rows = ColumnRows.from_rows(
        [
            column(0, 60, 100, [1.0, 2.0, 3.0, 4.0]),  # bins 100..103
            column(60, 30, 101, [5.0, 6.0, 7.0]),  # bins 101..103: 101..102 seen
            column(120, 60, 100, [1.0, NAN, 3.0, 4.0]),  # bin 101 absent: not counted
            column(180, 60, 102, [1.0, 1.0]),  # bin 101 not in the band then: not counted
        ]
    )
    expected = (60 * (2.0 + 3.0) + 30 * (5.0 + 6.0)) / 90
    assert range_average(rows, Side.BID, 101, 102) == pytest.approx(expected)
    assert range_averages(rows, Side.BID, np.array([101]), np.array([102]))[0] == pytest.approx(expected)
    assert range_average(rows, Side.BID, 90, 91) is None  # outside every column: no data, not 0
    assert np.isnan(range_averages(rows, Side.BID, np.array([90]), np.array([91]))[0])
    assert range_average(rows, Side.ASK, 101, 102) is None
    assert range_average(ColumnRows.from_rows([]), Side.BID, 101, 102) is None


def test_block_averages_use_the_padded_range_on_the_blocks_side():
    params = ConfluenceParams(pad_bins=1)  # bin 50
    rows = [column(0, 10, 1000, [1.0] * 10, 1100, [2.0] * 10)]  # bids 50000..50500, asks 55000..55500
    blocks = [
        block_range("bull", "bullish", D("50100"), D("50200")),  # padded 50050..50250: bins 1001..1005
        block_range("bear", "bearish", D("55100"), D("55200")),
        block_range("far", "bullish", D("40000"), D("40100")),
    ]
    averages = block_averages(rows, blocks, params, D("50"))
    assert averages["bull"] == pytest.approx(5.0) and averages["bear"] == pytest.approx(10.0)
    assert averages["far"] is None


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.integers(1, 120),
            st.integers(0, 20),
            st.lists(st.one_of(st.just(NAN), st.floats(0, 50, width=32)), max_size=15),
        ),
        max_size=8,
    ),
    ranges=st.lists(st.tuples(st.integers(-2, 30), st.integers(0, 6)), min_size=1, max_size=10),
)
def test_the_vectorised_averages_equal_the_plain_loop(data, ranges):
    rows = ColumnRows.from_rows([column(60 * i, c, first, means) for i, (c, first, means) in enumerate(data)])
    firsts = np.array([first for first, _ in ranges])
    lasts = np.array([first + width for first, width in ranges])
    fast = range_averages(rows, Side.BID, firsts, lasts)
    for i, (first, last) in enumerate(zip(firsts.tolist(), lasts.tolist(), strict=True)):
        plain = range_average(rows, Side.BID, first, last)
        assert (plain is None) == bool(np.isnan(fast[i]))
        if plain is not None:
            assert fast[i] == pytest.approx(plain, rel=1e-9, abs=1e-9)
