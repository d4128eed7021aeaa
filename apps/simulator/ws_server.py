"""The simulator's WebSocket side: Binance's stream URLs, one send queue per client, the live
SUBSCRIBE API, the connection age limit, and the hooks the faults use (hold, stall, odd frames,
disconnect).

URLs: ``/ws/<stream>[/<stream>...]`` (raw payloads) and ``/stream?streams=<a>/<b>`` (payloads wrapped
as ``{"stream", "data"}``); streams are ``<symbol>@depth``, ``@depth@1000ms``, ``@depth@100ms``,
``@aggTrade`` and ``@kline_1h``, ``@kline_5m``, ``@kline_15m``. An unknown path is a 404 and an unknown stream a 400, both with
Binance-style JSON bodies, before any upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.protocol import State

from apps.simulator.http_front import SERVER_HEADER, HttpRequest, json_response
from apps.simulator.rest_rules import parse_query
from apps.simulator.websocket import WebSocketConnection
from apps.simulator.wire import combined, dumps

log = logging.getLogger("apps.simulator")

MAX_MESSAGE_BYTES = 2**16
CLOSE_GOING_AWAY = 1001


def stream_key(stream_symbol: str, stream: str) -> str | None:
    """Internal key for a full stream name, or None if we do not serve it."""
    prefix = stream_symbol + "@"
    if not stream.startswith(prefix):
        return None
    kind = stream[len(prefix) :]
    if kind in ("depth", "depth@1000ms"):
        return "depth"
    if kind in ("depth@100ms", "aggTrade", "kline_1h", "kline_5m", "kline_15m"):
        return kind
    return None


@dataclass(eq=False)
class StreamClient:
    """One open connection: its streams, its outgoing frames, and how far it got."""

    conn: WebSocketConnection
    streams: list[str]
    combined: bool
    opened_monotonic: float
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    stall_until: float = 0.0
    first_depth_id: int | None = None
    frames_sent: int = 0


class FaultEffects:
    """What the faults do to the open streams (held frames, stalls, refused handshakes): the state
    WebSocketStreams consults when it serves and sends."""

    clients: list[StreamClient]
    _lag_until: float
    _refuse_until: float

    def refuse(self, seconds: float) -> None:
        """WebSocket handshakes are answered 503 for ``seconds`` from now (the exchange is down)."""
        self._refuse_until = asyncio.get_running_loop().time() + seconds

    def hold_frames(self, seconds: float) -> None:
        """Every client's frames wait (queued, in order) until ``seconds`` from now."""
        self._lag_until = max(self._lag_until, asyncio.get_running_loop().time() + seconds)

    def stall(self, seconds: float) -> int:
        """Open connections go silent for ``seconds``: no frames, no pings, no pongs. Returns how many."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        for client in self.clients:
            client.stall_until = max(client.stall_until, until)
            client.conn.pause_reading()
            loop.call_later(seconds, self._unstall, client)
        return len(self.clients)

    def _unstall(self, client: StreamClient) -> None:
        if client not in self.clients or client.conn.state is State.CLOSED:
            return
        if asyncio.get_running_loop().time() < client.stall_until - 1e-3:
            return  # a longer stall was armed meanwhile; its own timer resumes
        client.conn.resume_reading()
        log.info("sim connection %s resumed after stall", client.conn.id)


class WebSocketStreams(FaultEffects):
    """All WebSocket clients of one symbol's streams."""

    def __init__(
        self,
        *,
        stream_symbol: str,
        counters: dict[str, int],
        max_connection_age_s: float,
        ping_interval_s: float | None,
        pong_timeout_s: float | None,
        key_of: Callable[[str], str | None] | None = None,
    ) -> None:
        self.stream_symbol = stream_symbol
        # a stream name -> the key its payloads are published under (None: not served); the
        # simulator's own streams by default, the recorded ones on replay
        self._key_of = key_of
        self.max_connection_age_s = max_connection_age_s
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.clients: list[StreamClient] = []
        self.connections_opened = 0
        self._counters = counters
        self._lag_until = 0.0
        self._pongs_of_closed = 0
        self._cond: asyncio.Condition | None = None
        self._refuse_until = 0.0
        self._closing = False
        self._background: set[asyncio.Task[Any]] = set()
        self._ws_logger = logging.getLogger("apps.simulator.websockets")
        if self._ws_logger.level == logging.NOTSET:
            self._ws_logger.setLevel(logging.WARNING)  # per-connection lines are noise; our own log says more

    def open(self) -> None:
        """Called once the event loop runs (the condition binds to it)."""
        self._cond = asyncio.Condition()
        self._closing = False

    @property
    def pings_answered(self) -> int:
        """Pongs received from clients (keepalive pings they answered), over all connections."""
        return self._pongs_of_closed + sum(c.conn.pongs for c in self.clients)

    def first_depth_ids(self) -> list[int]:
        """The first depth event id each open client was sent (clients that got one)."""
        return [c.first_depth_id for c in self.clients if c.first_depth_id is not None]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        assert self._cond is not None, "simulator not started"
        async with asyncio.timeout(timeout), self._cond:
            await self._cond.wait_for(predicate)

    async def _notify(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ handshake and lifetime
    async def serve(
        self, request: HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """The HTTP front's hook for an upgrade request: handshake, then serve the client until it closes."""
        conn = WebSocketConnection(
            reader,
            writer,
            max_size=MAX_MESSAGE_BYTES,
            ping_interval=self.ping_interval_s,
            ping_timeout=self.pong_timeout_s,
            logger=self._ws_logger,
        )
        handshake = conn.handshake_request(request.head)
        if handshake is None:
            await conn.abandon()
            return
        subscription = subscription_of(request.path, request.query, self.stream_key)
        if isinstance(subscription, Response):
            await self._reject(conn, subscription)
            return
        response = conn.accept(handshake)
        if self._closing and response.status_code == 101:
            response = conn.reject(503, "Server is shutting down.\n")
        elif response.status_code == 101 and asyncio.get_running_loop().time() < self._refuse_until:
            response = conn.reject(503, "Service unavailable.\n")
        if response.status_code != 101:
            await self._reject(conn, response)
            return
        response.headers["Server"] = SERVER_HEADER
        # Subscribed before the 101 goes out: once a client's connect() returns, every frame published
        # afterwards reaches it.
        client = self._register(conn, *subscription)
        conn.respond(response)
        await self._notify()
        await self._run(client)

    async def _reject(self, conn: WebSocketConnection, response: Response) -> None:
        response.headers["Server"] = SERVER_HEADER
        conn.respond(response)
        await conn.abandon()

    def _register(self, conn: WebSocketConnection, streams: list[str], is_combined: bool) -> StreamClient:
        client = StreamClient(conn, list(streams), is_combined, asyncio.get_running_loop().time())
        self.clients.append(client)
        self.connections_opened += 1
        log.info(
            "sim connection %s opened: streams=%s combined=%s (open now: %d)",
            conn.id,
            client.streams,
            client.combined,
            len(self.clients),
        )
        return client

    async def _run(self, client: StreamClient) -> None:
        loop = asyncio.get_running_loop()
        conn = client.conn
        sender = asyncio.create_task(self._send_loop(client))
        age_timer = loop.call_later(self.max_connection_age_s, self._expire, client)
        try:
            await conn.run(lambda message: self._on_message(client, message))
        except ConnectionClosed:  # a reply to a client message found the connection gone
            pass
        finally:
            age_timer.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self._forget(client)
            self._pongs_of_closed += conn.pongs
            log.info(
                "sim connection %s closed: code=%s reason=%r (open now: %d)",
                conn.id,
                conn.close_code,
                conn.close_reason,
                len(self.clients),
            )
            await self._notify()

    def _forget(self, client: StreamClient) -> None:
        if client in self.clients:
            self.clients.remove(client)

    def _expire(self, client: StreamClient) -> None:
        log.info(
            "sim connection %s reached max age %.1fs, closing", client.conn.id, self.max_connection_age_s
        )
        self._in_background(client.conn.close(CLOSE_GOING_AWAY, "max connection age reached"))

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close_all(self) -> None:
        """Close every connection with 1001 (going away), as a server shutting down does; handshakes
        still in progress are refused with a 503."""
        self._closing = True
        closing = [client.conn.close(CLOSE_GOING_AWAY) for client in list(self.clients)]
        await asyncio.gather(*closing, return_exceptions=True)
        for task in list(self._background):
            task.cancel()

    # ------------------------------------------------------------------ publishing
    def stream_key(self, stream: str) -> str | None:
        if self._key_of is not None:
            return self._key_of(stream)
        return stream_key(self.stream_symbol, stream)

    def publish_text(self, key: str, combined_text: str, raw_text: str) -> int:
        """Queue a frame already serialized (a replay sends the recorded text as is): ``combined_text``
        to combined-stream clients subscribed to a stream with this key, ``raw_text`` to raw ones.
        Returns how many clients it was queued for."""
        queued = 0
        for client in list(self.clients):
            if client.conn.state is State.CLOSED:
                self._forget(client)
                continue
            if any(self.stream_key(stream) == key for stream in client.streams):
                client.queue.put_nowait(combined_text if client.combined else raw_text)
                queued += 1
        return queued

    def open_clients(self) -> int:
        """Connections open now (not those closing)."""
        return sum(1 for client in self.clients if client.conn.state is State.OPEN)

    def longest_queue(self) -> int:
        """Frames waiting in the fullest client's send queue (a replay at full speed waits on it)."""
        return max((client.queue.qsize() for client in self.clients), default=0)

    def publish(self, key: str, payload: dict[str, Any], depth_first_id: int | None = None) -> None:
        """Queue a payload for every client subscribed to a stream with this key."""
        raw: str | None = None
        for client in list(self.clients):
            if client.conn.state is State.CLOSED:  # lost, its handler is about to forget it
                self._forget(client)
                continue
            for stream in client.streams:
                if self.stream_key(stream) != key:
                    continue
                if client.combined:
                    frame = dumps(combined(stream, payload))
                else:
                    raw = raw if raw is not None else dumps(payload)
                    frame = raw
                client.queue.put_nowait(frame)
                if depth_first_id is not None and client.first_depth_id is None:
                    client.first_depth_id = depth_first_id

    async def _send_loop(self, client: StreamClient) -> None:
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
            self._counters["frames_sent"] += 1

    async def _on_message(self, client: StreamClient, message: str | bytes) -> None:
        await client.conn.send(dumps(subscription_reply(message, client.streams, self.stream_key)))

    def send_to_all(self, frame_for: Callable[[StreamClient], str]) -> int:
        """Queue one frame (built per client) to every open connection. Returns how many."""
        for client in self.clients:
            client.queue.put_nowait(frame_for(client))
        return len(self.clients)

    def disconnect_all(self, mode: str) -> list[asyncio.Task[Any]]:
        """Drop every connection: "abrupt" (TCP abort) or "going_away" (close 1001); tasks finish when closed."""
        tasks: list[asyncio.Task[Any]] = []
        for client in list(self.clients):
            if mode == "abrupt":
                client.conn.abort()
                tasks.append(asyncio.ensure_future(client.conn.wait_closed()))
            else:
                tasks.append(asyncio.ensure_future(client.conn.close(CLOSE_GOING_AWAY, "going away")))
        return tasks


def subscription_reply(
    message: str | bytes, streams: list[str], key_of: Callable[[str], str | None]
) -> dict[str, Any]:
    """Binance's live subscribe API: {"method": "SUBSCRIBE"|"UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS", "params",
    "id"}. Updates ``streams`` in place and returns the reply."""
    try:
        request = json.loads(message)
        method = request["method"]
        request_id = request.get("id")
        params = request.get("params", [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"error": {"code": 3, "msg": "Invalid JSON: expected a request"}, "id": None}
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": list(streams), "id": request_id}
    if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
        return {"error": {"code": 2, "msg": "Invalid request"}, "id": request_id}
    for stream in params:
        if not isinstance(stream, str) or key_of(stream) is None:
            return {
                "error": {"code": 2, "msg": f"Invalid request: unknown stream {stream!r}"},
                "id": request_id,
            }
    for stream in params:
        if method == "SUBSCRIBE" and stream not in streams:
            streams.append(stream)
        elif method == "UNSUBSCRIBE" and stream in streams:
            streams.remove(stream)
    return {"result": None, "id": request_id}


def subscription_of(
    path: str, query: str, key_of: Callable[[str], str | None]
) -> tuple[list[str], bool] | Response:
    """(streams, combined) for a stream URL, or the error answer (404 path, 400 stream name)."""
    if path == "/stream":
        names = parse_query(query).get("streams", [""])[0]
        streams, is_combined = [s for s in names.split("/") if s], True
    elif path == "/ws" or path.startswith("/ws/"):
        streams, is_combined = [s for s in path[len("/ws") :].split("/") if s], False
    else:
        return json_response(404, {"code": -1000, "msg": f"Unknown path {path}"})
    bad = [s for s in streams if key_of(s) is None]
    if bad:
        return json_response(400, {"code": -1121, "msg": f"Invalid stream name(s): {', '.join(bad)}"})
    return streams, is_combined
