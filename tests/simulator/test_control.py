"""HTTP control/truth/state endpoints for other processes; connection lifetime and keepalive."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed

from apps.simulator.server import BinanceSimulator
from tests.simulator.conftest import DEPTH, connect, next_depth, recv_json


async def control(rest, **body):
    return await rest.post("/sim/control", json=body)


async def test_control_places_and_pulls_a_wall_visible_in_truth(sim, rest):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        price = (sim.market.best_bid - Decimal("15.00")).quantize(Decimal("0.01"))
        placed = await control(rest, action="place_wall", side="bid", price=str(price), qty="12.5")
        assert placed.status_code == 200
        wall_id = placed.json()["result"]
        for _ in range(500):  # the wall shows up in the stream
            event = await next_depth(ws)
            if any(Decimal(p) == price and Decimal(q) >= Decimal("12.5") for p, q in event["b"]):
                break
        else:
            pytest.fail("wall never appeared")
        truth = (await rest.get("/sim/truth", params={"update_id": event["u"], "limit": 5000})).json()
        assert truth["update_id"] == event["u"]
        assert Decimal(dict(truth["bids"])[f"{price}000000"]) >= Decimal("12.5")
        assert (await control(rest, action="pull_wall", wall_id=wall_id)).status_code == 200
        for _ in range(500):
            event = await next_depth(ws)
            if any(Decimal(p) == price for p, _ in event["b"]):
                break
        else:
            pytest.fail("pulled wall never changed the level")
    state = (await rest.get("/sim/state")).json()
    assert {w["wall_id"]: w["state"] for w in state["walls"]}[wall_id] == "pulled"


async def test_control_fault_actions_arm_real_faults(sim, rest):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        before = await next_depth(ws)
        assert (await control(rest, action="inject_gap", skip_ids=30)).json()["ok"] is True
        event = await next_depth(ws)
        while event["U"] == before["u"] + 1:
            before, event = event, await next_depth(ws)
        assert event["U"] > before["u"] + 1
        response = await control(rest, action="disconnect", mode="going_away")
        assert response.json()["result"] == 1
        with pytest.raises(ConnectionClosed):
            for _ in range(1000):
                await recv_json(ws)
    for body in (
        {"action": "inject_duplicate"},
        {"action": "inject_overlap"},
        {"action": "inject_old_event"},
        {"action": "inject_bad_quantity", "qty": "NaN"},
        {"action": "snapshot_stale", "times": 1},
        {"action": "ws_lag", "seconds": 0.01},
        {"action": "stall", "seconds": 0.01},
        {"action": "inject_frame", "kind": "unknown_event"},
        {"action": "rest_fault", "kind": "500", "times": 1, "path": "/api/v3/klines"},
        {"action": "fast_move", "direction": "up", "distance": "5.00"},
        {"action": "close_candle"},
    ):
        response = await control(rest, **body)
        assert response.status_code == 200, response.text
    state = (await rest.get("/sim/state")).json()
    assert state["counters"]["fault_gap"] == 1 and state["counters"]["fault_rest_500"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "explode"}, "action"),
        ({}, "action"),
        ({"action": "inject_gap", "skip_ids": "five"}, "skip_ids"),
        ({"action": "inject_gap", "skip_ids": 0}, "skip_ids"),
        ({"action": "inject_gap", "oops": 1}, "oops"),
        ({"action": "place_wall", "side": "bid", "price": "1.001", "qty": "1"}, "tick"),
        ({"action": "place_wall", "side": "bid", "qty": "1"}, "price"),
        ({"action": "pull_wall", "wall_id": "nope"}, "nope"),
        ({"action": "disconnect", "mode": "politely"}, "mode"),
        ({"action": "inject_frame", "kind": "weird"}, "kind"),
        ({"action": "inject_bad_quantity", "qty": ""}, "qty"),
        ({"action": "inject_bad_quantity", "qty": 1e25}, "qty"),
        ({"action": "rest_fault", "kind": "503"}, "kind"),
        ({"action": "fast_move", "direction": "up", "distance": "abc"}, "distance"),
    ],
)
async def test_bad_control_input_is_a_400_naming_the_field(sim, rest, body, field):
    response = await rest.post("/sim/control", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]


async def test_control_rejects_non_json(rest):
    response = await rest.post(
        "/sim/control", content=b"not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "body" in response.json()["error"]


async def test_truth_endpoint_refuses_ids_outside_history(sim, rest):
    response = await rest.get("/sim/truth", params={"update_id": 5})
    assert response.status_code == 400 and "update_id" in response.json()["error"]
    response = await rest.get("/sim/truth", params={"update_id": "x"})
    assert response.status_code == 400 and "update_id" in response.json()["error"]
    current = (await rest.get("/sim/truth", params={"limit": 3})).json()
    assert len(current["bids"]) == 3 and current["update_id"] >= sim.market.oldest_update_id


async def test_state_reports_mid_and_connections(sim, rest):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        state = (await rest.get("/sim/state")).json()
    assert state["connections"] == 1 and state["symbol"] == "BTCEUR"
    assert Decimal(state["best_bid"]) < Decimal(state["mid"]) < Decimal(state["best_ask"])


async def test_connections_close_at_max_age_and_pings_are_sent():
    async with BinanceSimulator(depth_interval_s=0.05, max_connection_age_s=0.6, ping_interval_s=0.1) as sim:
        async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
            await sim.wait_for_connections(1)
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await recv_json(ws, timeout=3)
            assert info.value.rcvd.code == 1001
            assert "max connection age" in info.value.rcvd.reason
        assert sim.pings_answered >= 2  # keepalive pings went out every 0.1 s and the client answered


async def test_wait_for_connections_times_out(sim):
    with pytest.raises(TimeoutError):
        await sim.wait_for_connections(1, timeout=0.1)
    await asyncio.sleep(0)
