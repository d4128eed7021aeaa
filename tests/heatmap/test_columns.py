"""Column accumulation: time weighting, live cycles only, absent (not 0) bins, the fixed grid;
aggregation to coarser resolutions; the stored form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apps.heatmap.domain.aggregate import aggregate_columns
from apps.heatmap.domain.binned_book import BookPicture, SideBins
from apps.heatmap.domain.columns import ColumnBuilder, FinishedColumn, SideColumn
from apps.heatmap.domain.grid import HeatmapParams, column_start, cycle_weight_ms
from apps.heatmap.domain.packing import ColumnRows, stored_row

PARAMS = HeatmapParams(column_s=60, publish_interval_ms=1000)
T0_MS = 1_796_162_400_000  # a column boundary


def pic(bid_first: int, bids: list[float], ask_first: int, asks: list[float]) -> BookPicture:
    return BookPicture(SideBins(bid_first, tuple(bids)), SideBins(ask_first, tuple(asks)))


def values(array: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else round(float(v), 5) for v in array]


def finish(builder: ColumnBuilder, at_ms: int) -> FinishedColumn:
    column = builder.cycle(at_ms, None)
    assert column is not None
    return column


def test_a_bin_mean_is_weighted_by_how_long_each_picture_stood():
    builder = ColumnBuilder(PARAMS)
    assert builder.cycle(T0_MS + 1000, pic(10, [1.0], 12, [4.0])) is None  # first: one interval
    assert builder.cycle(T0_MS + 3000, pic(10, [3.0], 12, [4.0])) is None  # 2 s later: weight 2000
    assert builder.cycle(T0_MS + 9000, pic(10, [5.0], 12, [4.0])) is None  # 6 s gap, capped at 2 s
    column = finish(builder, T0_MS + 60_000)
    assert column.t == T0_MS // 1000 and column.live_cycles == 3
    assert values(column.bid.mean) == [round((1 * 1000 + 3 * 2000 + 5 * 2000) / 5000, 5)]
    assert values(column.bid.peak) == [5.0] and values(column.ask.mean) == [4.0]


def test_cycles_while_the_book_is_not_live_are_not_counted():
    builder = ColumnBuilder(PARAMS)
    builder.cycle(T0_MS + 1000, pic(10, [2.0], 12, [1.0]))
    for second in range(2, 30):  # an outage: 28 cycles without a live book
        builder.cycle(T0_MS + second * 1000, None)
    builder.cycle(T0_MS + 30_000, pic(10, [8.0], 12, [1.0]))  # weighs one interval, not the outage
    column = finish(builder, T0_MS + 61_000)
    assert column.live_cycles == 2
    assert values(column.bid.mean) == [5.0] and values(column.bid.peak) == [8.0]


def test_a_column_without_a_live_cycle_is_never_written():
    builder = ColumnBuilder(PARAMS)
    for second in range(0, 200, 1):
        assert builder.cycle(T0_MS + second * 1000, None) is None


def test_bins_on_the_fixed_grid_absent_where_no_cycle_observed_them():
    builder = ColumnBuilder(PARAMS)
    builder.cycle(T0_MS + 1000, pic(10, [1.0, 2.0], 20, [7.0]))
    builder.cycle(T0_MS + 2000, pic(13, [4.0], 21, [6.0, 2.0]))  # mid moved: other bins observed
    column = finish(builder, T0_MS + 60_000)
    # bin 12 was never observed: absent (null), never 0; bins 10, 11 only in the first cycle
    assert column.bid.first == 10 and values(column.bid.mean) == [1.0, 2.0, None, 4.0]
    assert values(column.bid.peak) == [1.0, 2.0, None, 4.0]
    assert column.ask.first == 20 and values(column.ask.mean) == [7.0, 6.0, 2.0]


def test_a_side_with_no_trusted_bin_stays_empty_and_the_other_side_counts():
    builder = ColumnBuilder(PARAMS)
    builder.cycle(T0_MS + 1000, pic(10, [], 12, [3.0]))
    column = finish(builder, T0_MS + 60_000)
    assert column.bid.count == 0 and values(column.ask.mean) == [3.0]


def test_the_cycle_in_the_next_column_finishes_the_open_one():
    builder = ColumnBuilder(PARAMS)
    for second in range(60):
        assert builder.cycle(T0_MS + second * 1000, pic(10, [1.0], 12, [1.0])) is None
    column = builder.cycle(T0_MS + 60_000, pic(10, [9.0], 12, [1.0]))
    assert column is not None and column.live_cycles == 60 and values(column.bid.mean) == [1.0]
    assert builder.open is not None and builder.open.t == T0_MS // 1000 + 60


def column(
    t: int, cycles: int, bid_first: int, bid_mean: list[float], bid_peak: list[float]
) -> FinishedColumn:
    f32 = np.float32
    bid = SideColumn(bid_first, np.array(bid_mean, dtype=f32), np.array(bid_peak, dtype=f32))
    ask = SideColumn(20, np.array([1.0], dtype=f32), np.array([2.0], dtype=f32))
    return FinishedColumn(t, cycles, bid, ask)


NAN = float("nan")


def test_the_stored_form_round_trips():
    original = [column(60, 60, 10, [1.5, NAN, 2.25], [2.0, NAN, 3.0]), column(120, 12, 7, [], [])]
    rows = ColumnRows.from_rows([stored_row(c) for c in original])
    for i, c in enumerate(original):
        again = rows.column(i)
        assert (again.t, again.live_cycles, again.bid.count, again.ask.first) == (
            c.t,
            c.live_cycles,
            c.bid.count,
            c.ask.first,
        )
        assert again.bid.count == 0 or again.bid.first == c.bid.first
        assert values(again.bid.mean) == values(c.bid.mean) and values(again.bid.peak) == values(c.bid.peak)
        assert values(again.ask.mean) == [1.0]


def test_aggregation_weights_means_by_live_cycles_over_the_columns_that_observed_a_bin():
    stored = [
        column(3600, 60, 10, [1.0, 2.0], [1.5, 2.5]),
        column(3660, 30, 11, [4.0, NAN, 6.0], [4.0, NAN, 7.0]),  # bin 12 absent here
        column(3720, 60, 12, [3.0], [3.0]),
        column(7200, 60, 10, [9.0], [9.0]),  # the next hour
    ]
    out = aggregate_columns(ColumnRows.from_rows([stored_row(c) for c in stored]), 3600)
    assert [(c.t, c.live_cycles) for c in out] == [(3600, 150), (7200, 60)]
    first = out[0]
    assert first.bid.first == 10
    assert values(first.bid.mean) == [1.0, round((2 * 60 + 4 * 30) / 90, 5), 3.0, 6.0]
    assert values(first.bid.peak) == [1.5, 4.0, 3.0, 7.0]
    assert values(first.ask.mean) == [1.0] and first.ask.first == 20
    assert values(out[1].bid.mean) == [9.0]


@pytest.mark.parametrize("resolution", [60, 120, 300])
def test_aggregation_agrees_with_a_plain_reference(resolution):
    rng = np.random.default_rng(resolution)
    stored = []
    for i in range(40):
        first = int(rng.integers(0, 6))
        n = int(rng.integers(0, 6))
        mean = rng.uniform(0, 10, n)
        mean[rng.uniform(size=n) < 0.2] = np.nan
        stored.append(column(i * 60, int(rng.integers(1, 61)), first, mean.tolist(), (mean * 1.5).tolist()))
    out = {
        c.t: c for c in aggregate_columns(ColumnRows.from_rows([stored_row(c) for c in stored]), resolution)
    }
    for start in sorted({c.t - c.t % resolution for c in stored}):
        members = [c for c in stored if c.t - c.t % resolution == start]
        sums: dict[int, list[float]] = {}
        for c in members:
            for j, (m, p) in enumerate(zip(c.bid.mean.tolist(), c.bid.peak.tolist(), strict=True)):
                if not math.isnan(m):
                    entry = sums.setdefault(c.bid.first + j, [0.0, 0.0, -1.0])
                    entry[0] += c.live_cycles * m
                    entry[1] += c.live_cycles
                    entry[2] = max(entry[2], p)
        got = out[start]
        assert got.live_cycles == sum(c.live_cycles for c in members)
        expected = {k: (w / n, p) for k, (w, n, p) in sums.items()}
        seen = {
            got.bid.first + j: (m, p)
            for j, (m, p) in enumerate(zip(got.bid.mean.tolist(), got.bid.peak.tolist(), strict=True))
            if not math.isnan(m)
        }
        assert seen.keys() == expected.keys()
        for k, (m, p) in expected.items():
            assert seen[k][0] == pytest.approx(m, rel=1e-6) and seen[k][1] == pytest.approx(p, rel=1e-6)


def sequential_sums(cycles: list[tuple[int, SideBins]]) -> tuple[int, list[list[float]]] | None:
    """The column rule applied one cycle at a time, in plain Python floats: from the lowest bin
    observed, per bin [sum(weight x qty), sum(weight), largest qty] ([0, 0, -1]: never observed)."""
    sums: dict[int, list[float]] = {}
    for weight_ms, bins in cycles:
        for i, qty in enumerate(bins.qty):
            entry = sums.setdefault(bins.first + i, [0.0, 0.0, -1.0])
            entry[0] += qty * weight_ms
            entry[1] += weight_ms
            entry[2] = qty if qty > entry[2] else entry[2]
    if not sums:
        return None
    first, last = min(sums), max(sums)
    return first, [sums.get(k, [0.0, 0.0, -1.0]) for k in range(first, last + 1)]


@pytest.mark.parametrize("seed", range(6))
def test_a_column_equals_adding_its_cycles_one_at_a_time(seed):
    """Pictures wait in the open column and are summed in bulk (at the end, or a few at a time in a
    long column): bit for bit what adding each cycle as it came gives."""
    rng = np.random.default_rng(seed)
    params = HeatmapParams(column_s=[10, 60, 300][seed % 3], publish_interval_ms=[250, 1000][seed % 2])
    builder = ColumnBuilder(params)
    now, previous, open_t, checked = T0_MS, None, None, 0
    cycles: dict[str, list[tuple[int, SideBins]]] = {"bid": [], "ask": []}
    bid_first, ask_first, width = 100, 140, 30
    for _ in range(1500):
        now += int(rng.choice([250, 1000, 1000, 3000]))
        if rng.random() < 0.05:  # the band moves, or narrows
            bid_first, ask_first = bid_first + int(rng.integers(-2, 3)), ask_first + int(rng.integers(-2, 3))
            width = max(0, width + int(rng.integers(-2, 3)))
        picture = None
        if rng.random() > 0.05:  # live
            quantities = np.round(rng.uniform(0, 50, 2 * width), int(rng.integers(0, 9))).tolist()
            picture = pic(bid_first, quantities[:width], ask_first, quantities[width:])
        column = builder.open
        finished = builder.cycle(now, picture)
        t = column_start(now, params.column_s)
        if open_t is not None and t != open_t:  # this cycle closed (and finished) ``column``
            assert (finished is not None) == any(cycles.values())
            for side in ("bid", "ask") if finished is not None and column is not None else ():
                expected, sums = sequential_sums(cycles[side]), column.sides[side]
                assert (expected is None) == (sums is None)
                if expected is not None and sums is not None:
                    first, rows = expected
                    assert sums.first == first
                    assert [list(r) for r in zip(sums.weighted, sums.weight, sums.peak, strict=True)] == rows
                checked += 1
            cycles = {"bid": [], "ask": []}
        open_t = t
        if picture is not None:
            weight = cycle_weight_ms(now, previous, params.publish_interval_ms)
            cycles["bid"].append((weight, picture.bid))
            cycles["ask"].append((weight, picture.ask))
        previous = now if picture is not None else None
    assert checked > 0
