"""WebSocket /ws/overlays through the real ASGI stack (origin validator, router, consumer, layer)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from apps.overlays.broadcast import GROUP_MESSAGE_TYPE, OverlayBroadcaster, group_name
from apps.overlays.consumers import MAX_CLIENT_MESSAGE_BYTES, OverlayConsumer
from project.asgi import application
from tests.web.conftest import SYMBOL, T0_MS, make_block, make_metric, make_published, make_zone

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]
TIMEOUT = 3


@pytest.fixture(autouse=True)
def fresh_layer():
    """A new in-memory channel layer per test (its queues belong to the test's event loop)."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@database_sync_to_async
def seed():
    make_block("bullish", 3, "fresh")
    make_zone(f"{SYMBOL}:bid:86950:87000", "bid", "86950", "87000", "confirmed")
    make_metric(T0_MS)
    make_published()


async def connect(headers=ORIGIN):
    comm = WebsocketCommunicator(application, "/ws/overlays", headers=headers)
    connected, _ = await comm.connect(timeout=TIMEOUT)
    return comm, connected


async def receive(comm):
    return await comm.receive_json_from(timeout=TIMEOUT)


async def group_message(epoch, seq, kind="metrics", data=None):
    await get_channel_layer().group_send(
        group_name(SYMBOL),
        {"type": GROUP_MESSAGE_TYPE, "epoch": epoch, "seq": seq, "kind": kind, "data": data or {"n": seq}},
    )


async def test_foreign_origin_is_rejected():
    _, connected = await connect([(b"origin", b"http://evil.example"), (b"host", b"localhost:8000")])
    assert not connected
    _, connected = await connect([(b"host", b"localhost:8000")])  # no Origin header at all
    assert not connected


async def test_connect_sends_the_full_current_state_first():
    await seed()
    comm, connected = await connect()
    assert connected
    first = await receive(comm)
    assert first["type"] == "snapshot" and first["reason"] == "connect"
    assert (first["epoch"], first["seq"]) == (None, None)
    state = first["state"]
    assert [z["id"] for z in state["zones"]] == [f"{SYMBOL}:bid:86950:87000"]
    assert [b["direction"] for b in state["orderblocks"]] == ["bullish"]
    assert state["metrics"]["ts_ms"] == T0_MS
    assert state["status"]["status"] == "live"
    await comm.disconnect()


async def test_deltas_arrive_in_broadcast_order_with_their_sequence_numbers():
    comm, _ = await connect()
    await receive(comm)
    broadcaster = OverlayBroadcaster(SYMBOL)
    zone = {"id": "z1", "kind": "zone", "side": "ask"}
    await broadcaster.send("zones", {"added": [zone], "changed": [], "removed": []})
    await broadcaster.send("metrics", {"best_bid": "1", "best_ask": "2"})
    await broadcaster.send("candle", {"time": 1, "open": 1.0, "closed": False})
    await broadcaster.send("zones", {"added": [], "changed": [], "removed": ["z1"]})
    await broadcaster.send("status", {"status": "resyncing"})
    got = [await receive(comm) for _ in range(5)]
    assert [m["type"] for m in got] == ["delta"] * 5
    assert [m["seq"] for m in got] == [1, 2, 3, 4, 5]
    assert {m["epoch"] for m in got} == {broadcaster.epoch}
    assert [m["kind"] for m in got] == ["zones", "metrics", "candle", "zones", "status"]
    assert got[0]["data"]["added"] == [zone] and got[3]["data"]["removed"] == ["z1"]
    await comm.disconnect()


async def test_a_hole_in_the_sequence_is_answered_with_a_fresh_snapshot():
    comm, _ = await connect()
    await receive(comm)
    await group_message("e1", 1)
    assert (await receive(comm))["seq"] == 1
    # seq 2 is lost (e.g. dropped by a full channel); meanwhile a zone appeared in the DB
    await database_sync_to_async(make_zone)(f"{SYMBOL}:ask:87100:87150", "ask", "87100", "87150")
    await group_message("e1", 3)
    snap = await receive(comm)
    assert snap["type"] == "snapshot" and snap["reason"] == "hole"
    assert (snap["epoch"], snap["seq"]) == ("e1", 3)
    assert [z["id"] for z in snap["state"]["zones"]] == [f"{SYMBOL}:ask:87100:87150"]
    await group_message("e1", 4)
    assert (await receive(comm))["seq"] == 4  # deltas continue after the snapshot
    await comm.disconnect()


async def test_duplicates_are_dropped_and_a_new_epoch_resnapshots():
    comm, _ = await connect()
    await receive(comm)
    await group_message("e1", 1)
    await group_message("e1", 1)
    await group_message("e1", 2)
    assert [(await receive(comm))["seq"] for _ in range(2)] == [1, 2]
    await group_message("e2", 1)  # the streamer restarted
    snap = await receive(comm)
    assert snap["type"] == "snapshot" and snap["reason"] == "epoch" and snap["epoch"] == "e2"
    await comm.disconnect()


async def test_client_can_ask_for_a_resync():
    comm, _ = await connect()
    await receive(comm)
    await comm.send_json_to({"action": "resync"})
    snap = await receive(comm)
    assert snap["type"] == "snapshot" and snap["reason"] == "request"
    await comm.disconnect()


async def test_oversized_client_messages_close_the_socket():
    comm, _ = await connect()
    await receive(comm)
    await comm.send_to(text_data=json.dumps({"action": "ack", "pad": "x" * MAX_CLIENT_MESSAGE_BYTES}))
    closed = await comm.receive_output(timeout=TIMEOUT)
    assert closed["type"] == "websocket.close" and closed["code"] == 1009


async def test_binary_frames_close_the_socket():
    comm, _ = await connect()
    await receive(comm)
    await comm.send_to(bytes_data=b"\x00\x01")
    closed = await comm.receive_output(timeout=TIMEOUT)
    assert closed["type"] == "websocket.close" and closed["code"] == 1003


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        json.dumps({"action": "shout"}),
        json.dumps([1, 2]),
        json.dumps({"action": "ack", "received": -1}),
        json.dumps({"action": "ack", "received": 10**6}),
        json.dumps({"action": "ack", "received": "3"}),
    ],
)
async def test_unusable_client_messages_get_an_error_and_the_socket_stays_open(message):
    comm, _ = await connect()
    await receive(comm)
    await comm.send_to(text_data=message)
    error = await receive(comm)
    assert error["type"] == "error" and error["detail"]
    await group_message("e1", 1)
    assert (await receive(comm))["type"] == "delta"
    await comm.disconnect()


