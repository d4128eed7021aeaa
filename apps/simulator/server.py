"""Binance-protocol simulator: WebSocket streams + REST + control on one port, with fault injection.

:class:`BinanceSimulator` is the facade the service's tests, ``bench/`` and ``serve --simulator`` use;
it wires and delegates to the parts:

- :mod:`apps.simulator.market` — the pure simulated market (true book, ids, trades, walls, history);
- :mod:`apps.simulator.feed` — steps the market every depth interval and publishes the payloads;
- :mod:`apps.simulator.http_front` — the one-port HTTP/1.1 front (why it exists: see its docstring);
- :mod:`apps.simulator.ws_server` — stream URLs, subscriptions, send queues (over
  :mod:`apps.simulator.websocket`, websockets' Sans-I/O protocol);
- :mod:`apps.simulator.rest` — the /api/v3 REST app; :mod:`apps.simulator.control` — /sim/state,
  /sim/truth and the /sim/control RPC;
- :mod:`apps.simulator.faults` — the fault catalogue (every ``inject_*``/fault method here delegates).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from websockets.http11 import Response

from apps.book.domain.events import Level
from apps.simulator.control import ControlApi
from apps.simulator.fault_controls import FaultControls
from apps.simulator.faults import Armed, FaultCatalogue
from apps.simulator.feed import MarketFeed
from apps.simulator.http_front import HttpRequest, OnePortServer, json_response
from apps.simulator.intraday import IntradaySeries
from apps.simulator.klines import CandleSeries
from apps.simulator.market import SimulatedMarket, price_to_ticks
from apps.simulator.odd_frames import OddFrames
from apps.simulator.rest import RestApp, RestRequest
from apps.simulator.rest_rules import WEIGHT_LIMIT_1M, RateLimiter
from apps.simulator.served import ServedOnOnePort
from apps.simulator.ws_server import WebSocketStreams

log = logging.getLogger("apps.simulator")


INTRADAY_INTERVALS = {"5m": 5, "15m": 15}  # served besides 1h: interval -> minutes

COUNTER_NAMES = (
    "depth_events_sent",
    "trades_sent",
    "klines_sent",
    "frames_sent",
    "rest_requests",
    "faults_armed",
)


class BinanceSimulator(FaultControls, ServedOnOnePort):
    """A local Binance spot endpoint for one symbol: ``ws_url`` streams, ``rest_url`` REST + control."""

    def __init__(
        self,
        *,
        symbol: str = "BTCEUR",
        seed: int = 1,
        start_price: Decimal = Decimal("87000.00"),
        depth_interval_s: float = 0.1,
        levels_per_side: int = 1500,
        random_fast_moves: bool = True,
        max_connection_age_s: float = 86400,
        ping_interval_s: float = 20,
        clock: Callable[[], float] = time.time,
        pong_timeout_s: float = 60,
        weight_limit_1m: int = WEIGHT_LIMIT_1M,
        ban_s: float = 120.0,
        kline_history_hours: int = 2000,
        background_walls: bool = True,
        history_s: float = 1800.0,
    ) -> None:
        if depth_interval_s <= 0:
            raise ValueError("depth_interval_s must be positive")
        self.symbol = symbol.upper()
        self.depth_interval_s = depth_interval_s
        start_ms = int(clock() * 1000)
        self.market = SimulatedMarket(
            seed=seed,
            start_price=start_price,
            levels_per_side=levels_per_side,
            random_fast_moves=random_fast_moves,
            start_ms=start_ms,
            history_ms=int(history_s * 1000),
            background_walls=background_walls,
        )
        self.candles = CandleSeries(
            seed=seed,
            start_price_ticks=price_to_ticks(start_price),
            start_ms=start_ms,
            history_hours=kline_history_hours,
        )
        # 5m and 15m: split from the 1h history, then live on their own (apps/simulator/intraday.py)
        self.intraday = {
            interval: IntradaySeries(
                self.candles.closed,
                minutes * 60_000,
                seed=seed,
                start_ms=start_ms,
                start_price_ticks=self.candles.live.open,
            )
            for interval, minutes in INTRADAY_INTERVALS.items()
        }
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._build_servers(
            max_connection_age_s, ping_interval_s, pong_timeout_s, weight_limit_1m, ban_s, clock
        )
        self._control = ControlApi(self)
        self._front: OnePortServer | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def _build_servers(
        self,
        max_connection_age_s: float,
        ping_interval_s: float,
        pong_timeout_s: float,
        weight_limit_1m: int,
        ban_s: float,
        clock: Callable[[], float],
    ) -> None:
        """The WebSocket streams, the market feed, the fault catalogue and the REST app."""
        self._streams = WebSocketStreams(
            stream_symbol=self.symbol.lower(),
            counters=self.counters,
            max_connection_age_s=max_connection_age_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
        )
        self._feed = MarketFeed(
            symbol=self.symbol,
            market=self.market,
            candles=self.candles,
            intraday=self.intraday,
            streams=self._streams,
            depth_interval_s=self.depth_interval_s,
            counters=self.counters,
            clock=clock,
        )
        self.faults = FaultCatalogue(
            depth_streams=self._feed.depth_streams,
            streams=self._streams,
            counters=self.counters,
            odd_frames=OddFrames(symbol=self.symbol, market=self.market),
            now_ms=self._feed.now_ms,
        )
        self._rest = RestApp(
            symbol=self.symbol,
            market=self.market,
            candles=self.candles,
            intraday=self.intraday,
            faults=self.faults,
            streams=self._streams,
            limiter=RateLimiter(weight_limit_1m, ban_s),
            counters=self.counters,
            clock=clock,
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 = a free port) and start the market ticker."""
        self._streams.open()
        self._rest.open()
        front = OnePortServer(self._answer_http, self._streams.serve)
        self.host, self.port = await front.start(host, port)
        self._front = front
        self._feed.start()
        log.info(
            "sim started: ws=%s rest=%s symbol=%s mid=%s update_id=%d",
            self.ws_url,
            self.rest_url,
            self.symbol,
            self.market.mid,
            self.market.update_id,
        )

    async def stop(self) -> None:
        """Stop the ticker, close every connection (WebSockets with 1001) and stop listening."""
        if self._front is None:
            return
        front, self._front = self._front, None
        self._rest.release_delayed_answers()
        await self._feed.stop()
        front.close()
        await self._streams.close_all()
        await front.wait_closed()
        log.info("sim stopped")

    async def _answer_http(self, request: HttpRequest) -> Response:
        if request.path.startswith("/api/"):
            return await self._rest.answer(request)
        if request.path.startswith("/sim/"):
            return await self._control.answer(request)
        return json_response(404, {"code": -1000, "msg": f"Unknown path {request.path}"})

    # ------------------------------------------------------------------ what it serves, who is connected
    @property
    def connections_opened(self) -> int:
        return self._streams.connections_opened

    @property
    def pings_answered(self) -> int:
        """Pongs received from clients (keepalive pings they answered), over all connections."""
        return self._streams.pings_answered

    @property
    def rest_log(self) -> list[RestRequest]:
        return self._rest.rest_log

    async def wait_for_connections(self, n: int, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` WebSocket connections are open (TimeoutError otherwise)."""
        await self._streams.wait_until(lambda: len(self._streams.clients) >= n, timeout)

    async def wait_for_connections_opened(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` connections have ever been opened (reconnects count)."""
        await self._streams.wait_until(lambda: self._streams.connections_opened >= n, timeout)

    def state(self) -> dict[str, Any]:
        """What /sim/state answers."""
        return self._control.state()

    # ------------------------------------------------------------------ market test API (delegates)
    @property
    def update_id(self) -> int:
        return self.market.update_id

    @property
    def mid(self) -> Decimal:
        return self.market.mid

    def truth_at(self, update_id: int) -> tuple[list[Level], list[Level]]:
        return self.market.truth_at(update_id)

    def truth_top(self, update_id: int, n: int) -> tuple[list[Level], list[Level]]:
        return self.market.truth_top(update_id, n)

    def place_wall(self, side: str, price: Decimal, qty: Decimal) -> str:
        wall_id = self.market.place_wall(side, _decimal(price, "price"), _decimal(qty, "qty"))
        log.info("sim wall %s placed: %s %s @ %s", wall_id, side, qty, price)
        return wall_id

    def pull_wall(self, wall_id: str) -> None:
        self.market.pull_wall(wall_id)
        log.info("sim wall %s pulled", wall_id)

    def fast_move(self, direction: str, distance: Decimal) -> None:
        self.market.fast_move(direction, _decimal(distance, "distance"))
        log.info("sim fast move %s by %s queued", direction, distance)

    def close_candle(self, interval: str = "1h") -> Armed:
        """Close the live candle of `interval` (1h, 5m or 15m) now (kline x=true); the next opens at
        its open time + the interval."""
        if interval != "1h" and interval not in self.intraday:
            raise ValueError(f"interval: must be 1h, {', '.join(self.intraday)}, got {interval!r}")
        series = self.candles if interval == "1h" else self.intraday[interval]
        candle = series.force_close()
        self._feed.publish_kline(candle, self._feed.now_ms(), interval)
        log.info("sim %s candle %d closed on request", interval, candle.open_ms)
        return Armed(candle.open_ms)


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{name}: expected a decimal, got {value!r}") from exc


__all__ = ["Armed", "BinanceSimulator", "RestRequest"]
