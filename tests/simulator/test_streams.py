"""Wire format of every stream message kind, id continuity, and the truth matching a replayed book."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.simulator.conftest import (
    DEPTH,
    apply_event,
    as_levels,
    book_from_snapshot,
    connect,
    next_depth,
    recv_json,
)

EIGHT_DECIMALS = re.compile(r"^\d+\.\d{8}$")


def assert_levels_format(levels: list) -> None:
    for level in levels:
        assert len(level) == 2
        assert EIGHT_DECIMALS.match(level[0]), level
        assert EIGHT_DECIMALS.match(level[1]), level


async def test_depth_update_wire_format_and_continuity(sim):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        previous = None
        for _ in range(30):
            event = await next_depth(ws)
            assert set(event) == {"e", "E", "s", "U", "u", "b", "a"}
            assert event["s"] == "BTCEUR"
            assert isinstance(event["E"], int) and isinstance(event["U"], int)
            assert_levels_format(event["b"])
            assert_levels_format(event["a"])
            # one id per level change
            assert event["u"] - event["U"] + 1 == len(event["b"]) + len(event["a"]) >= 1
            if previous is not None:
                assert event["U"] == previous["u"] + 1
            previous = event


async def test_combined_stream_wraps_payloads_with_stream_name(sim):
    streams = f"{DEPTH}/btceur@aggTrade/btceur@kline_1h"
    seen: dict[str, dict] = {}
    async with connect(f"{sim.ws_url}/stream?streams={streams}") as ws:
        sim.close_candle()  # a closed kline right away
        for _ in range(5000):
            if len(seen) == 3:
                break
            message = await recv_json(ws)
            assert set(message) == {"stream", "data"}
            seen.setdefault(message["stream"], message["data"])
    assert seen[DEPTH]["e"] == "depthUpdate"
    trade = seen["btceur@aggTrade"]
    assert set(trade) == {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"}
    assert trade["e"] == "aggTrade" and trade["s"] == "BTCEUR" and trade["M"] is True
    assert EIGHT_DECIMALS.match(trade["p"]) and EIGHT_DECIMALS.match(trade["q"])
    assert trade["l"] >= trade["f"] and isinstance(trade["m"], bool)
    candle = seen["btceur@kline_1h"]
    assert candle["e"] == "kline"
    k = candle["k"]
    assert set(k) == {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}
    assert k["i"] == "1h" and k["T"] - k["t"] == 3_599_999
    assert (
        Decimal(k["l"])
        <= min(Decimal(k["o"]), Decimal(k["c"]))
        <= max(Decimal(k["o"]), Decimal(k["c"]))
        <= Decimal(k["h"])
    )


async def test_book_built_from_snapshot_and_events_equals_truth(sim, rest):
    async with connect(f"{sim.ws_url}/ws/{DEPTH}") as ws:
        first = await next_depth(ws)
        snapshot = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 5000})).json()
        last_id = snapshot["lastUpdateId"]
        assert first["U"] <= last_id + 1 or first["u"] <= last_id
        bids, asks = book_from_snapshot(snapshot)
        assert as_levels(bids, asks) == sim.truth_at(last_id)
        checked = 0
        event = first
        while checked < 60:
            if event["u"] > last_id:
                assert event["U"] <= last_id + 1
                apply_event(bids, asks, event)
                last_id = event["u"]
                assert as_levels(bids, asks) == sim.truth_at(last_id)
                checked += 1
            event = await next_depth(ws)


async def test_raw_stream_does_not_wrap_and_1000ms_stream_batches(sim):
    async with connect(f"{sim.ws_url}/ws/btceur@depth") as ws:
        first = await next_depth(ws, timeout=3)
        second = await next_depth(ws, timeout=3)
    assert "stream" not in first
    assert second["U"] == first["u"] + 1
    # 1000 ms at a 20 ms tick batches ~50 ticks of changes into one event
    assert second["E"] - first["E"] >= 900


@pytest.mark.parametrize("path", ["/ws/ethusdt@depth", "/stream?streams=btceur@nonsense", "/nowhere"])
async def test_unknown_stream_is_rejected_at_handshake(sim, path):
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{sim.ws_url}{path}"):
            pass
    assert info.value.response.status_code in (400, 404)


async def test_subscribe_method_adds_a_stream(sim):
    async with connect(f"{sim.ws_url}/ws") as ws:
        await ws.send('{"method":"SUBSCRIBE","params":["btceur@aggTrade"],"id":7}')
        messages = [await recv_json(ws) for _ in range(2)]
        assert messages[0] == {"result": None, "id": 7} or messages[1] == {"result": None, "id": 7}
        trade = (
            next(m for m in messages if "e" in m) if any("e" in m for m in messages) else await recv_json(ws)
        )
        assert trade["e"] == "aggTrade"