async def test_a_client_that_stops_reading_never_stalls_the_streamer_or_other_clients(monkeypatch):
    monkeypatch.setattr(OverlayConsumer, "max_in_flight", 5)
    stuck, _ = await connect()
    healthy, _ = await connect()
    await receive(stuck)
    await receive(healthy)
    broadcaster = OverlayBroadcaster(SYMBOL)
    received = 1
    for i in range(30):
        # the broadcast returns promptly whatever the clients do
        await asyncio.wait_for(broadcaster.send("metrics", {"i": i}), timeout=1)
        message = await receive(healthy)
        assert message["seq"] == i + 1
        received += 1
        if received % 4 == 0:
            await healthy.send_json_to({"action": "ack", "received": received})
    assert broadcaster.failed == 0
    # the stuck client got the window's worth (snapshot + 4 deltas), then the consumer held back
    held = [await receive(stuck) for _ in range(4)]
    assert [m["seq"] for m in held] == [1, 2, 3, 4]
    assert await stuck.receive_nothing(timeout=0.2)
    # once it acknowledges, it gets a fresh snapshot and then live deltas again
    await stuck.send_json_to({"action": "ack", "received": 5})
    resumed = await receive(stuck)
    assert resumed["type"] == "snapshot" and resumed["reason"] == "resume"
    assert (resumed["epoch"], resumed["seq"]) == (broadcaster.epoch, 30)
    await broadcaster.send("metrics", {"i": 30})
    assert (await receive(stuck))["seq"] == 31
    await stuck.disconnect()
    await healthy.disconnect()


async def test_large_messages_go_out_as_fragments_no_larger_than_the_server_cap():
    @database_sync_to_async
    def many_blocks():
        for i in range(150):
            make_block("bullish" if i % 2 else "bearish", i)

    await many_blocks()
    comm, _ = await connect()
    frames = []
    while True:
        output = await comm.receive_output(timeout=TIMEOUT)
        frames.append(output["text"])
        message = json.loads(output["text"])
        assert message["type"] == "fragment"
        if message["index"] == message["count"] - 1:
            break
    assert len(frames) > 1
    assert all(
        len(frame.encode()) <= 16 * 1024 for frame in frames
    )  # proxies commonly cap WebSocket messages at 16 KiB
    joined = json.loads("".join(json.loads(frame)["chunk"] for frame in frames))
    assert joined["type"] == "snapshot" and len(joined["state"]["orderblocks"]) == 150
    # a big broadcast (a full order-block run) is fragmented the same way, then small deltas flow as usual
    big = [{"id": f"b{i}", "kind": "orderblock", "note": "x" * 200} for i in range(100)]
    await group_message("e1", 1, "orderblocks", {"added": big, "changed": []})
    await group_message("e1", 2)
    parts = []
    while True:
        message = await receive(comm)
        if message["type"] != "fragment":
            break
        parts.append(message["chunk"])
    assert json.loads("".join(parts))["data"]["added"] == big
    assert message["type"] == "delta" and message["seq"] == 2
    await comm.disconnect()


async def test_a_failing_state_read_closes_the_socket_so_the_client_reconnects(monkeypatch):
    from apps.overlays import consumers

    async def broken(symbol):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(consumers, "_read_state", broken)
    comm, connected = await connect()
    assert connected
    closed = await comm.receive_output(timeout=TIMEOUT)
    assert closed["type"] == "websocket.close" and closed["code"] == 1011


class GatedStateRead:
    """Stands in for the state read: holds every read until `release()`; counts the reads."""

    def __init__(self, real):
        self.real = real
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def __call__(self, symbol, newer_than):
        self.waiting.set()
        await self.gate.wait()
        return await self.real(symbol, newer_than)


