"""Pure pieces: candle history/live/closing rules and the 8-decimal wire formatting."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from apps.simulator.faults import DepthStream
from apps.simulator.klines import HOUR_MS, CandleSeries
from apps.simulator.wire import WireDepth, depth_update, fmt_price, fmt_qty, fmt_quote, merge_depth

START_MS = 1_800_000_123_456


def test_history_chains_and_ends_at_the_start_price():
    series = CandleSeries(seed=4, start_price_ticks=8_700_000, start_ms=START_MS, history_hours=300)
    closed = series.closed
    assert len(closed) == 300 and all(c.closed for c in closed)
    assert closed[-1].close == 8_700_000 and series.live.open == 8_700_000
    assert series.live.open_ms == START_MS - START_MS % HOUR_MS == closed[-1].open_ms + HOUR_MS
    for earlier, later in itertools.pairwise(closed):
        assert later.open_ms - earlier.open_ms == HOUR_MS and later.open == earlier.close
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in closed)
    again = CandleSeries(seed=4, start_price_ticks=8_700_000, start_ms=START_MS, history_hours=300)
    assert again.closed == closed


def test_live_candle_folds_trades_and_closes_on_the_hour_or_on_request():
    series = CandleSeries(seed=1, start_price_ticks=1_000_000, start_ms=START_MS, history_hours=10)
    series.on_trade(1_000_500, 200_000, True, 10, 12)
    series.on_trade(999_000, 100_000, False, 13, 13)
    live = series.live
    assert (live.open, live.high, live.low, live.close) == (1_000_000, 1_000_500, 999_000, 999_000)
    assert live.volume == 300_000 and live.trades == 4 and live.taker_base == 200_000
    assert (live.first_trade_id, live.last_trade_id) == (10, 13)
    assert series.roll(live.open_ms + HOUR_MS - 1) == []
    (closed,) = series.roll(live.open_ms + HOUR_MS)
    assert closed.closed and closed.close == 999_000 and series.live.open == 999_000
    forced = series.force_close()
    assert forced.open_ms == closed.open_ms + HOUR_MS
    assert series.live.open_ms == forced.open_ms + HOUR_MS and series.live.trades == 0


def test_query_selects_by_open_time_like_binance():
    series = CandleSeries(seed=1, start_price_ticks=1_000_000, start_ms=START_MS, history_hours=50)
    everything = [*series.closed, series.live]
    assert series.query(None, None, 5) == everything[-5:]
    assert series.query(everything[3].open_ms, None, 2) == everything[3:5]
    assert series.query(None, everything[10].open_ms, 3) == everything[8:11]


@pytest.mark.parametrize(
    "value, text",
    [
        (fmt_price(8_700_001), "87000.01000000"),
        (fmt_price(10_000_000), "100000.00000000"),
        (fmt_price(1), "0.01000000"),
        (fmt_qty(1), "0.00001000"),
        (fmt_qty(0), "0.00000000"),
        (fmt_qty(123_456_789), "1234.56789000"),
        (fmt_quote(12_345_678), "1.23456780"),
    ],
)
def test_eight_decimal_strings(value, text):
    assert value == text


def test_depth_stream_batches_and_applies_faults_in_order():
    events = [WireDepth(i * 10 + 1, i * 10 + 10, i, ((100 + i, 5),), ()) for i in range(8)]
    stream = DepthStream("depth", every_ticks=2)
    assert stream.on_tick(events[0]) == []
    (merged,) = stream.on_tick(events[1])
    assert (merged.first_id, merged.final_id) == (1, 20) and merged == merge_depth(events[:2])
    fast = DepthStream("depth@100ms", every_ticks=1)
    assert fast.on_tick(events[0]) == [events[0]]
    fast.gap_ids_left = 15
    assert fast.on_tick(events[1]) == [] and fast.on_tick(events[2]) == []
    assert fast.on_tick(events[3]) == [events[3]]
    fast.duplicates = 1
    assert fast.on_tick(events[4]) == [events[4], events[4]]
    fast.overlaps = 1
    (overlap,) = fast.on_tick(events[5])
    assert (overlap.first_id, overlap.final_id) == (41, 60)
    fast.old_events = 1
    assert fast.on_tick(events[6]) == [events[6], events[5]]
    fast.bad_quantities.append("NaN")
    (bad,) = fast.on_tick(events[7])
    assert bad == replace(events[7], bad_qty="NaN") and fast.sent[-1] == events[7]
    assert depth_update("BTCEUR", bad)["b"] == [["1.07000000", "NaN"]]
    assert fast.on_tick(None) == []
