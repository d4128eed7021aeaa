"""The binance_sim command as a separate process, and a run crossing the 100,000 digit boundary."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from decimal import Decimal
from pathlib import Path

import httpx

from apps.simulator.server import BinanceSimulator
from tests.simulator.conftest import apply_event, as_levels, book_from_snapshot, connect, next_depth

ROOT = Path(__file__).resolve().parents[2]


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-u",
        "manage.py",
        "binance_sim",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_command_serves_until_sigterm():
    process = await _spawn("--port", "0", "--seed", "3", "--start-price", "99990.00", "--status-every", "0.2")
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = re.search(r"ws=(ws://\S+) rest=(http://\S+)", line)
        assert match, line
        rest_url = match.group(2)
        async with httpx.AsyncClient(base_url=rest_url, timeout=5) as client:
            assert (await client.get("/api/v3/ping")).status_code == 200
            state = (
                await client.post(
                    "/sim/control", json={"action": "fast_move", "direction": "up", "distance": "20.00"}
                )
            ).json()
            assert state["ok"] is True
        status = (await asyncio.wait_for(process.stderr.readline(), 10)).decode()
        assert "update_id=" in status
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
    assert b"stopped" in out


async def test_command_rejects_a_bad_start_price():
    process = await _spawn("--port", "0", "--start-price", "87000.001")
    _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode != 0
    assert b"--start-price" in err and b"Traceback" not in err


async def test_stream_and_truth_across_the_100000_boundary():
    async with BinanceSimulator(
        start_price=Decimal("99990.00"), depth_interval_s=0.02, seed=5, random_fast_moves=False
    ) as sim:
        async with (
            httpx.AsyncClient(base_url=sim.rest_url) as rest,
            connect(f"{sim.ws_url}/ws/btceur@depth@100ms") as ws,
        ):
            first = await next_depth(ws)
            snapshot = (await rest.get("/api/v3/depth", params={"symbol": "BTCEUR", "limit": 5000})).json()
            bids, asks = book_from_snapshot(snapshot)
            last_id = snapshot["lastUpdateId"]
            sim.fast_move("up", Decimal("30.00"))
            event = first
            six_digit_prices: set[str] = set()
            for _ in range(5000):
                if six_digit_prices and min(bids) >= Decimal("100000"):
                    break
                if event["u"] > last_id:
                    assert event["U"] <= last_id + 1
                    apply_event(bids, asks, event)
                    last_id = event["u"]
                    assert as_levels(bids, asks) == sim.truth_at(last_id)
                    six_digit_prices |= {p for p, _ in event["b"] + event["a"] if Decimal(p) >= 100000}
                    if len(six_digit_prices) > 20:
                        break
                event = await next_depth(ws)
        assert min(asks) > Decimal("100000") and max(bids) > Decimal("100000")
        assert all(re.fullmatch(r"1\d{5}\.\d{8}", p) for p in six_digit_prices)