async def test_a_client_busy_reading_a_snapshot_gets_the_deltas_after_it_in_order_and_stalls_no_one(
    monkeypatch,
):
    from apps.overlays import consumers

    busy, _ = await connect()
    idle, _ = await connect()
    await receive(busy)
    await receive(idle)
    gated = GatedStateRead(consumers._read_state)
    monkeypatch.setattr(consumers, "_read_state", gated)
    await busy.send_json_to({"action": "resync"})
    await gated.waiting.wait()
    for seq in (1, 2, 3):
        await group_message("e1", seq)
    # the idle client is not held up by the busy one
    assert [(await receive(idle))["seq"] for _ in range(3)] == [1, 2, 3]
    assert await busy.receive_nothing(timeout=0.1)
    gated.gate.set()
    snap = await receive(busy)
    assert snap["type"] == "snapshot" and snap["reason"] == "request"
    assert [(await receive(busy))["seq"] for _ in range(3)] == [1, 2, 3]
    await busy.disconnect()
    await idle.disconnect()


async def test_a_busy_client_queues_a_bounded_backlog_then_resnapshots(monkeypatch):
    from apps.overlays import consumers

    monkeypatch.setattr(consumers, "MAX_BACKLOG", 3)
    comm, _ = await connect()
    await receive(comm)
    gated = GatedStateRead(consumers._read_state)
    monkeypatch.setattr(consumers, "_read_state", gated)
    await comm.send_json_to({"action": "resync"})
    await gated.waiting.wait()
    for seq in range(1, 7):  # 4, 5 and 6 find the backlog full
        await group_message("e1", seq)
    gated.gate.set()
    assert (await receive(comm))["reason"] == "request"
    assert [(await receive(comm))["seq"] for _ in range(3)] == [1, 2, 3]
    assert await comm.receive_nothing(timeout=0.1)
    await group_message("e1", 7)  # 4..6 never reached this client: a hole
    snap = await receive(comm)
    assert snap["type"] == "snapshot" and snap["reason"] == "hole" and snap["seq"] == 7
    await comm.disconnect()


async def test_health_reports_this_web_process_fanout_counters(settings):
    """An operator with several web processes sees, per answering process, how many clients its
    fan-out serves and whether deliveries fail (and, with HEALTH_DETAILS, which process it is)."""
    settings.CONFIG = dataclasses.replace(settings.CONFIG, health_details=True)
    await database_sync_to_async(make_published)()
    comms = [(await connect())[0] for _ in range(2)]
    for comm in comms:
        await receive(comm)
    await group_message("e1", 1)
    await group_message("e1", 2)
    for comm in comms:
        assert [(await receive(comm))["seq"] for _ in range(2)] == [1, 2]
    body = (await AsyncClient().get("/api/health")).json()
    [fanout] = [f for f in body["web"]["overlay_fanout"] if f["group"] == group_name(SYMBOL)]
    assert body["web"]["pid"] > 0
    assert (fanout["subscribers"], fanout["received"], fanout["delivered"]) == (2, 2, 4)
    assert fanout["subscriber_errors"] == fanout["receive_errors"] == 0 and fanout["joins"] == 1
    for comm in comms:
        await comm.disconnect()


async def test_a_resync_flood_gets_one_snapshot_then_one_coalesced_snapshot(monkeypatch):
    """A client that keeps asking for snapshots cannot make the server queue one per request."""
    monkeypatch.setattr(OverlayConsumer, "resync_min_interval_s", 0.5)
    comm, _ = await connect()
    await receive(comm)
    for _ in range(200):
        await comm.send_json_to({"action": "resync"})
    first = await receive(comm)
    assert first["type"] == "snapshot" and first["reason"] == "request"
    assert await comm.receive_nothing(timeout=0.2)  # the other 199 wait for the interval...
    coalesced = await receive(comm)  # ...and become one snapshot when it is over
    assert coalesced["type"] == "snapshot" and coalesced["reason"] == "request"
    assert await comm.receive_nothing(timeout=0.7)
    await comm.disconnect()


async def test_a_client_over_its_byte_budget_is_paused_and_resumes_with_a_snapshot(monkeypatch):
    monkeypatch.setattr(OverlayConsumer, "resync_min_interval_s", 0.0)
    monkeypatch.setattr(OverlayConsumer, "max_unacked_bytes", 3000)
    await seed()
    comm, _ = await connect()
    size = len(json.dumps(await receive(comm)))  # the connect snapshot, ~1 kB here
    requests = 3000 // size + 3
    for _ in range(requests):
        await comm.send_json_to({"action": "resync"})
    got = 0
    while not await comm.receive_nothing(timeout=0.2):
        await receive(comm)
        got += 1
    assert 1 <= got < requests  # paused once the unacknowledged bytes passed the budget
    await group_message("e1", 1)
    assert await comm.receive_nothing(timeout=0.2)  # deltas wait too while paused
    await comm.send_json_to({"action": "ack", "received": 1 + got})
    resumed = await receive(comm)
    assert resumed["type"] == "snapshot" and resumed["reason"] == "resume"
    await comm.disconnect()
