"""Every place the service deliberately goes around Channels, daphne or asyncio internals: here only.

Each bypass removes a cost that was measured (docs/benchmarks.md, docs/soak.md) and leans on
something the library does not promise. `tests/test_framework_bypasses.py` checks each of those
assumptions directly, so an upgrade that breaks one fails there, loudly and by name, not as a
slow leak or a lost message somewhere else.

1. `ThrottledInMemoryChannelLayer` (the one-process `serve`'s layer). Channels'
   InMemoryChannelLayer sweeps every channel and group member for expiry on every `receive` and
   deep-copies a group message once per member in a task per member. This layer sweeps at most
   once per `clean_interval_s` and puts ONE copy straight into each member's queue.
   Relies on: `InMemoryChannelLayer._clean_expired()`, its `channels` (name -> asyncio.Queue) and
   `groups` (group -> {channel: joined_at}) dicts, `expiry`, `get_capacity`, and that a queue item
   is the tuple `(expires_at, message)`.
2. `HotReadsFastPath` (ASGI, ahead of Django). Django's ASGI handler gives every request a fresh
   `ThreadSensitiveContext`: a new OS thread and database wrapper per request, ~110 objects left in
   reference cycles each. Pollers of the hot reads hit it several times a second. The fast path
   answers plain GET/HEAD of the listed paths from shared reads and hands anything else to Django.
   Relies on: `django.http.request.split_domain_port` / `validate_host` (the Host check Django
   would do) and the ASGI HTTP message shapes.
3. `PumpedWebsocketConsumer`. Channels' consumer loop waits on the socket and its layer channel
   with `asyncio.wait` and a new task per message, and its `dispatch` hops to a thread to close
   stale DB connections before EVERY handler. Here one long-lived pump task feeds the socket into
   an inbox dispatched one message at a time; group messages arrive from the process's fan-out
   (apps/overlays/local_fanout.py) instead of a layer channel per client; no DB hop.
   Relies on: `AsyncConsumer.__call__(scope, receive, send)` being the whole consumer loop,
   `base_send`, `channel_layer_alias`, `channels.consumer.get_handler_name` and `StopConsumer`.
4. `start_all_threads`. A `ThreadPoolExecutor` starts threads on demand; the sync pool
   (apps/core/sync_threads.py) starts every thread at start-up so a process's threads, malloc
   arenas and DB connections are fixed. Relies on: `ThreadPoolExecutor._threads` (the set of
   started threads).
5. `StreamingServer`. daphne 4 runs no ASGI lifespan, so `serve` starts the streamer from inside
   daphne's running loop (`reactor.callLater(0, ...)`) and stops it from a Twisted "before
   shutdown" trigger, which daphne's signal handling fires on SIGTERM/SIGINT. Relies on:
   `daphne.server.Server.run()` running the asyncio Twisted reactor until shutdown, and
   `listen_success(port)` / `listen_error(failure)` being called once an endpoint listens or cannot
   (so `serve` says "serving" only when it is, and exits non-zero when it cannot listen).
6. `BoundedWebRequest` (installed by `install_request_limits`, from project/asgi.py). daphne reads
   a whole request body (into memory or a temporary file) before the ASGI application runs, then
   queues all of it at once: a 1 GB POST held 1 GB of RSS, whatever the answer. This request
   refuses a body over MAX_REQUEST_BODY with 413 as soon as the declared Content-Length says so,
   or as soon as a chunked body grows past it, and drops the rest unread; it also caps the header
   section (MAX_HEADERS fields, MAX_HEADER_BYTES bytes; over either, Twisted answers a bare 400
   and closes). Relies on: `daphne.http_protocol.HTTPFactory.buildProtocol` setting
   `requestFactory` from the module global `WebRequest` at each connection; Twisted's
   `HTTPChannel` calling `Request.gotLength(length)` once the headers are in (before it answers
   `Expect: 100-continue`), `Request.handleContentChunk(data)` per piece of de-chunked body and
   `Request.requestReceived` once the body is complete, reading `maxHeaders` /
   `totalHeadersSize` on the channel instance per header line, and the transport calling
   `channel.dataReceived` afresh for each read.
7. `Rfc6455WebSocketProtocol` (daphne's WebSocket protocol, installed by project/asgi.py, so in
   `serve` and in a plain `daphne` alike). Three things daphne gets wrong for this service:
   - close codes: daphne turns an ASGI `websocket.close` into autobahn's `sendClose`, which only
     lets an application send 1000 or 3000-4999. A consumer closing with 1003 (binary frame), 1008
     (policy), 1009 (message too big) or 1011 (internal error) raised in `send`; daphne logged
     "Exception inside application" with a traceback and its clean-up closed with 1011, so clients
     never saw the code. Here any code RFC 6455 lets an endpoint send (autobahn's own
     `CLOSE_STATUS_CODES_ALLOWED`, which it accepts from peers, and 3000-4999) goes out through
     `sendCloseFrame`, with the ASGI message's `reason` (daphne drops it); other codes still raise.
   - sends while closing: daphne drops a send once the connection is gone, but autobahn raises
     `Disconnected` for one in the closing handshake (the server sent its Close, or the peer's is
     being answered): a delta fanned out in that window was an ERROR traceback. Here it is
     dropped, as RFC 6455 wants after a Close.
   - hard size cap: daphne lets a client send a 1 MiB frame or message, and autobahn fails a
     connection by dropping the TCP (`failByDrop`), which a client sees as 1006. Here
     `maxFramePayloadSize` / `maxMessagePayloadSize` are set on the protocol class (autobahn
     refuses a frame from its header, before its payload is buffered) and `failByDrop` is off, so
     the client gets a 1009 close frame (1002/1007 for protocol errors). The cap binds what the
     server sends too: it must exceed the largest frame the consumer sends.
   Relies on: daphne's `WebSocketFactory.protocol` being the class its `buildProtocol` makes,
   `WebSocketProtocol.handle_reply` handling `websocket.close` via `serverClose` once the socket is
   open and `websocket.send` via `serverSend`, autobahn's `sendCloseFrame(code, reasonUtf8,
   isReply)`, its `state` / `STATE_*` constants, and its `_connectionMade` taking a protocol option
   from the factory only when the protocol class does not define it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import Any, Protocol

import daphne.server  # installs the asyncio Twisted reactor before twisted.internet is imported
import daphne.ws_protocol
from autobahn.util import encode_truncate
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from twisted.internet import defer
from twisted.internet import reactor as twisted_reactor

from apps.core.repeated_errors import RepeatedErrors
from apps.core.security_headers import ASGI_SECURITY_HEADERS, SECURITY_HEADERS

log = logging.getLogger(__name__)
# twisted's `reactor` is typed as a module by its zope interfaces' stubs; the running one is the
# asyncio reactor daphne installed
reactor: Any = twisted_reactor

Scope = dict[str, Any]
Receive = Any
Send = Any


# -- 1. the in-memory channel layer -------------------------------------------------------------
class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):
    """Same delivery semantics as InMemoryChannelLayer; O(members) per broadcast, one copy.

    Members must treat received messages as read-only (the fan-out and the overlay consumer do).
    A full member queue drops that member's copy: its clients see a seq hole and re-snapshot."""

    def __init__(self, *args: Any, clean_interval_s: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clean_interval_s = clean_interval_s
        self._last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < self.clean_interval_s:
            return
        self._last_clean = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        shared = deepcopy(message)  # once, not once per member
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((expires, shared))


# -- 2. hot reads ahead of Django ---------------------------------------------------------------
class HotDocument(Protocol):
    """What a hot read answers: the body and its ETag (the state cache's entries conform)."""

    @property
    def body(self) -> bytes: ...
    @property
    def etag(self) -> str: ...
    @property
    def status_code(self) -> int: ...


HotRoute = Callable[[str], Awaitable[HotDocument]]  # symbol -> the current document


class HotReadsFastPath:
    """Plain GET/HEAD of `routes` answered from shared reads; everything else goes to `app`.

    A query string, another method, a bad Host or any other path goes to the Django application
    unchanged (Django validates and answers 400/405). The answer carries the same ETag, caching
    and security headers the Django view gives, and `If-None-Match` is read the same way (`*` or
    the current ETag -> 304 for a 200 answer). A failed read answers a JSON 500, as Django's
    error handling would (apps/json_http/errors.py), never daphne's HTML error page."""

    def __init__(self, app: Any, routes: dict[str, HotRoute]) -> None:
        self.app = app
        self.routes = routes
        self.errors = RepeatedErrors(log)  # a failing database: one traceback, then counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        document = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if document is None or scope["method"] not in ("GET", "HEAD") or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        domain, _ = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            await self.app(scope, receive, send)  # let Django answer 400 for a bad Host
            return
        where = f"hot read {scope['path']}"
        try:
            entry = await document(settings.CONFIG.symbol)
        except Exception as exc:
            self.errors.error(where, exc)
            await _send_answer(send, 500, FAILED_READ_BODY, [(b"cache-control", b"no-store")])
            return
        self.errors.ok(where)
        common = [(b"etag", entry.etag.encode()), (b"cache-control", b"no-cache")]
        # like Django's conditional GET: only a successful answer can be "not modified"
        if entry.status_code == 200 and _none_match(headers.get("if-none-match", ""), entry.etag):
            await _send_answer(send, 304, b"", common, content_type=None)
            return
        body = b"" if scope["method"] == "HEAD" else entry.body
        await _send_answer(send, entry.status_code, body, common, length=len(entry.body))


FAILED_READ_BODY = json.dumps(  # the JSON 500 Django's side answers (apps/json_http/errors.py)
    {
        "error": "internal_server_error",
        "detail": "the server failed to answer this request; the error is in its log",
    }
).encode()


def _none_match(header: str, etag: str) -> bool:
    """`If-None-Match` matches: `*` (any current representation) or the ETag, weak or strong
    (RFC 9110 13.1.2, the weak comparison Django's conditional GET uses)."""
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


async def _send_answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    content_type: bytes | None = b"application/json",
    length: int | None = None,
) -> None:
    """One whole ASGI answer with the security headers every answer carries."""
    extra = [] if content_type is None else [(b"content-type", content_type)]
    if content_type is not None:
        extra.append((b"content-length", str(len(body) if length is None else length).encode()))
    start = {"type": "http.response.start", "status": status}
    await send({**start, "headers": [*extra, *headers, *ASGI_SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


# -- 3. the WebSocket consumer loop -------------------------------------------------------------
class PumpedWebsocketConsumer(AsyncWebsocketConsumer):
    """An AsyncWebsocketConsumer whose loop is one pump task and one inbox.

    Subclasses add messages of their own to `_inbox` (a group message that arrives while `_busy`)
    and clean up in `on_consumer_end`. Handlers must not use the database (no per-handler
    connection clean-up runs)."""

    _busy = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()  # a unique name for logs
        self.base_send = send
        self._busy = False
        self._inbox: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()

        async def pump() -> None:
            try:
                while True:
                    self._inbox.put_nowait(await receive())
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # surfaced by the dispatch loop below
                self._inbox.put_nowait(exc)

        pumping = asyncio.ensure_future(pump())
        try:
            while True:
                message = await self._inbox.get()
                if isinstance(message, BaseException):
                    raise message
                self._busy = True
                try:
                    await self.dispatch(message)
                finally:
                    self._busy = False
        except StopConsumer:
            pass
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumping
            await self.on_consumer_end()

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def on_consumer_end(self) -> None:
        """Called once when the consumer's loop ends, whatever ended it."""


# -- 4. a thread pool started in full -----------------------------------------------------------
def start_all_threads(executor: ThreadPoolExecutor, count: int, timeout_s: float) -> int:
    """Start `count` threads of `executor` now (idempotent); returns how many threads it has.

    The pool only adds a thread when none is idle, so `count` calls that wait for each other make
    it start them all."""
    if len(executor._threads) < count:
        barrier = threading.Barrier(count + 1)
        waits = [executor.submit(barrier.wait, timeout_s) for _ in range(count)]
        barrier.wait(timeout_s)
        for wait in waits:
            wait.result()
    return len(executor._threads)


# -- 5. daphne with a background coroutine ------------------------------------------------------
class StreamingServer(daphne.server.Server):
    """A daphne Server that also runs one background coroutine on its loop; shutdown waits (up to
    10 s) for that coroutine to finish after `on_shutdown` asked it to."""

    def __init__(
        self,
        *args: Any,
        background: Callable[[], Awaitable[None]],
        on_shutdown: Callable[[], None],
        on_listening: Callable[[], None] = lambda: None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._background = background
        self._on_shutdown = on_shutdown
        self._on_listening = on_listening
        self._task: asyncio.Task[None] | None = None
        self.listen_failure: str | None = None  # why an endpoint could not listen, if one could not

    def listen_success(self, port: Any) -> None:
        """The endpoint accepts connections from now on."""
        super().listen_success(port)
        self._on_listening()

    def listen_error(self, failure: Any) -> None:
        """daphne logs a listen failure and stops, and `run` then returns as after a clean stop."""
        self.listen_failure = failure.getErrorMessage()
        super().listen_error(failure)

    def run(self) -> None:
        reactor.callLater(0, self._start_background)
        reactor.addSystemEventTrigger("before", "shutdown", self._stop_background)
        super().run()

    def _start_background(self) -> None:
        loop = asyncio.get_event_loop()
        self._task = loop.create_task(self._guarded(), name="streamer")

    async def _guarded(self) -> None:
        try:
            await self._background()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task failed")

    def _stop_background(self) -> defer.Deferred | None:
        if self._task is None or self._task.done():
            return None
        log.info("shutdown: stopping the streamer")
        self._on_shutdown()
        task = self._task

        async def wait() -> None:
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()

        return defer.Deferred.fromFuture(asyncio.ensure_future(wait()))


# -- 6. request limits inside daphne ------------------------------------------------------------
# (daphne.http_protocol is loaded by daphne.server, imported first above for the reactor's sake)
MAX_HEADERS = 100  # header fields per request (Twisted's own default: 500)
MAX_HEADER_BYTES = 16384  # request line plus every header line (Twisted's default, set explicitly)
REFUSED_LINGER_S = 2.0  # how long a refused upload is read and thrown away before the socket is cut


def refusal_answer(max_body: int) -> bytes:
    """The whole 413 answer, bytes on the wire: JSON, the security headers, `Connection: close`."""
    detail = f"the request body is over the limit of {max_body} bytes (MAX_REQUEST_BODY)"
    body = json.dumps({"error": "content_too_large", "detail": detail}, separators=(",", ":")).encode()
    head = [
        b"HTTP/1.1 413 Content Too Large",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        b"Cache-Control: no-store",
        b"Connection: close",
        *(f"{name}: {value}".encode("latin-1") for name, value in SECURITY_HEADERS),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _discard(data: bytes) -> None:
    """A refused connection's `dataReceived`: what still arrives is read and dropped."""


class BoundedWebRequest(daphne.http_protocol.WebRequest):
    """daphne's request with a body cap and header caps; see item 6 of this module's docstring."""

    max_body = 65536
    refusal = refusal_answer(65536)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # HTTPChannel reads both per header line; the request is made at the request line
        self.channel.maxHeaders = MAX_HEADERS
        self.channel.totalHeadersSize = MAX_HEADER_BYTES
        self.body_received = 0
        self.refused = False
        self._linger: Any = None

    def gotLength(self, length: int | None) -> None:
        """Headers are in: a declared length over the cap is refused before any body is read."""
        if length is not None and length > self.max_body:
            self.content = io.BytesIO()
            self._refuse(f"Content-Length {length}")
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        """A piece of body (after de-chunking): a chunked body is refused once it grows past the cap."""
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.max_body:
            self.content.close()  # the spooled part, at most max_body bytes
            self.content = io.BytesIO()
            self._refuse("chunked body")
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """The body is complete: a refused request never reaches the application."""
        if not self.refused:
            super().requestReceived(command, path, version)

    def connectionLost(self, reason: Any) -> None:
        if self._linger is not None and self._linger.active():
            self._linger.cancel()
        super().connectionLost(reason)

    def _refuse(self, what: str) -> None:
        """Answer 413 now, read and drop the rest for up to REFUSED_LINGER_S (so the client, still
        sending, reads the answer rather than a reset), then cut the connection."""
        self.refused = True
        self.requestHeaders.removeHeader(b"expect")  # no "100 Continue" for a refused body
        channel, transport = self.channel, self.channel.transport
        channel.dataReceived = _discard
        transport.write(self.refusal)
        peer = transport.getPeer()
        log.info("refused %s over %d bytes from %s", what, self.max_body, getattr(peer, "host", peer))
        half_close = getattr(transport, "loseWriteConnection", None)
        if half_close is None:
            transport.loseConnection()
            return
        half_close()
        self._linger = reactor.callLater(REFUSED_LINGER_S, transport.abortConnection)


def install_request_limits(max_body: int) -> None:
    """Every daphne server of this process (`serve`'s, or the `daphne` command's) builds
    `BoundedWebRequest`s capped at `max_body` bytes of body from now on. project/asgi.py calls it;
    both load that module before they listen."""
    BoundedWebRequest.max_body = max_body
    BoundedWebRequest.refusal = refusal_answer(max_body)
    daphne.http_protocol.WebRequest = BoundedWebRequest


# -- 7. RFC 6455 close codes and a hard frame cap in daphne's WebSocket protocol ----------------
class Rfc6455WebSocketProtocol(daphne.ws_protocol.WebSocketProtocol):
    """daphne's protocol: closes with any code RFC 6455 allows, sends nothing once closing, fails a
    connection with a close frame (not a dropped TCP), caps frames and messages both ways."""

    failByDrop = False
    maxFramePayloadSize = 64 * 1024  # install_websocket_protocol sets the service's caps
    maxMessagePayloadSize = 64 * 1024

    def handle_reply(self, message: dict[str, Any]) -> None:
        if message.get("type") == "websocket.close" and self.state != self.STATE_CONNECTING:
            self.serverClose(code=message.get("code"), reason=message.get("reason"))
            return
        super().handle_reply(message)

    def serverSend(self, content: str | bytes, binary: bool = False) -> None:
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            return  # a Close was sent or the socket is going: nothing more may go out (RFC 6455 5.5.1)
        super().serverSend(content, binary)

    def serverClose(self, code: int | None = None, reason: str | None = None) -> None:
        code = 1000 if code is None else code
        if not sendable_close_code(code):
            super().serverClose(code=code)  # autobahn refuses it, as before
            return
        reason_bytes = encode_truncate(reason, 123) if reason else None
        self.sendCloseFrame(code=code, reasonUtf8=reason_bytes, isReply=False)


def sendable_close_code(code: int) -> bool:
    """RFC 6455 section 7.4: the defined codes an endpoint may send, and 3000-4999."""
    allowed = daphne.ws_protocol.WebSocketProtocol.CLOSE_STATUS_CODES_ALLOWED
    return code in allowed or 3000 <= code <= 4999


def install_websocket_protocol(max_payload_bytes: int) -> type[Rfc6455WebSocketProtocol]:
    """Make every daphne server in this process speak through Rfc6455WebSocketProtocol, refusing
    client frames and messages over `max_payload_bytes` with 1009 (idempotent)."""
    Rfc6455WebSocketProtocol.maxFramePayloadSize = max_payload_bytes
    Rfc6455WebSocketProtocol.maxMessagePayloadSize = max_payload_bytes
    daphne.ws_protocol.WebSocketFactory.protocol = Rfc6455WebSocketProtocol
    return Rfc6455WebSocketProtocol
