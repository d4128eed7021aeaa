"""Binance-protocol simulator: WebSocket streams + REST on one port, with fault injection.

The market logic lives in :mod:`apps.simulator.market` (pure); this module is the I/O shell:
a ``websockets`` server whose ``process_request`` hook answers plain HTTP (REST, control) and whose
connection handler streams depth/trade/kline frames to subscribers.

Fault methods arm a fault and return at once. They return an :class:`Armed` object that may also be
awaited (``sim.inject_gap()`` and ``await sim.inject_gap()`` both work); awaiting ``disconnect`` waits
until the connections are really closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import inspect
import json
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidMessage
from websockets.http11 import Request, Response
from websockets.protocol import CONNECTING, Protocol, State
from websockets.server import ServerProtocol

from apps.simulator.faults import (
    DISCONNECT_MODES,
    FRAME_KINDS,
    REST_FAULT_KINDS,
    DepthStream,
    RestFault,
    StaleSnapshots,
)
from apps.simulator.klines import CandleSeries
from apps.simulator.market import SimulatedMarket, TruthUnavailable, price_to_ticks
from apps.simulator.rest import (
    BANNED_MSG,
    DEPTH_DEFAULT_LIMIT,
    DEPTH_MAX_LIMIT,
    KLINE_INTERVALS,
    KLINES_DEFAULT_LIMIT,
    KLINES_MAX_LIMIT,
    TOO_MANY_REQUESTS_MSG,
    WEIGHT_LIMIT_1M,
    RateLimiter,
    RestError,
    check_symbol,
    endpoint_weight,
    int_param,
    parse_query,
    required_param,
)
from apps.simulator.wire import (
    WireDepth,
    agg_trade,
    combined,
    depth_snapshot,
    depth_update,
    dumps,
    exchange_info,
    fmt_price,
    fmt_qty,
    kline,
    kline_row,
)

log = logging.getLogger("apps.simulator")

MAX_CONTROL_BODY = 64 * 1024
KLINE_PUSH_INTERVAL_S = 2.0


@dataclass(slots=True)
class RestRequest:
    """One REST request as the simulator saw it (``monotonic_s`` = arrival, ``time.monotonic()``)."""

    monotonic_s: float
    method: str
    path: str
    query: str
    status: int = 0
    weight: int = 0
    used_weight_1m: int = 0
    fault: str | None = None


class Armed:
    """Returned by fault methods: already armed; awaiting it waits for any follow-up work and gives the value."""

    __slots__ = ("_tasks", "value")

    def __init__(self, value: Any = None, tasks: list[asyncio.Task[Any]] | None = None) -> None:
        self.value = value
        self._tasks = tasks or []

    def __await__(self) -> Generator[Any, None, Any]:
        if self._tasks:
            yield from asyncio.gather(*self._tasks, return_exceptions=True).__await__()
        return self.value


@dataclass(eq=False)
class _Client:
    conn: ServerConnection
    streams: list[str]
    combined: bool
    opened_monotonic: float
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    stall_until: float = 0.0
    first_depth_id: int | None = None
    frames_sent: int = 0


class _BodyReadingProtocol(ServerProtocol):
    """ServerProtocol that also reads a request body (Content-Length) so POST /sim/control works.

    websockets rejects handshake requests with a body; we hide Content-Length from its parser, then read
    the body ourselves and keep it in ``sim_body``.
    """

    sim_body: bytes = b""

    def parse(self) -> Generator[None]:
        if self.state is CONNECTING:
            body_length = 0

            def read_line(limit: int, exc_type: type[Exception]) -> Generator[None, None, bytes | bytearray]:
                nonlocal body_length
                line = yield from self.reader.read_line(limit, exc_type)
                name, sep, value = bytes(line).partition(b":")
                if sep and name.strip().lower() == b"content-length":
                    body_length = int(value.strip() or b"0")
                    return b"X-Sim-Content-Length:" + value
                return line

            try:
                request = yield from Request.parse(read_line)
                if body_length > MAX_CONTROL_BODY or body_length < 0:
                    raise ValueError(f"request body too large: {body_length} bytes")
                body = (yield from self.reader.read_exact(body_length)) if body_length else b""
            except Exception as exc:
                self.handshake_exc = InvalidMessage("did not receive a valid HTTP request")
                self.handshake_exc.__cause__ = exc
                self.send_eof()
                self.parser = self.discard()
                next(self.parser)
                yield
                return
            self.sim_body = bytes(body)
            self.events.append(request)
        yield from Protocol.parse(self)


class _SimConnection(ServerConnection):
    def __init__(self, protocol: ServerProtocol, *args: Any, **kwargs: Any) -> None:
        protocol.__class__ = _BodyReadingProtocol
        protocol.parser = protocol.parse()
        next(protocol.parser)
        super().__init__(protocol, *args, **kwargs)
        self.sim_streams: list[str] = []
        self.sim_combined = False
        self.sim_pongs = 0
        self.sim_client: _Client | None = None

    def acknowledge_pings(self, data: bytes) -> None:
        self.sim_pongs += 1  # a pong arrived (keepalive answered)
        super().acknowledge_pings(data)


class BinanceSimulator:
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
        self.stream_symbol = self.symbol.lower()
        self.depth_interval_s = depth_interval_s
        self.max_connection_age_s = max_connection_age_s
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self._clock = clock
        start_ms = self._now_ms()
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
            seed=seed, start_price_ticks=price_to_ticks(start_price), start_ms=start_ms,
            history_hours=kline_history_hours,
        )
        ticks_per_second = max(1, round(1.0 / depth_interval_s))
        self._depth_streams = {
            "depth@100ms": DepthStream("depth@100ms", 1),
            "depth": DepthStream("depth", ticks_per_second),
        }
        self.rest_log: list[RestRequest] = []
        self._limiter = RateLimiter(weight_limit_1m, ban_s)
        self._rest_faults: list[RestFault] = []
        self._stale = StaleSnapshots()
        self._clients: list[_Client] = []
        self._lag_until = 0.0
        self.connections_opened = 0
        self._pongs_of_closed = 0
        self.counters: dict[str, int] = {
            "depth_events_sent": 0, "trades_sent": 0, "klines_sent": 0, "frames_sent": 0,
            "rest_requests": 0, "faults_armed": 0,
        }
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._cond: asyncio.Condition | None = None
        self._stopping: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._last_kline_push = 0.0
        self.host = "127.0.0.1"
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on host:port (0 = a free port) and start the market ticker."""
        self._cond = asyncio.Condition()
        self._stopping = asyncio.Event()
        ws_logger = logging.getLogger("apps.simulator.websockets")
        if ws_logger.level == logging.NOTSET:
            ws_logger.setLevel(logging.WARNING)  # per-request handshake lines are noise; our own log says more
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            process_response=self._register,
            create_connection=_SimConnection,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.pong_timeout_s,
            open_timeout=None,
            max_size=2**16,
            server_header="binance-sim",
            logger=ws_logger,
        )
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        self._last_kline_push = asyncio.get_running_loop().time()
        self._ticker = asyncio.create_task(self._run_ticker(), name="binance-sim-ticker")
        log.info("sim started: ws=%s rest=%s symbol=%s mid=%s update_id=%d", self.ws_url, self.rest_url,
                 self.symbol, self.market.mid, self.market.update_id)

    async def stop(self) -> None:
        if self._server is None:
            return
        if self._stopping is not None:
            self._stopping.set()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._background):
            task.cancel()
        self._server = None
        log.info("sim stopped")

    async def __aenter__(self) -> BinanceSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._clients)

    @property
    def pings_answered(self) -> int:
        """Pongs received from clients (keepalive pings they answered), over all connections."""
        return self._pongs_of_closed + sum(c.conn.sim_pongs for c in self._clients if isinstance(c.conn, _SimConnection))

    async def wait_for_connections(self, n: int, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` WebSocket connections are open (TimeoutError otherwise)."""
        await self._wait_until(lambda: len(self._clients) >= n, timeout)

    async def wait_for_connections_opened(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` connections have ever been opened (reconnects count)."""
        await self._wait_until(lambda: self.connections_opened >= n, timeout)

    async def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        assert self._cond is not None, "simulator not started"
        async with asyncio.timeout(timeout), self._cond:
            await self._cond.wait_for(predicate)

    async def _notify(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ market test API (delegates)
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

    def close_candle(self) -> Armed:
        """Close the live 1h candle now (kline x=true); the next opens at its open time + 1 h."""
        candle = self.candles.force_close()
        self._publish("kline_1h", kline(self.symbol, candle, self._now_ms()))
        log.info("sim candle %d closed on request", candle.open_ms)
        return Armed(candle.open_ms)

    def truth_at(self, update_id: int) -> Any:
        return self.market.truth_at(update_id)

    def truth_top(self, update_id: int, n: int) -> Any:
        return self.market.truth_top(update_id, n)

    @property
    def update_id(self) -> int:
        return self.market.update_id

    @property
    def mid(self) -> Decimal:
        return self.market.mid

    # ------------------------------------------------------------------ faults
    def _armed(self, what: str) -> None:
        self.counters["faults_armed"] += 1
        self.counters[f"fault_{what}"] = self.counters.get(f"fault_{what}", 0) + 1

    def inject_gap(self, skip_ids: int = 5) -> Armed:
        """Drop the next depth event(s) on every depth stream until >= skip_ids ids were skipped."""
        if not isinstance(skip_ids, int) or skip_ids < 1:
            raise ValueError("skip_ids must be an integer >= 1")
        for stream in self._depth_streams.values():
            stream.gap_ids_left += skip_ids
        self._armed("gap")
        log.info("sim fault armed: gap of >= %d ids", skip_ids)
        return Armed()

    def inject_duplicate(self) -> Armed:
        """The next depth event is sent twice."""
        for stream in self._depth_streams.values():
            stream.duplicates += 1
        self._armed("duplicate")
        log.info("sim fault armed: duplicate depth event")
        return Armed()

    def inject_overlap(self) -> Armed:
        """The next depth event covers the previously sent ids too (U <= last sent u)."""
        for stream in self._depth_streams.values():
            stream.overlaps += 1
        self._armed("overlap")
        log.info("sim fault armed: overlapping depth event")
        return Armed()

    def inject_old_event(self) -> Armed:
        """Right after the next depth event, the previously sent one is sent again (u < last u)."""
        for stream in self._depth_streams.values():
            stream.old_events += 1
        self._armed("old_event")
        log.info("sim fault armed: old depth event")
        return Armed()

    def snapshot_stale(self, times: int = 1, behind_ids: int | None = None) -> Armed:
        """The next ``times`` depth snapshots are older than every open client's first depth event.

        ``behind_ids``: at least this many ids behind the current update id (default 50).
        """
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be an integer >= 1")
        if behind_ids is not None and (not isinstance(behind_ids, int) or behind_ids < 1):
            raise ValueError("behind_ids must be an integer >= 1")
        self._stale.remaining += times
        self._stale.behind_ids = behind_ids
        self._armed("snapshot_stale")
        log.info("sim fault armed: %d stale snapshot(s)", times)
        return Armed()

    def ws_lag(self, seconds: float) -> Armed:
        """Hold back all WS frames (queued, then delivered in order) for ``seconds``."""
        seconds = _positive_seconds(seconds, "seconds")
        loop = asyncio.get_running_loop()
        self._lag_until = max(self._lag_until, loop.time() + seconds)
        self._armed("ws_lag")
        log.info("sim fault armed: WS frames held back for %.3fs", seconds)
        return Armed()

    def stall(self, seconds: float) -> Armed:
        """Open connections go silent: no frames, no pings, no pongs (reading paused) for ``seconds``."""
        seconds = _positive_seconds(seconds, "seconds")
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        for client in list(self._clients):
            conn = client.conn
            client.stall_until = max(client.stall_until, until)
            if conn.keepalive_task is not None:
                conn.keepalive_task.cancel()
                conn.keepalive_task = None
            conn.transport.pause_reading()
            loop.call_later(seconds, self._unstall, client)
        self._armed("stall")
        log.info("sim fault armed: %d connection(s) stalled for %.3fs", len(self._clients), seconds)
        return Armed()

    def _unstall(self, client: _Client) -> None:
        if client not in self._clients or client.conn.transport.is_closing():
            return
        if asyncio.get_running_loop().time() < client.stall_until - 1e-3:
            return  # a longer stall was armed meanwhile; its own timer resumes
        client.conn.transport.resume_reading()
        if client.conn.keepalive_task is None:
            client.conn.start_keepalive()
        log.info("sim connection %s resumed after stall", client.conn.id)

    def inject_frame(self, kind: str) -> Armed:
        """Send one odd frame to every open connection now (after frames already queued)."""
        if kind not in FRAME_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FRAME_KINDS)}; got {kind!r}")
        now_ms = self._now_ms()
        for client in self._clients:
            client.queue.put_nowait(self._odd_frame(kind, client, now_ms))
        self._armed(f"frame_{kind}")
        log.info("sim fault: %s frame sent to %d connection(s)", kind, len(self._clients))
        return Armed()

    def disconnect(self, mode: str = "abrupt") -> Armed:
        """Drop every open connection: "abrupt" (TCP abort, no close frame) or "going_away" (close 1001)."""
        if mode not in DISCONNECT_MODES:
            raise ValueError(f"mode must be one of {', '.join(DISCONNECT_MODES)}; got {mode!r}")
        tasks: list[asyncio.Task[Any]] = []
        for client in list(self._clients):
            if mode == "abrupt":
                client.conn.transport.abort()
                tasks.append(asyncio.ensure_future(client.conn.wait_closed()))
            else:
                tasks.append(asyncio.ensure_future(client.conn.close(1001, "going away")))
        self._armed(f"disconnect_{mode}")
        log.info("sim fault: %d connection(s) disconnected (%s)", len(tasks), mode)
        return Armed(len(tasks), tasks)

    def rest_fault(
        self, kind: str, times: int = 1, retry_after: float = 1.0, delay_s: float = 30.0, path: str | None = None
    ) -> Armed:
        """The next ``times`` REST requests (to ``path``, default any /api/ path) fail with ``kind``.

        "429"/"418" carry Retry-After ``retry_after`` s and open that window (a request inside a 429 window
        escalates to 418); "500"; "timeout" answers only after ``delay_s`` s; "error_body" is a 200 whose
        body is a Binance error.
        """
        if kind not in REST_FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(REST_FAULT_KINDS)}; got {kind!r}")
        if not isinstance(times, int) or times < 1:
            raise ValueError("times must be an integer >= 1")
        retry_after = _positive_seconds(retry_after, "retry_after")
        delay_s = _positive_seconds(delay_s, "delay_s")
        if path is not None and not path.startswith("/api/"):
            raise ValueError("path must start with /api/")
        self._rest_faults.append(RestFault(kind, times, retry_after, delay_s, path))
        self._armed(f"rest_{kind}")
        log.info("sim fault armed: next %d REST request(s) to %s -> %s", times, path or "/api/*", kind)
        return Armed()

    # ------------------------------------------------------------------ ticker and publishing
    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def _run_ticker(self) -> None:
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
                self._tick(loop.time())
            except Exception:  # keep the market running; a bug here must be visible, not fatal
                log.exception("sim tick failed")

    def _tick(self, loop_now: float) -> None:
        now_ms = self._now_ms()
        tick = self.market.step(now_ms)
        wire = WireDepth.from_market(tick.depth) if tick.depth is not None else None
        for key, stream in self._depth_streams.items():
            for event in stream.on_tick(wire):
                self._publish(key, depth_update(self.symbol, event), depth_first_id=event.first_id)
                self.counters["depth_events_sent"] += 1
        for trade in tick.trades:
            self.candles.on_trade(trade.price, trade.qty, not trade.buyer_is_maker, trade.first_trade_id,
                                  trade.last_trade_id)
            self._publish("aggTrade", agg_trade(self.symbol, trade, now_ms))
            self.counters["trades_sent"] += 1
        for candle in self.candles.roll(now_ms):
            self._publish("kline_1h", kline(self.symbol, candle, now_ms))
            log.info("sim candle %d closed (hour ended)", candle.open_ms)
        if loop_now - self._last_kline_push >= KLINE_PUSH_INTERVAL_S:
            self._last_kline_push = loop_now
            self._publish("kline_1h", kline(self.symbol, self.candles.live, now_ms))

    def _stream_key(self, stream: str) -> str | None:
        """Internal key for a full stream name, or None if we do not serve it."""
        prefix = self.stream_symbol + "@"
        if not stream.startswith(prefix):
            return None
        kind = stream[len(prefix):]
        if kind in ("depth", "depth@1000ms"):
            return "depth"
        if kind in ("depth@100ms", "aggTrade", "kline_1h"):
            return kind
        return None

    def _publish(self, key: str, payload: dict[str, Any], depth_first_id: int | None = None) -> None:
        raw: str | None = None
        for client in list(self._clients):
            if client.conn.state is State.CLOSED:  # opening failed after registration; no handler runs
                self._forget(client)
                continue
            for stream in client.streams:
                if self._stream_key(stream) != key:
                    continue
                if client.combined:
                    frame = dumps(combined(stream, payload))
                else:
                    raw = raw if raw is not None else dumps(payload)
                    frame = raw
                client.queue.put_nowait(frame)
                if depth_first_id is not None and client.first_depth_id is None:
                    client.first_depth_id = depth_first_id
        if key == "kline_1h":
            self.counters["klines_sent"] += 1

    def _odd_frame(self, kind: str, client: _Client, now_ms: int) -> str:
        depth_stream = next((s for s in client.streams if "@depth" in s), client.streams[0] if client.streams
                            else f"{self.stream_symbol}@depth@100ms")
        last_u = self.market.update_id

        def wrap(payload: dict[str, Any], stream: str) -> str:
            return dumps(combined(stream, payload)) if client.combined else dumps(payload)

        if kind == "malformed_json":
            return '{"e":"depthUpdate","E":' + str(now_ms) + ',"s":"' + self.symbol + '","U":,,"b":[["1.0"'
        if kind == "truncated":
            bids, asks = self.market.top_ints(3)
            event = WireDepth(last_u + 1, last_u + 2, now_ms, tuple(bids[:1]), tuple(asks[:1]))
            text = wrap(depth_update(self.symbol, event), depth_stream)
            return text[: len(text) // 2]
        if kind == "error_payload":
            return dumps({"code": -1100, "msg": "Illegal characters found in a parameter."})
        if kind == "wrong_symbol":
            payload = {
                "e": "depthUpdate", "E": now_ms, "s": "ETHEUR", "U": last_u + 1, "u": last_u + 3,
                "b": [["3012.34000000", "1.25000000"], ["3012.10000000", "0.00000000"]],
                "a": [["3013.01000000", "2.00000000"]],
            }
            return wrap(payload, depth_stream)
        if kind == "unknown_event":
            return wrap({"e": "somethingNew", "E": now_ms, "s": self.symbol, "x": 1}, depth_stream)
        if kind == "server_shutdown":
            return dumps({"e": "serverShutdown", "E": now_ms})
        return dumps({"event": {"e": "serverShutdown", "E": now_ms}})  # server_shutdown_ws_api

    # ------------------------------------------------------------------ WebSocket connections
    async def _register(self, conn: ServerConnection, request: Request, response: Response) -> None:
        """process_response hook: subscribe the client before the 101 goes out, so that once a client's
        connect() returns, every frame published afterwards reaches it."""
        if response.status_code != 101 or not isinstance(conn, _SimConnection):
            return
        client = _Client(conn, list(conn.sim_streams), conn.sim_combined, asyncio.get_running_loop().time())
        conn.sim_client = client
        self._clients.append(client)
        self.connections_opened += 1
        log.info("sim connection %s opened: streams=%s combined=%s (open now: %d)", conn.id, client.streams,
                 client.combined, len(self._clients))
        await self._notify()

    async def _handle(self, conn: ServerConnection) -> None:
        assert isinstance(conn, _SimConnection) and conn.sim_client is not None
        loop = asyncio.get_running_loop()
        client = conn.sim_client
        sender = asyncio.create_task(self._send_loop(client))
        age_timer = loop.call_later(self.max_connection_age_s, self._expire, client)
        try:
            async for message in conn:
                await self._on_message(client, message)
        except ConnectionClosed:
            pass
        finally:
            age_timer.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self._forget(client)
            self._pongs_of_closed += conn.sim_pongs
            log.info("sim connection %s closed: code=%s reason=%r (open now: %d)", conn.id, conn.close_code,
                     conn.close_reason, len(self._clients))
            await self._notify()

    def _forget(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.remove(client)

    def _expire(self, client: _Client) -> None:
        log.info("sim connection %s reached max age %.1fs, closing", client.conn.id, self.max_connection_age_s)
        task = asyncio.ensure_future(client.conn.close(1001, "max connection age reached"))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_loop(self, client: _Client) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await client.queue.get()
            while (hold := max(self._lag_until, client.stall_until) - loop.time()) > 0:
                await asyncio.sleep(hold)
            try:
                await client.conn.send(frame)
            except ConnectionClosed:
                return
            client.frames_sent += 1
            self.counters["frames_sent"] += 1

    async def _on_message(self, client: _Client, message: str | bytes) -> None:
        """Binance's live subscribe API: {"method": "SUBSCRIBE"|"UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS", ...}."""
        try:
            request = json.loads(message)
            method = request["method"]
            request_id = request.get("id")
            params = request.get("params", [])
        except (ValueError, KeyError, TypeError, AttributeError):
            await client.conn.send(dumps({"error": {"code": 3, "msg": "Invalid JSON: expected a request"}, "id": None}))
            return
        if method == "LIST_SUBSCRIPTIONS":
            await client.conn.send(dumps({"result": list(client.streams), "id": request_id}))
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            await client.conn.send(dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id}))
            return
        for stream in params:
            if not isinstance(stream, str) or self._stream_key(stream) is None:
                await client.conn.send(
                    dumps({"error": {"code": 2, "msg": f"Invalid request: unknown stream {stream!r}"}, "id": request_id})
                )
                return
        for stream in params:
            if method == "SUBSCRIBE" and stream not in client.streams:
                client.streams.append(stream)
            elif method == "UNSUBSCRIBE" and stream in client.streams:
                client.streams.remove(stream)
        await client.conn.send(dumps({"result": None, "id": request_id}))

    # ------------------------------------------------------------------ HTTP (REST, control) and handshake
    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        assert isinstance(conn, _SimConnection)
        path, _, query = request.path.partition("?")
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return self._accept_streams(conn, path, query)
        if path.startswith("/api/"):
            return await self._serve_rest(request.method, path, query)
        if path.startswith("/sim/"):
            return await self._serve_sim(request.method, path, query, getattr(conn.protocol, "sim_body", b""))
        return _json_response(404, {"code": -1000, "msg": f"Unknown path {path}"})

    def _accept_streams(self, conn: _SimConnection, path: str, query: str) -> Response | None:
        if path == "/stream":
            names = parse_query(query).get("streams", [""])[0]
            streams = [s for s in names.split("/") if s]
            conn.sim_combined = True
        elif path == "/ws" or path.startswith("/ws/"):
            streams = [s for s in path[len("/ws"):].split("/") if s]
            conn.sim_combined = False
        else:
            return _json_response(404, {"code": -1000, "msg": f"Unknown path {path}"})
        bad = [s for s in streams if self._stream_key(s) is None]
        if bad:
            return _json_response(400, {"code": -1121, "msg": f"Invalid stream name(s): {', '.join(bad)}"})
        conn.sim_streams = streams
        return None

    async def _serve_rest(self, method: str, path: str, query_string: str) -> Response:
        mono = time.monotonic()
        entry = RestRequest(mono, method, path, query_string)
        self.rest_log.append(entry)
        self.counters["rest_requests"] += 1
        query = parse_query(query_string)
        entry.weight = endpoint_weight(path, query)
        admission = self._limiter.admit(entry.weight, self._clock(), mono)
        entry.used_weight_1m = admission.used_weight
        headers = {"X-MBX-USED-WEIGHT-1M": str(admission.used_weight), "X-MBX-USED-WEIGHT": str(admission.used_weight)}
        if admission.status:
            entry.status = admission.status
            log.info("sim REST %s %s -> %d (%s)", path, query_string, admission.status, admission.reason)
            return self._limited(admission.status, admission.retry_after_s, headers)
        fault = self._take_rest_fault(path)
        if fault is not None:
            entry.fault = fault.kind
            log.info("sim REST %s %s -> injected %s", path, query_string, fault.kind)
            if fault.kind == "429":
                self._limiter.force_429(fault.retry_after_s, mono)
                entry.status = 429
                return self._limited(429, _ceil_s(fault.retry_after_s), headers)
            if fault.kind == "418":
                self._limiter.force_418(fault.retry_after_s, mono)
                entry.status = 418
                return self._limited(418, _ceil_s(fault.retry_after_s), headers)
            if fault.kind == "500":
                entry.status = 500
                return _json_response(
                    500, {"code": -1000, "msg": "An unknown error occurred while processing the request."}, headers
                )
            if fault.kind == "error_body":
                entry.status = 200
                return _json_response(
                    200, {"code": -1003, "msg": TOO_MANY_REQUESTS_MSG.format(limit=self._limiter.limit)}, headers
                )
            assert self._stopping is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay_s)
        try:
            if method != "GET":
                raise RestError(405, -1000, f"Method {method} not allowed; use GET")
            body = self._route_rest(path, query)
            status = 200
        except RestError as exc:
            status, body = exc.status, exc.body()
        entry.status = status
        return _json_response(status, body, headers)

    def _limited(self, status: int, retry_after_s: int, headers: dict[str, str]) -> Response:
        headers = {**headers, "Retry-After": str(retry_after_s)}
        if status == 429:
            body = {"code": -1003, "msg": TOO_MANY_REQUESTS_MSG.format(limit=self._limiter.limit)}
        else:
            until = int((self._clock() + retry_after_s) * 1000)
            body = {"code": -1003, "msg": BANNED_MSG.format(until=until)}
        return _json_response(status, body, headers)

    def _take_rest_fault(self, path: str) -> RestFault | None:
        for fault in self._rest_faults:
            if fault.path is None or fault.path == path:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._rest_faults.remove(fault)
                return fault
        return None

    def _route_rest(self, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/time":
            return {"serverTime": self._now_ms()}
        if path == "/api/v3/exchangeInfo":
            check_symbol(query, self.symbol, required=False)
            return exchange_info(self.symbol, self._now_ms(), self._limiter.limit)
        if path == "/api/v3/depth":
            check_symbol(query, self.symbol)
            limit = int_param(query, "limit", default=DEPTH_DEFAULT_LIMIT, minimum=1)
            assert limit is not None
            return self._snapshot(min(limit, DEPTH_MAX_LIMIT))
        if path == "/api/v3/klines":
            check_symbol(query, self.symbol)
            interval = required_param(query, "interval")
            if interval not in KLINE_INTERVALS:
                raise RestError(400, -1120, "Invalid interval.")
            if interval != "1h":
                raise RestError(400, -1120, "Invalid interval: the simulator serves interval=1h only.")
            start = int_param(query, "startTime", minimum=0)
            end = int_param(query, "endTime", minimum=0)
            limit = int_param(query, "limit", default=KLINES_DEFAULT_LIMIT, minimum=1, maximum=KLINES_MAX_LIMIT)
            assert limit is not None
            if start is not None and end is not None and start > end:
                raise RestError(400, -1130, "Data sent for parameter 'startTime' is not valid: startTime > endTime.")
            return [kline_row(c) for c in self.candles.query(start, end, limit)]
        raise RestError(404, -1000, f"Unknown endpoint {path}")

    def _snapshot(self, limit: int) -> dict[str, Any]:
        if self._stale.remaining > 0:
            self._stale.remaining -= 1
            current = self.market.update_id
            stale_id = current - (self._stale.behind_ids or 50)
            firsts = [c.first_depth_id for c in self._clients if c.first_depth_id is not None]
            if firsts:
                stale_id = min(stale_id, min(firsts) - 5)
            stale_id = max(stale_id, self.market.oldest_update_id)
            bids, asks = self.market.truth_ints(stale_id, limit)
            log.info("sim REST depth: serving stale snapshot lastUpdateId=%d (current %d)", stale_id, current)
            return depth_snapshot(stale_id, bids, asks)
        bids, asks = self.market.top_ints(limit)
        return depth_snapshot(self.market.update_id, bids, asks)

    async def _serve_sim(self, method: str, path: str, query_string: str, body: bytes) -> Response:
        query = parse_query(query_string)
        try:
            if path == "/sim/state" and method == "GET":
                return _json_response(200, self.state())
            if path == "/sim/truth" and method == "GET":
                return _json_response(200, self._truth_answer(query))
            if path == "/sim/control" and method == "POST":
                return _json_response(200, await self._control(body))
        except RestError as exc:
            return _json_response(exc.status, {"error": exc.msg})
        return _json_response(404, {"error": f"unknown control endpoint {method} {path}"})

    def state(self) -> dict[str, Any]:
        """What /sim/state answers."""
        bid_levels, ask_levels = self.market.level_counts()
        return {
            "symbol": self.symbol,
            "mid": str(self.market.mid),
            "best_bid": str(self.market.best_bid),
            "best_ask": str(self.market.best_ask),
            "update_id": self.market.update_id,
            "oldest_update_id": self.market.oldest_update_id,
            "levels": {"bids": bid_levels, "asks": ask_levels},
            "connections": self.connections,
            "connections_opened": self.connections_opened,
            "pings_answered": self.pings_answered,
            "live_candle_open_ms": self.candles.live.open_ms,
            "walls": [
                {"wall_id": w.wall_id, "side": w.side, "price": fmt_price(w.price), "remaining": fmt_qty(w.remaining),
                 "state": w.state}
                for w in self.market.walls()
            ],
            "counters": {**self.counters, "market_events": self.market.events_emitted,
                         "market_trades": self.market.trades_emitted, "fast_moves": self.market.fast_moves},
        }

    def _truth_answer(self, query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            update_id = int_param(query, "update_id", default=self.market.update_id, minimum=0)
            limit = int_param(query, "limit", default=100, minimum=1, maximum=100_000)
        except RestError as exc:
            raise RestError(400, exc.code, exc.msg) from exc
        assert update_id is not None and limit is not None
        try:
            bids, asks = self.market.truth_ints(update_id, limit)
        except TruthUnavailable as exc:
            raise RestError(400, -1, f"update_id: {exc}") from exc
        return {
            "update_id": update_id,
            "bids": [[fmt_price(p), fmt_qty(q)] for p, q in bids],
            "asks": [[fmt_price(p), fmt_qty(q)] for p, q in asks],
        }

    _CONTROL_PARAMS: dict[str, dict[str, type]] = {
        "inject_gap": {"skip_ids": int},
        "inject_duplicate": {},
        "inject_overlap": {},
        "inject_old_event": {},
        "snapshot_stale": {"times": int, "behind_ids": int},
        "ws_lag": {"seconds": float},
        "stall": {"seconds": float},
        "inject_frame": {"kind": str},
        "disconnect": {"mode": str},
        "rest_fault": {"kind": str, "times": int, "retry_after": float, "delay_s": float, "path": str},
        "place_wall": {"side": str, "price": Decimal, "qty": Decimal},
        "pull_wall": {"wall_id": str},
        "fast_move": {"direction": str, "distance": Decimal},
        "close_candle": {},
    }

    async def _control(self, body: bytes) -> dict[str, Any]:
        try:
            request = json.loads(body or b"null")
        except ValueError as exc:
            raise RestError(400, -1, f"body: not valid JSON ({exc})") from exc
        if not isinstance(request, dict):
            raise RestError(400, -1, 'body: expected a JSON object like {"action": "inject_gap", "skip_ids": 5}')
        action = request.pop("action", None)
        if action not in self._CONTROL_PARAMS:
            raise RestError(400, -1, f"action: must be one of {', '.join(self._CONTROL_PARAMS)}; got {action!r}")
        spec = self._CONTROL_PARAMS[action]
        method = getattr(self, action)
        unknown = sorted(set(request) - set(spec))
        if unknown:
            raise RestError(400, -1, f"{unknown[0]}: unknown parameter for {action} (allowed: {', '.join(spec) or 'none'})")
        signature = inspect.signature(method)
        kwargs: dict[str, Any] = {}
        for name, kind in spec.items():
            if name not in request:
                if signature.parameters[name].default is inspect.Parameter.empty:
                    raise RestError(400, -1, f"{name}: required for {action}")
                continue
            kwargs[name] = _coerce(name, request[name], kind)
        try:
            result = method(**kwargs)
            if isinstance(result, Armed):
                result = await result
        except (ValueError, KeyError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise RestError(400, -1, f"{action}: {message}") from exc
        log.info("sim control: %s %s", action, kwargs)
        return {"ok": True, "action": action, "result": result}


def _coerce(name: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RestError(400, -1, f"{name}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RestError(400, -1, f"{name}: expected a number, got {value!r}")
        return float(value)
    if kind is Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise RestError(400, -1, f"{name}: expected a decimal string, got {value!r}")
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise RestError(400, -1, f"{name}: expected a decimal string, got {value!r}") from exc
    if not isinstance(value, str):
        raise RestError(400, -1, f"{name}: expected a string, got {value!r}")
    return value


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{name}: expected a decimal, got {value!r}") from exc


def _positive_seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return float(value)


def _ceil_s(seconds: float) -> int:
    whole = int(seconds)
    return max(1, whole if whole == seconds else whole + 1)


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    data = dumps(body).encode()
    pairs = [
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Content-Length", str(len(data))),
        ("Connection", "close"),
    ]
    pairs.extend((headers or {}).items())
    return Response(status, http.HTTPStatus(status).phrase, Headers(pairs), data)


__all__ = ["Armed", "BinanceSimulator", "RestRequest"]
