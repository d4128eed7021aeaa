"""Each injected fault really happens on the wire."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from tests.simulator.conftest import (
    DEPTH,
    apply_event,
    as_levels,
    book_from_snapshot,
    connect,
    next_depth,
    recv_json,
)


async def test_gap_skips_ids(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        before = await next_depth(ws)
        sim.inject_gap(skip_ids=40)
        seen = [before]
        for _ in range(500):
            event = await next_depth(ws)
            if event["U"] != seen[-1]["u"] + 1:
                break
            seen.append(event)
        else:
            pytest.fail("no gap seen")
        assert event["U"] - seen[-1]["u"] - 1 >= 40
        # after the gap the stream is continuous again
        following = await next_depth(ws)
        assert following["U"] == event["u"] + 1


async def test_duplicate_sends_the_same_event_twice(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        await sim.inject_duplicate()
        previous = await next_depth(ws)
        for _ in range(20):
            event = await next_depth(ws)
            if event == previous:
                break
            assert event["U"] == previous["u"] + 1
            previous = event
        else:
            pytest.fail("no duplicate seen")
        assert (await next_depth(ws))["U"] == event["u"] + 1


async def test_overlap_event_covers_sent_ids_with_true_quantities(sim, rest):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        first = await next_depth(ws)
        snapshot = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 5000})).json()
        bids, asks = book_from_snapshot(snapshot)
        last_id = snapshot["lastUpdateId"]
        event = first
        while event["u"] <= last_id:
            event = await next_depth(ws)
        apply_event(bids, asks, event)
        last_id = event["u"]
        sim.inject_overlap()
        overlapped = False
        for _ in range(20):
            event = await next_depth(ws)
            if event["U"] <= last_id:
                assert event["u"] > last_id
                overlapped = True
            else:
                assert event["U"] == last_id + 1
            apply_event(bids, asks, event)
            last_id = event["u"]
            assert as_levels(bids, asks) == sim.truth_at(last_id)
            if overlapped:
                break
        assert overlapped


async def test_old_event_is_resent_after_newer_ones(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        sim.inject_old_event()
        highest = (await next_depth(ws))["u"]
        for _ in range(20):
            event = await next_depth(ws)
            if event["u"] < highest:
                return
            highest = event["u"]
        pytest.fail("no old event seen")


async def test_stale_snapshot_is_older_than_first_buffered_event(sim, rest):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        first = await next_depth(ws)
        while first["U"] - 5 < sim.market.oldest_update_id:  # the market has nothing older to serve yet
            first = await next_depth(ws)
        sim.snapshot_stale(times=2)
        for _ in range(2):
            stale = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 5000})).json()
            assert stale["lastUpdateId"] < first["U"] - 1
            assert as_levels(*book_from_snapshot(stale)) == sim.truth_at(stale["lastUpdateId"])
        fresh = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 5000})).json()
        assert fresh["lastUpdateId"] >= first["u"]


async def test_ws_lag_holds_frames_then_delivers_them_in_order(sim, rest):
    # max_queue=None: the held frames arrive in a burst; do not let client flow control stall the close
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        last = await next_depth(ws)
        sim.ws_lag(0.5)
        # drain whatever was already on the wire, then nothing arrives while lagging
        held_from = time.monotonic()
        snapshot = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 10})).json()
        events = []
        for _ in range(2000):
            event = await next_depth(ws, timeout=3)
            events.append(event)
            if event["u"] >= snapshot["lastUpdateId"]:
                break
        assert time.monotonic() - held_from >= 0.4
        assert events[0]["U"] == last["u"] + 1
        for a, b in itertools.pairwise(events):
            assert b["U"] == a["u"] + 1


async def test_abrupt_disconnect_has_no_close_frame(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        opened = sim.connections_opened
        await sim.disconnect("abrupt")
        with pytest.raises(ConnectionClosedError) as info:
            for _ in range(1000):
                await recv_json(ws)
        assert info.value.rcvd is None  # no close frame received
    assert sim.connections == 0
    # the market keeps moving and a reconnect works
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await sim.wait_for_connections_opened(opened + 1)
        await next_depth(ws)


async def test_going_away_disconnect_sends_1001(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        await sim.disconnect("going_away")
        with pytest.raises(ConnectionClosed) as info:
            for _ in range(1000):
                await recv_json(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001


async def test_stall_stops_frames_and_pongs(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}", ping_interval=None) as ws:
        await next_depth(ws)
        sim.stall(1.0)
        await asyncio.sleep(0)  # let frames already written drain
        pong = await ws.ping()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pong), 0.5)
        # the connection is still open and data resumes after the stall
        await asyncio.wait_for(pong, 2.0)
        await next_depth(ws, timeout=2)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("malformed_json", None),
        ("truncated", None),
        ("error_payload", {"code": -1100}),
        ("wrong_symbol", {"e": "depthUpdate", "s": "ETHEUR"}),
        ("unknown_event", {"e": "somethingNew"}),
        ("server_shutdown", {"e": "serverShutdown"}),
    ],
)
async def test_inject_frame_kinds(sim, kind, expected):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        sim.inject_frame(kind)
        for _ in range(200):
            text = await asyncio.wait_for(ws.recv(), 2)
            payload = json.loads(text) if _is_json(text) else None
            if payload is not None and payload.get("e") == "depthUpdate" and payload.get("s") == "BTCEUR":
                continue
            if expected is None:
                assert payload is None, text
            else:
                assert payload is not None and {k: payload.get(k) for k in expected} == expected, text
            if kind == "wrong_symbol":
                assert payload["U"] > 0 and payload["u"] >= payload["U"]
            return
        pytest.fail(f"no {kind} frame seen")


async def test_refuse_connections_drops_clients_and_answers_503_until_it_ends(sim):
    from websockets.exceptions import InvalidStatus

    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        await next_depth(ws)
        await sim.refuse_connections(0.6)
        with pytest.raises(ConnectionClosed):
            for _ in range(100):
                await ws.recv()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{sim.ws_url}/ws/{DEPTH}"):
            pass
    assert refused.value.response.status_code == 503
    await asyncio.sleep(0.7)  # the refusal is a span of time: wait it out
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        assert (await next_depth(ws))["e"] == "depthUpdate"


@pytest.mark.parametrize("qty", ["10000000000000000000000000", "NaN"])
async def test_bad_quantity_rides_on_a_real_event_and_the_truth_keeps_the_real_one(sim, qty):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        previous = await next_depth(ws)
        sim.inject_bad_quantity(qty)
        for _ in range(50):
            event = await next_depth(ws)
            assert event["U"] == previous["u"] + 1  # ids continue: the bad event is a real one
            levels = event["b"] or event["a"]
            if levels[0][1] == qty:
                break
            previous = event
        else:
            pytest.fail("no event with the bad quantity")
        assert (await next_depth(ws))["U"] == event["u"] + 1
    price = levels[0][0]
    bids, asks = sim.truth_at(event["u"])
    truth = dict(bids if event["b"] else asks)
    assert Decimal(price) not in truth or truth[Decimal(price)] < Decimal(10**6)
    assert sim.state()["counters"]["fault_bad_quantity"] == 1
