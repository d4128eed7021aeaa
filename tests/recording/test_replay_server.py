"""The replay server over real sockets: the recorded frames byte for byte (combined and raw
streams), snapshots by update id with a restart from the next recorded snapshot when the nearest is
too old, the time shift, the REST answers, and --loop."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from apps.book.domain.events import Side
from apps.book.services.streamer import OrderBookStreamer, Published, StreamerSettings
from apps.recording.domain.lines import rest_line
from apps.recording.domain.pacing import HOUR_MS
from apps.recording.services.files import load_recording
from apps.simulator.replay.server import ReplayServer
from tests.recording.synthetic import FIRST_ID, Synthetic, write_synthetic

pytestmark = pytest.mark.asyncio

ODD = {
    FIRST_ID + 3: [
        '{"e":"serverShutdown","E":1700000000000}',  # not on a stream: to every client
        '{"stream":"btceur@depth@100ms","data":{"e":"dep',  # truncated
        '{"stream":"btceur@bookTicker","data":{"u":1,"s":"BTCEUR","b":"1","B":"2","a":"3","A":"4"}}',
        '{"stream":"btceur@aggTrade",\n"data":{}}',  # a line break inside
    ]
}


async def received(url: str, count: int, timeout: float = 10) -> list[str]:
    texts: list[str] = []
    async with connect(url, max_queue=None) as ws, asyncio.timeout(timeout):
        while len(texts) < count:
            texts.append(await ws.recv())
    return texts


async def test_clients_get_the_recorded_frames_byte_for_byte(tmp_path):
    synthetic = write_synthetic(tmp_path / "rec.jsonl", events=30, snapshots=[FIRST_ID + 2], extra=ODD)
    recording = load_recording([synthetic.path])
    streams = "btceur@depth@100ms/btceur@aggTrade"
    combined = [t for t in synthetic.frames if '"btceur@bookTicker"' not in t]
    raw_trades = [  # the payload of each aggTrade frame; the line-broken one cannot be cut: as it is
        t.split(',"data":', 1)[1][:-1] if ',"data":' in t else t
        for t in synthetic.frames
        if t.startswith('{"stream":"btceur@aggTrade"') or not t.startswith('{"stream"')
    ]
    async with ReplayServer(recording, speed=None, wait_for_clients=2) as replay:
        both = await asyncio.gather(
            received(f"{replay.ws_url}/stream?streams={streams}", len(combined)),
            received(f"{replay.ws_url}/ws/btceur@aggTrade", len(raw_trades)),
        )
    assert both[0] == combined  # every frame of those streams, and the unaddressed one, as recorded
    assert both[1] == raw_trades  # a raw stream gets the payload of each combined frame, as Binance
    assert '{"stream":"btceur@aggTrade",\n"data":{}}' in both[0]


async def test_a_stream_of_another_symbol_is_refused_before_the_upgrade(tmp_path):
    recording = load_recording([write_synthetic(tmp_path / "rec.jsonl", events=5, snapshots=[]).path])
    async with ReplayServer(recording) as replay:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{replay.ws_url}/stream?streams=ethusdt@depth@100ms"):
                pass
        assert refused.value.response.status_code == 400
        async with httpx.AsyncClient(base_url=replay.rest_url) as rest:
            wrong = await rest.get("/api/v3/depth", params={"symbol": "ETHUSDT"})
            info = await rest.get("/api/v3/exchangeInfo")
            unknown = await rest.get("/api/v3/order")
    assert (wrong.status_code, wrong.json()["code"]) == (400, -1121)
    assert info.status_code == 404 and "exchangeInfo" in info.json()["msg"]
    assert unknown.status_code == 404


class BookCheck:
    """Each live publication against the synthetic book at its update id."""

    def __init__(self, synthetic: Synthetic, streamer: OrderBookStreamer) -> None:
        self.synthetic, self.streamer = synthetic, streamer
        self.live_ids: list[int] = []
        self.mismatches: list[int] = []

    def __call__(self, published: Published) -> None:
        if published.status != "live" or published.view is None:
            return
        book, update_id = self.streamer.sync.book, published.view.update_id
        bids, asks = self.synthetic.levels(update_id)
        if book.top(Side.BID, 100) != bids or book.top(Side.ASK, 100) != asks:
            self.mismatches.append(update_id)
        self.live_ids.append(update_id)

    async def live_after(self, update_id: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not self.live_ids or self.live_ids[-1] <= update_id:
                await asyncio.sleep(0.02)  # a publication every 20 ms


def replay_streamer(replay: ReplayServer, synthetic: Synthetic) -> tuple[OrderBookStreamer, BookCheck]:
    settings = StreamerSettings(
        ws_url=replay.ws_url,
        rest_url=replay.rest_url,
        symbol="BTCEUR",
        publish_interval_ms=50,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
        watchdog_s=5,
    )
    streamer = OrderBookStreamer(settings)
    check = BookCheck(synthetic, streamer)
    streamer.observers.append(check)
    return streamer, check


async def test_a_too_old_nearest_snapshot_restarts_the_replay_from_the_next_recorded_one(tmp_path):
    """From id 1100 the nearest snapshot is 1005: older than anything the stream sent, so the replay
    goes on from the snapshot of 1500. Asked again later (a resync) it would serve 1500 again, which
    the stream has passed: it goes on from 1550."""
    synthetic = write_synthetic(tmp_path / "rec.jsonl", events=700, snapshots=[1005, 1500, 1550])
    recording = load_recording([synthetic.path])
    replay = ReplayServer(recording, speed=1.0, from_ns=synthetic.time_of(1100))
    await replay.start()
    streamer, check = replay_streamer(replay, synthetic)
    task = asyncio.create_task(streamer.run())
    try:
        await check.live_after(1500)
        assert check.live_ids[0] > 1500 and replay.feed.restarts == 1
        streamer.request_resync("test")
        await check.live_after(1560)
    finally:
        streamer.stop()
        await task
        await replay.stop()
    assert replay.feed.restarts == 2
    assert streamer.snapshots_fetched == 2 and streamer.snapshots_too_old == 0
    assert check.mismatches == [] and len(check.live_ids) > 5


async def test_times_shifted_to_now_move_event_and_candle_times_by_whole_hours(tmp_path):
    synthetic = write_synthetic(tmp_path / "rec.jsonl", events=20, snapshots=[FIRST_ID])
    first_ms = synthetic.time_of(FIRST_ID) // 1_000_000
    hour = first_ms - first_ms % HOUR_MS
    rows = [
        [
            hour - (3 - i) * HOUR_MS,
            "1",
            "2",
            "0.5",
            "1.5",
            "3",
            hour - (2 - i) * HOUR_MS - 1,
            "4",
            5,
            "1",
            "2",
            "0",
        ]
        for i in range(3)
    ]
    line = rest_line(
        synthetic.time_of(FIRST_ID), "/api/v3/klines?symbol=BTCEUR&interval=1h&limit=3", json.dumps(rows)
    )
    with synthetic.path.open("a") as file:
        file.write(line)
    recording = load_recording([synthetic.path])
    now_s = (first_ms + 50 * HOUR_MS + 1234) / 1000
    async with ReplayServer(recording, speed=None, shift_times=True, clock=lambda: now_s) as replay:
        frames = await received(f"{replay.ws_url}/stream?streams=btceur@aggTrade", 3)
        async with httpx.AsyncClient(base_url=replay.rest_url) as rest:
            candles = (await rest.get("/api/v3/klines", params={"symbol": "BTCEUR", "interval": "1h"})).json()
            later = (
                await rest.get(
                    "/api/v3/klines",
                    params={"symbol": "BTCEUR", "interval": "1h", "startTime": rows[1][0] + 50 * HOUR_MS},
                )
            ).json()
    offset = 50 * HOUR_MS
    trade = json.loads(frames[0])["data"]
    original = json.loads(synthetic.frames[1])["data"]
    assert (trade["E"], trade["T"]) == (original["E"] + offset, original["T"] + offset)
    assert (
        frames[0].replace(str(trade["E"]), str(original["E"])).replace(str(trade["T"]), str(original["T"]))
        == synthetic.frames[1]
    )
    assert [c[0] for c in candles] == [r[0] + offset for r in rows]
    assert [c[0] for c in later] == [r[0] + offset for r in rows[1:]]


async def test_with_loop_the_recording_starts_again_later_in_time(tmp_path):
    synthetic = write_synthetic(tmp_path / "rec.jsonl", events=5, snapshots=[FIRST_ID])
    recording = load_recording([synthetic.path])
    texts: list[str] = []
    async with ReplayServer(recording, speed=None, loop=True) as replay:
        url = f"{replay.ws_url}/stream?streams=btceur@depth@100ms"
        for _ in range(2):
            with pytest.raises(ConnectionClosed) as closed:
                async with connect(url, max_queue=None) as ws, asyncio.timeout(10):
                    while True:
                        texts.append(await ws.recv())
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    first, second = json.loads(texts[0])["data"], json.loads(texts[5])["data"]
    assert len(texts) == 10 and second["U"] == first["U"] == FIRST_ID
    assert second["E"] - first["E"] == HOUR_MS  # 0.4 s of recording: the next round is an hour later
