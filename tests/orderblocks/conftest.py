"""Fixtures: a Binance simulator on 127.0.0.1, in the test's loop or in a thread of its own (for
management commands, which run their own event loop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest

from apps.book.domain.events import Kline
from apps.book.domain.wire import parse_kline
from apps.orderblocks.domain.candles import Bar, parse_rest_kline
from apps.simulator.server import BinanceSimulator
from apps.simulator.wire import kline, kline_row

SIM_ARGS = {
    "depth_interval_s": 0.05,
    "random_fast_moves": False,
    "background_walls": False,
    "levels_per_side": 50,
}


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSimulator]:
    simulator = BinanceSimulator(seed=21, **SIM_ARGS)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


class ThreadedSim:
    def __init__(self, **kwargs) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = BinanceSimulator(**{"seed": 21, **SIM_ARGS, **kwargs})
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> BinanceSimulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(10)
        return self.sim

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def threaded_sim() -> Iterator[BinanceSimulator]:
    with ThreadedSim() as simulator:
        yield simulator


def sim_bars(simulator: BinanceSimulator) -> list[Bar]:
    """The simulator's closed candles as Bars (through the REST wire format)."""
    return [parse_rest_kline(kline_row(c))[0] for c in simulator.candles.closed]


def sim_kline_objects(simulator: BinanceSimulator) -> list[dict]:
    """The `k` objects the WebSocket would carry for each closed candle."""
    return [kline(simulator.symbol, c, c.close_ms)["k"] for c in simulator.candles.closed]


def k_object(bar: Bar, *, closed: bool, symbol: str = "BTCEUR", interval: str = "1h") -> dict:
    def text(value: Decimal) -> str:
        return format(value, "f")

    return {
        "t": bar.open_time_ms,
        "T": bar.open_time_ms + 3_599_999,
        "s": symbol,
        "i": interval,
        "o": text(bar.open),
        "h": text(bar.high),
        "l": text(bar.low),
        "c": text(bar.close),
        "v": text(bar.volume),
        "x": closed,
    }


def kline_event(bar: Bar, *, closed: bool, symbol: str = "BTCEUR", interval: str = "1h") -> Kline:
    """What the streamer hands its listeners for that `k` object (parsed by apps.book.domain.wire)."""
    return parse_kline(k_object(bar, closed=closed, symbol=symbol, interval=interval))
