"""5m and 15m klines of the simulator: derived from the 1h history so every interval agrees, served by
GET /api/v3/klines and the kline_5m / kline_15m streams the way Binance serves them."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from apps.simulator.intraday import IntradaySeries, merge_candles, split_hour
from apps.simulator.klines import HOUR_MS, CandleSeries
from tests.simulator.conftest import connect, recv_json

START_MS = 1_800_000_123_456 + 37 * 60_000  # 37 minutes into an hour
FIVE_MS = 300_000
FIFTEEN_MS = 900_000


def series(interval_ms: int, hours: int = 30) -> tuple[CandleSeries, IntradaySeries]:
    hourly = CandleSeries(seed=3, start_price_ticks=8_700_000, start_ms=START_MS, history_hours=hours)
    intraday = IntradaySeries(
        hourly.closed, interval_ms, seed=3, start_ms=START_MS, start_price_ticks=hourly.live.open
    )
    return hourly, intraday


def test_an_hour_splits_into_twelve_5m_candles_that_make_it_up_exactly():
    hourly, _ = series(FIVE_MS)
    for hour in hourly.closed:
        pieces = split_hour(hour, seed=3)
        assert [p.open_ms for p in pieces] == [hour.open_ms + i * FIVE_MS for i in range(12)]
        assert pieces[0].open == hour.open and pieces[-1].close == hour.close
        assert all(later.open == earlier.close for earlier, later in itertools.pairwise(pieces))
        assert max(p.high for p in pieces) == hour.high and min(p.low for p in pieces) == hour.low
        assert all(p.low <= min(p.open, p.close) <= max(p.open, p.close) <= p.high for p in pieces)
        assert sum(p.volume for p in pieces) == hour.volume
        assert sum(p.trades for p in pieces) == hour.trades
        assert all(p.close_ms - p.open_ms == FIVE_MS - 1 for p in pieces)
        merged = merge_candles(pieces, HOUR_MS)
        assert (merged.open, merged.high, merged.low, merged.close, merged.volume) == (
            hour.open,
            hour.high,
            hour.low,
            hour.close,
            hour.volume,
        )
    assert split_hour(hourly.closed[5], seed=3) == split_hour(hourly.closed[5], seed=3)


def test_15m_history_is_three_5m_candles_and_every_series_ends_at_the_start_price():
    hourly, fives = series(FIVE_MS)
    _, fifteens = series(FIFTEEN_MS)
    five, fifteen = fives.closed, fifteens.closed
    origin = START_MS - START_MS % HOUR_MS
    # 30 hours of history, then the start hour up to the start (37 minutes: 7 x 5m, 2 x 15m), flat
    assert len(five) == 30 * 12 + 7 and len(fifteen) == 30 * 4 + 2
    assert five[0].open_ms == hourly.closed[0].open_ms and five[30 * 12].open_ms == origin
    for candle in fifteen[: 30 * 4]:
        i = (candle.open_ms - five[0].open_ms) // FIVE_MS
        assert candle == merge_candles(five[i : i + 3], FIFTEEN_MS)
    for earlier, later in itertools.pairwise(five):
        assert later.open_ms - earlier.open_ms == FIVE_MS and later.open == earlier.close
    flat = five[30 * 12 :]
    assert {(c.open, c.high, c.low, c.close, c.volume) for c in flat} == {(8_700_000,) * 4 + (0,)}
    assert fives.live.open_ms == START_MS - START_MS % FIVE_MS and fives.live.open == 8_700_000
    assert fifteens.live.open_ms == START_MS - START_MS % FIFTEEN_MS


def test_live_5m_candle_folds_trades_and_closes_on_its_own_clock():
    _, fives = series(FIVE_MS, hours=2)
    live = fives.live
    fives.on_trade(8_700_500, 1_000, True, 10, 11)
    assert (fives.live.high, fives.live.close, fives.live.volume) == (8_700_500, 8_700_500, 1_000)
    assert fives.roll(live.open_ms + FIVE_MS - 1) == []
    (closed,) = fives.roll(live.open_ms + FIVE_MS)
    assert closed.closed and closed.open_ms == live.open_ms and closed.close == 8_700_500
    assert fives.live.open_ms == live.open_ms + FIVE_MS and fives.live.open == 8_700_500
    forced = fives.force_close()
    assert forced.open_ms == live.open_ms + FIVE_MS and fives.closed[-1] == forced


def test_query_selects_by_open_time_like_binance():
    _, fives = series(FIVE_MS, hours=5)
    everything = [*fives.closed, fives.live]
    assert fives.query(None, None, 5) == everything[-5:]
    assert fives.query(everything[3].open_ms, None, 2) == everything[3:5]
    assert fives.query(everything[3].open_ms + 1, None, 2) == everything[4:6]  # startTime rounds up
    assert fives.query(None, everything[10].open_ms, 3) == everything[8:11]
    assert fives.query(0, None, 1000) == everything[:1000]
    assert fives.query(None, everything[0].open_ms - 1, 10) == []
    assert fives.query(everything[-1].open_ms + 1, None, 10) == []


async def test_rest_klines_serve_5m_and_15m(sim, rest):
    for interval, step in (("5m", FIVE_MS), ("15m", FIFTEEN_MS)):
        rows = (await rest.get("/api/v3/klines", params={"symbol": "BTCEUR", "interval": interval})).json()
        assert len(rows) == 500 and sim.rest_log[-1].weight == 2
        assert all(row[6] - row[0] == step - 1 for row in rows)
        assert all(later[0] - earlier[0] == step for earlier, later in itertools.pairwise(rows))
        assert rows[-1][0] == sim.intraday[interval].live.open_ms
        first = (
            await rest.get(
                "/api/v3/klines",
                params={"symbol": "BTCEUR", "interval": interval, "startTime": 0, "limit": 1000},
            )
        ).json()
        assert len(first) == 1000 and first[0][0] == sim.candles.closed[0].open_ms
        o, h, low, c = (Decimal(x) for x in first[0][1:5])
        assert low <= min(o, c) <= max(o, c) <= h
    bad = await rest.get("/api/v3/klines", params={"symbol": "BTCEUR", "interval": "3m"})
    assert bad.status_code == 400 and bad.json()["code"] == -1120
    assert "interval=1h, 5m, 15m only" in bad.json()["msg"]


@pytest.mark.parametrize("interval, step", [("5m", FIVE_MS), ("15m", FIFTEEN_MS)])
async def test_kline_stream_sends_the_live_candle_and_the_close(sim, rest, interval, step):
    live_open = sim.intraday[interval].live.open_ms
    async with connect(f"{sim.ws_url}/stream?streams=btceur@kline_{interval}") as ws:
        first = await recv_json(ws, timeout=5)  # the live candle goes out every 2 s
        assert first["stream"] == f"btceur@kline_{interval}"
        assert first["data"]["k"]["i"] == interval and first["data"]["k"]["t"] == live_open
        answer = await rest.post("/sim/control", json={"action": "close_candle", "interval": interval})
        assert answer.json()["result"] == live_open
        for _ in range(10):
            k = (await recv_json(ws, timeout=5))["data"]["k"]
            if k["x"]:
                break
        assert (k["t"], k["T"], k["i"]) == (live_open, live_open + step - 1, interval)
    bad = await rest.post("/sim/control", json={"action": "close_candle", "interval": "2h"})
    assert bad.status_code == 400 and "interval" in bad.json()["error"]
