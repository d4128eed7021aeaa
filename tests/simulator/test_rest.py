"""REST endpoints over real HTTP: payloads, weights, limits, 429 -> 418, bad parameters, injected faults."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from decimal import Decimal

import httpx
import pytest

from apps.simulator.server import BinanceSimulator
from tests.simulator.conftest import connect, next_depth

MINUTE_START = 1_800_000_000.0  # a multiple of 60: tests run far from a minute boundary


@pytest.fixture
async def limited_sim():
    t0 = time.monotonic()
    simulator = BinanceSimulator(
        depth_interval_s=0.05,
        random_fast_moves=False,
        weight_limit_1m=60,
        ban_s=7.0,
        clock=lambda: MINUTE_START + (time.monotonic() - t0),
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def test_depth_snapshot_shape_limits_and_weights(sim, rest):
    used = 0
    for limit, weight, levels in (
        (None, 5, 100),
        (5, 5, 5),
        (101, 25, 101),
        (600, 50, 600),
        (5000, 250, None),
    ):
        params = {"symbol": "BTCEUR"} | ({"limit": limit} if limit else {})
        response = await rest.get("/api/v3/depth", params=params)
        assert response.status_code == 200
        used += weight
        assert int(response.headers["X-MBX-USED-WEIGHT-1M"]) == used
        body = response.json()
        assert set(body) == {"lastUpdateId", "bids", "asks"}
        if levels is not None:
            assert len(body["bids"]) == len(body["asks"]) == levels
        bids = [Decimal(p) for p, _ in body["bids"]]
        asks = [Decimal(p) for p, _ in body["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks) and bids[0] < asks[0]
    assert [r.weight for r in sim.rest_log] == [5, 5, 25, 50, 250]
    assert [r.status for r in sim.rest_log] == [200] * 5


async def test_depth_limit_above_5000_is_truncated(sim, rest):
    body = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 9000})).json()
    truth_bids, truth_asks = sim.truth_at(body["lastUpdateId"])
    assert len(body["bids"]) == min(len(truth_bids), 5000) and len(body["asks"]) == min(len(truth_asks), 5000)
    assert sim.rest_log[-1].weight == 250


@pytest.mark.parametrize(
    "path, params, code",
    [
        ("/api/v3/depth", {}, -1102),
        ("/api/v3/depth", {"symbol": "ETHEUR"}, -1121),
        ("/api/v3/depth", {"symbol": "BTCEUR", "limit": "abc"}, -1100),
        ("/api/v3/depth", {"symbol": "BTCEUR", "limit": "0"}, -1130),
        ("/api/v3/klines", {"symbol": "BTCEUR"}, -1102),
        ("/api/v3/klines", {"symbol": "BTCEUR", "interval": "7m"}, -1120),
        ("/api/v3/klines", {"symbol": "BTCEUR", "interval": "1h", "limit": "1001"}, -1130),
        ("/api/v3/klines", {"symbol": "BTCEUR", "interval": "1h", "startTime": "x"}, -1100),
        ("/api/v3/exchangeInfo", {"symbol": "NOPE"}, -1121),
    ],
)
async def test_bad_parameters_get_binance_errors(rest, path, params, code):
    response = await rest.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert "X-MBX-USED-WEIGHT-1M" in response.headers


async def test_ping_and_exchange_info(rest):
    ping = await rest.get("/api/v3/ping")
    assert ping.status_code == 200 and ping.json() == {}
    assert ping.headers["X-MBX-USED-WEIGHT-1M"] == "1"
    info = await rest.get("/api/v3/exchangeInfo", params={"symbol": "BTCEUR"})
    assert info.headers["X-MBX-USED-WEIGHT-1M"] == "21"
    (symbol,) = info.json()["symbols"]
    filters = {f["filterType"]: f for f in symbol["filters"]}
    assert symbol["symbol"] == "BTCEUR"
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"


async def test_klines_history_and_live_candle(sim, rest):
    rows = (await rest.get("/api/v3/klines", params={"symbol": "BTCEUR", "interval": "1h"})).json()
    assert len(rows) == 500  # default limit, newest last (the live candle)
    assert sim.rest_log[-1].weight == 2
    for row in rows:
        assert len(row) == 12 and row[6] - row[0] == 3_599_999
        o, h, low, c = (Decimal(x) for x in row[1:5])
        assert low <= min(o, c) <= max(o, c) <= h
    for earlier, later in itertools.pairwise(rows):
        assert later[0] - earlier[0] == 3_600_000
        assert later[1] == earlier[4]  # open = previous close
    assert rows[-1][0] == sim.candles.live.open_ms
    assert Decimal(rows[-2][4]) == Decimal("87000.00")  # the history ends at the start price
    everything = (
        await rest.get(
            "/api/v3/klines", params={"symbol": "BTCEUR", "interval": "1h", "limit": 1000, "startTime": 0}
        )
    ).json()
    assert len(everything) == 1000 and everything[0][0] == rows[-1][0] - 2000 * 3_600_000
    window = (
        await rest.get(
            "/api/v3/klines",
            params={"symbol": "BTCEUR", "interval": "1h", "startTime": rows[10][0], "endTime": rows[14][0]},
        )
    ).json()
    assert [r[0] for r in window] == [r[0] for r in rows[10:15]]


async def test_close_candle_closes_the_hour_and_opens_the_next(sim, rest):
    live_open = sim.candles.live.open_ms
    async with connect(f"{sim.ws_url}/ws/btceur@kline_1h") as ws:
        sim.close_candle()
        for _ in range(50):
            message = await next_kline(ws)
            if message["k"]["x"]:
                break
    assert message["k"]["t"] == live_open
    rows = (
        await rest.get("/api/v3/klines", params={"symbol": "BTCEUR", "interval": "1h", "limit": 2})
    ).json()
    assert [r[0] for r in rows] == [live_open, live_open + 3_600_000]


async def next_kline(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_weight_limit_gives_429_then_418_inside_retry_after(limited_sim):
    async with httpx.AsyncClient(base_url=limited_sim.rest_url) as client:
        statuses = []
        for _ in range(3):  # 3 x 25 = 75 > 60
            response = await client.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 200})
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429]
        assert response.json()["code"] == -1003
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        banned = await client.get("/api/v3/ping")
        assert banned.status_code == 418
        assert int(banned.headers["Retry-After"]) == 7
        assert (await client.get("/api/v3/ping")).status_code == 418
    assert [r.status for r in limited_sim.rest_log] == [200, 200, 429, 418, 418]
    assert [r.used_weight_1m for r in limited_sim.rest_log] == [25, 50, 75, 76, 77]


async def test_injected_429_window_and_later_recovery(sim, rest):
    sim.rest_fault("429", retry_after=0.3)
    first = await rest.get("/api/v3/ping")
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert (await rest.get("/api/v3/ping")).status_code == 418  # inside the window: escalated
    assert sim.rest_log[0].fault == "429" and sim.rest_log[1].status == 418


async def test_injected_500_error_body_and_path_filter(sim, rest):
    sim.rest_fault("500", path="/api/v3/depth")
    sim.rest_fault("error_body", path="/api/v3/depth")
    assert (await rest.get("/api/v3/ping")).status_code == 200  # other paths unaffected
    failed = await rest.get("/api/v3/depth", params={"symbol": "BTCEUR"})
    assert failed.status_code == 500 and failed.json()["code"] == -1000
    error_body = await rest.get("/api/v3/depth", params={"symbol": "BTCEUR"})
    assert error_body.status_code == 200 and error_body.json()["code"] == -1003
    ok = await rest.get("/api/v3/depth", params={"symbol": "BTCEUR"})
    assert ok.status_code == 200 and "lastUpdateId" in ok.json()


async def test_injected_500_times_then_418_ban(sim, rest):
    sim.rest_fault("500", times=2)
    assert [(await rest.get("/api/v3/ping")).status_code for _ in range(3)] == [500, 500, 200]
    sim.rest_fault("418", retry_after=30)
    response = await rest.get("/api/v3/ping")
    assert response.status_code == 418 and response.headers["Retry-After"] == "30"
    again = await rest.get("/api/v3/ping")  # still banned: the window is real
    assert again.status_code == 418 and 1 <= int(again.headers["Retry-After"]) <= 30


async def test_injected_timeout_outlasts_the_client_timeout(sim):
    sim.rest_fault("timeout", delay_s=1.0)
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=0.2) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.get("/api/v3/depth", params={"symbol": "BTCEUR"})
        assert (await client.get("/api/v3/ping")).status_code == 200
    assert sim.rest_log[0].fault == "timeout"


async def test_snapshot_is_consistent_with_the_stream(sim, rest):
    async with connect(f"{sim.ws_url}/ws/btceur@depth@100ms") as ws:
        event = await next_depth(ws)
        body = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 20})).json()
    assert body["lastUpdateId"] >= event["u"]
    truth_bids, truth_asks = sim.truth_top(body["lastUpdateId"], 20)
    assert [[Decimal(p), Decimal(q)] for p, q in body["bids"]] == [list(level) for level in truth_bids]
    assert [[Decimal(p), Decimal(q)] for p, q in body["asks"]] == [list(level) for level in truth_asks]
