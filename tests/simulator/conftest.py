"""Fixtures for simulator tests: a running simulator on 127.0.0.1 and small wire helpers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from apps.simulator.server import BinanceSimulator

DEPTH = "btceur@depth@100ms"


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimulator]:
    simulator = BinanceSimulator(
        depth_interval_s=0.02, seed=7, random_fast_moves=False, background_walls=False
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def rest(sim: BinanceSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.rest_url, timeout=5.0) as client:
        yield client


def connect(url: str, **kwargs):
    """A plain websockets client. max_queue=None: tests stop reading mid-stream, and a full client queue
    pauses reading, which would delay the closing handshake by close_timeout."""
    kwargs.setdefault("max_queue", None)
    return ws_connect(url, **kwargs)


async def recv_json(ws, timeout: float = 2.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def next_depth(ws, timeout: float = 2.0) -> dict:
    """Next depthUpdate payload (unwrapping combined frames, skipping other kinds)."""
    for _ in range(10_000):
        message = await recv_json(ws, timeout)
        data = message.get("data", message)
        if data.get("e") == "depthUpdate":
            return data
    raise AssertionError("no depthUpdate among 10000 messages")


def book_from_snapshot(snapshot: dict) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
    asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
    return bids, asks


def apply_event(bids: dict, asks: dict, event: dict) -> None:
    for side, book in (("b", bids), ("a", asks)):
        for p, q in event[side]:
            price, qty = Decimal(p), Decimal(q)
            if qty == 0:
                book.pop(price, None)
            else:
                book[price] = qty


def as_levels(bids: dict, asks: dict) -> tuple[list, list]:
    return sorted(bids.items(), reverse=True), sorted(asks.items())
