"""The real processes: `serve` (daphne + streamer on one loop), `runworker orderbook`, and the
`orderbook` control channel. Readiness is awaited on the processes' own log lines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from channels.testing import ApplicationCommunicator

from apps.book.services.streamer import OrderBookStreamer
from apps.live.consumers import OrderBookWorkerConsumer
from apps.live.runtime import run_streamer
from apps.simulator.server import BinanceSimulator
from tests.book.streaming import StreamHarness, fast_settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.asyncio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PUBLISH_INTERVAL_MS="200",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


async def run_manage(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def wait_for_line(
    proc: asyncio.subprocess.Process, needle: str, seen: list[str], timeout: float = 30
) -> str:
    async def scan() -> str:
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                raise AssertionError(f"process ended before {needle!r}; output:\n" + "".join(seen[-40:]))
            line = raw.decode(errors="replace")
            seen.append(line)
            if needle in line:
                return line

    return await asyncio.wait_for(scan(), timeout)


async def migrate(env: dict[str, str]) -> None:
    proc = await run_manage(env, "migrate", "--noinput", "-v", "0")
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()


async def stop_cleanly(proc: asyncio.subprocess.Process, seen: list[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    await wait_for_line(proc, "streamer stopped", seen, timeout=15)
    rest, _ = await asyncio.wait_for(proc.communicate(), 15)
    seen.append(rest.decode(errors="replace"))
    assert proc.returncode == 0, "".join(seen[-30:])
    output = "".join(seen)
    assert "Traceback" not in output, output[max(0, output.find("Traceback") - 400) :][:4000]


async def test_serve_runs_web_and_streamer_in_one_process_and_stops_on_sigterm(tmp_path):
    env = process_env(tmp_path, HEALTH_DETAILS="1")  # /api/health names the simulator's URL
    await migrate(env)
    port = free_port()
    proc = await run_manage(env, "serve", "--port", str(port), "--simulator")
    seen: list[str] = []
    try:
        await wait_for_line(proc, "status syncing -> live", seen)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_for_line(proc, "zones computing", seen)  # first cycle after live has run
            await wait_for_line(proc, "published status=live", seen)
            book = (await client.get("/api/book?limit=3")).json()
            assert book["status"] == "live" and len(book["bids"]) == 3
            health = (await client.get("/api/health")).json()
            assert (
                health["stream"]["zones"]["computing"] is True
                and health["stream"]["zones"]["reason"] == "live"
            )
            sim_url = health["simulator_url"]
            truth = (
                await client.get(f"{sim_url}/sim/truth", params={"update_id": book["update_id"], "limit": 3})
            ).json()
            assert [[Decimal(p), Decimal(q)] for p, q in truth["bids"]] == [
                [Decimal(p), Decimal(q)] for p, q in book["bids"]
            ]
            page = await client.get("/")
            assert page.status_code == 200 and "lightweight-charts" in page.text
    finally:
        if proc.returncode is None:
            await stop_cleanly(proc, seen)


async def test_runworker_orderbook_streams_on_boot_without_a_message(tmp_path):
    async with BinanceSimulator(depth_interval_s=0.05, seed=4) as sim:
        env = process_env(tmp_path, BINANCE_WS_URL=sim.ws_url, BINANCE_REST_URL=sim.rest_url)
        await migrate(env)
        proc = await run_manage(env, "runworker", "orderbook")
        seen: list[str] = []
        try:
            await wait_for_line(proc, "status syncing -> live", seen)
            await wait_for_line(proc, "zones computing", seen)
            await wait_for_line(proc, "published status=live", seen)
        finally:
            if proc.returncode is None:
                await stop_cleanly(proc, seen)
        import sqlite3

        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            (status, update_id, bids) = db.execute(
                "select status, update_id, bids from orderbook_published where symbol='BTCEUR'"
            ).fetchone()
        assert update_id is not None and len(json.loads(bids)) == 100
        assert status == "live"  # publication stops before the socket closes on shutdown


@pytest.mark.django_db(transaction=True)
async def test_orderbook_channel_forces_a_resync():
    async with BinanceSimulator(depth_interval_s=0.05, seed=6) as sim:
        streamer = OrderBookStreamer(fast_settings(sim))
        h = StreamHarness(sim=sim, streamer=streamer)
        streamer.observers.append(h.observe)
        h.task = asyncio.create_task(run_streamer(streamer))
        try:
            await h.live()
            consumer = ApplicationCommunicator(
                OrderBookWorkerConsumer.as_asgi(),
                {"type": "channel", "channel": "orderbook", "streamer": streamer},
            )
            await consumer.send_input({"type": "orderbook.resync", "reason": "operator"})
            await h.until(lambda p: streamer.sync.resyncs["operator"] == 1)
            await h.live(after_update_id=sim.update_id)
            assert streamer.snapshots_fetched == 2
        finally:
            await h.stop()
        assert h.mismatches == []
