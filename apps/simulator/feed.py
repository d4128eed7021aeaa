"""The market's clock and voice: one market step per depth interval, turned into stream payloads
(depth on both cadences, aggTrade, kline_1h, kline_5m, kline_15m) for the WebSocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from apps.simulator.faults import DepthStream
from apps.simulator.intraday import IntradaySeries
from apps.simulator.klines import Candle, CandleSeries
from apps.simulator.market import SimulatedMarket
from apps.simulator.wire import WireDepth, agg_trade, depth_update, kline
from apps.simulator.ws_server import WebSocketStreams

log = logging.getLogger("apps.simulator")

KLINE_PUSH_INTERVAL_S = 2.0


class MarketFeed:
    """Steps the market on a fixed cadence and publishes what happened."""

    def __init__(
        self,
        *,
        symbol: str,
        market: SimulatedMarket,
        candles: CandleSeries,
        intraday: dict[str, IntradaySeries],
        streams: WebSocketStreams,
        depth_interval_s: float,
        counters: dict[str, int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.symbol = symbol
        self.depth_interval_s = depth_interval_s
        self._market = market
        self._candles = candles
        self._intraday = intraday
        self._every_series: list[CandleSeries | IntradaySeries] = [candles, *intraday.values()]
        self._streams = streams
        self._counters = counters
        self._clock = clock
        ticks_per_second = max(1, round(1.0 / depth_interval_s))
        self.depth_streams = {
            "depth@100ms": DepthStream("depth@100ms", 1),
            "depth": DepthStream("depth", ticks_per_second),
        }
        self._task: asyncio.Task[None] | None = None
        self._last_kline_push = 0.0

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    def start(self) -> None:
        self._last_kline_push = asyncio.get_running_loop().time()
        self._task = asyncio.create_task(self._run(), name="binance-sim-ticker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += self.depth_interval_s
            delay = deadline - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                deadline = loop.time()  # fell far behind (debugger, suspended machine): do not burst
            try:
                self.tick(loop.time())
            except Exception:  # keep the market running; a bug here must be visible, not fatal
                log.exception("sim tick failed")

    def tick(self, loop_now: float) -> None:
        """One market step: depth events (through the depth streams' faults), trades, candles."""
        now_ms = self.now_ms()
        tick = self._market.step(now_ms)
        wire = WireDepth.from_market(tick.depth) if tick.depth is not None else None
        for key, stream in self.depth_streams.items():
            for event in stream.on_tick(wire):
                self._streams.publish(key, depth_update(self.symbol, event), depth_first_id=event.first_id)
                self._counters["depth_events_sent"] += 1
        for trade in tick.trades:
            for series in self._every_series:
                series.on_trade(
                    trade.price,
                    trade.qty,
                    not trade.buyer_is_maker,
                    trade.first_trade_id,
                    trade.last_trade_id,
                )
            self._streams.publish("aggTrade", agg_trade(self.symbol, trade, now_ms))
            self._counters["trades_sent"] += 1
        for candle in self._candles.roll(now_ms):
            self.publish_kline(candle, now_ms)
            log.info("sim candle %d closed (hour ended)", candle.open_ms)
        for interval, series in self._intraday.items():
            for candle in series.roll(now_ms):
                self.publish_kline(candle, now_ms, interval)
        if loop_now - self._last_kline_push >= KLINE_PUSH_INTERVAL_S:
            self._last_kline_push = loop_now
            self.publish_kline(self._candles.live, now_ms)
            for interval, series in self._intraday.items():
                self.publish_kline(series.live, now_ms, interval)

    def publish_kline(self, candle: Candle, now_ms: int, interval: str = "1h") -> None:
        self._streams.publish(f"kline_{interval}", kline(self.symbol, candle, now_ms, interval))
        self._counters["klines_sent"] += 1
