"""The commands as processes: `record` from the simulator, then `serve --replay` on what it wrote
(with RECORD_DIR recording the replayed stream again: the same frames, byte for byte), and the
refusals with one line."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from websockets.asyncio.client import connect

from apps.recording.domain.lines import frame_line
from apps.recording.services.files import load_recording
from apps.simulator.server import BinanceSimulator
from tests.book.test_processes import free_port, process_env, run_manage, wait_for_line

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def finished(proc: asyncio.subprocess.Process, timeout: float = 60) -> str:
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return out.decode(errors="replace")


async def health_when(client: httpx.AsyncClient, predicate, timeout: float = 30) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            response = await client.get("/api/health")
            body = response.json()
            if predicate(body):
                return body
            await asyncio.sleep(0.2)  # an HTTP endpoint: nothing to await but its next answer


async def test_record_then_serve_replay_streams_the_recorded_session(tmp_path):
    recorded, rerecorded = tmp_path / "rec", tmp_path / "again"
    async with BinanceSimulator(depth_interval_s=0.05, seed=8) as sim:
        env = process_env(tmp_path, BINANCE_WS_URL=sim.ws_url, BINANCE_REST_URL=sim.rest_url)
        record = await run_manage(
            env, "record", "--out", f"{recorded}/", "--minutes", "0.1", "--klines", "200"
        )
        output = await finished(record)
    assert record.returncode == 0, output
    assert "0 dropped, 0 write errors" in output and "1 snapshot(s)" in output
    original = load_recording([recorded])
    requests = sorted(r.request or "" for r in original.rest)
    assert [r.split("?")[0] for r in requests] == ["/api/v3/exchangeInfo"] + ["/api/v3/klines"] * 3
    assert original.snapshot_ids("BTCEUR") and len(original.frames) > 100

    port = free_port()
    env = process_env(tmp_path, RECORD_DIR=str(rerecorded))
    serve = await run_manage(env, "serve", "--port", str(port), "--replay", str(recorded), "--speed", "4")
    seen: list[str] = []
    try:
        await wait_for_line(serve, "serving http://", seen)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await health_when(
                client, lambda h: h["status"] == "live" and h["stream"].get("replay", {}).get("finished")
            )
            await health_when(client, lambda h: h["stream"]["published"] > health["stream"]["published"])
            candles = (await client.get("/api/candles", params={"tf": "1h", "limit": 1000})).json()["candles"]
            page = await client.get("/")
            zones = await client.get("/api/zones")
    finally:
        serve.send_signal(signal.SIGTERM)
        seen.append(await finished(serve, 30))
    assert serve.returncode == 0 and "Traceback" not in "".join(seen), "".join(seen[-30:])
    stream = health["stream"]
    assert stream["symbol"] == "BTCEUR" and stream["replay"]["frames_replayed"] == len(original.frames)
    assert stream["recording"]["lines_dropped"] == 0 and stream["resyncs"] == {}
    assert len(candles) == 199  # the recorded history of 200, less the candle still open
    assert page.status_code == 200 and "lightweight-charts" in page.text and zones.status_code == 200
    assert stream["zones"]["cycles"] > 0
    again = load_recording([rerecorded])
    assert [r.text for r in again.frames] == [r.text for r in original.frames]  # byte for byte


async def test_serve_replay_refuses_a_recording_of_several_symbols_without_symbol(tmp_path):
    frames = [
        '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[],"a":[]}}',
        '{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":5,"u":6,"b":[],"a":[]}}',
    ]
    path = tmp_path / "two.jsonl"
    path.write_text("".join(frame_line(1_700_000_000_000_000_000 + i, f) for i, f in enumerate(frames)))
    env = process_env(tmp_path)
    proc = await run_manage(env, "serve", "--port", str(free_port()), "--replay", str(path))
    output = await finished(proc)
    assert proc.returncode == 1
    assert output.strip().splitlines()[-1] == (
        "CommandError: --replay: the recording holds BTCUSDT, ETHUSDT: set SYMBOL to one of them"
    )
    missing = await run_manage(
        env, "serve", "--port", str(free_port()), "--replay", str(tmp_path / "nothing")
    )
    assert "no such file or directory" in (await finished(missing)) and missing.returncode == 1


async def test_binance_sim_replay_serves_a_recording_alone(tmp_path):
    path = tmp_path / "one.jsonl"
    frame = '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1,"s":"BTCUSDT","p":"1.0"}}'
    snapshot = '{"lastUpdateId":1,"bids":[["1.00000000","2.00000000"]],"asks":[]}'
    depth = '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":2,"u":2,"b":[],"a":[]}}'
    t = 1_700_000_000_000_000_000
    path.write_text(f"{t} {depth}\n{t + 1} {snapshot}\n{t + 2} {frame}\n")
    port = free_port()
    proc = await run_manage(process_env(tmp_path), "binance_sim", "--port", str(port), "--replay", str(path))
    seen: list[str] = []
    try:
        await wait_for_line(proc, "binance_sim ready", seen)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as rest:
            answer = await rest.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5000})
        async with connect(f"ws://127.0.0.1:{port}/ws/btcusdt@aggTrade") as ws:
            trade = await asyncio.wait_for(ws.recv(), 10)
    finally:
        proc.send_signal(signal.SIGTERM)
        seen.append(await finished(proc, 30))
    assert answer.status_code == 200 and answer.text == snapshot
    assert trade == frame.split(',"data":', 1)[1][:-1]
    assert proc.returncode == 0 and "Traceback" not in "".join(seen)
