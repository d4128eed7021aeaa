"""One port for REST, control and WebSocket streams: a small asyncio HTTP/1.1 front.

Why a front of our own: websockets' server (``websockets.asyncio.server.serve``) can answer plain
HTTP from its ``process_request`` hook, but its request parser refuses any request that carries a body
(``websockets.http11.Request.parse`` raises "unsupported request body" for a Content-Length other than
0), and ``POST /sim/control`` carries its JSON in the body. The previous server got around that by
swapping the class of websockets' protocol object and re-implementing its parser; this module does
not touch any library object. It reads each request itself (request line, headers, a Content-Length
body) with asyncio streams, then either

- answers it (``answer_http``: the REST app or the control API), or
- for an ``Upgrade: websocket`` request, hands the connection to ``open_websocket``
  (:mod:`apps.simulator.ws_server`), which runs websockets' documented Sans-I/O
  ``ServerProtocol`` (:mod:`apps.simulator.websocket`) over the same streams: the protocol parses the
  handshake request it is given, ``accept()`` builds the 101 (or websockets' own rejection), and
  frames, pings, close handshakes and permessage-deflate are websockets' code.

Every HTTP answer closes the connection (``Connection: close``) and carries ``Server: binance-sim``.
A malformed request (bad request line or header, Transfer-Encoding, a missing, invalid or too large
Content-Length body, EOF or an oversized head) is dropped without an answer, as before.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

from apps.simulator.wire import dumps

log = logging.getLogger("apps.simulator")

SERVER_HEADER = "binance-sim"
MAX_BODY_BYTES = 64 * 1024
MAX_HEAD_BYTES = 64 * 1024
SEND_TIMEOUT_S = 10.0  # like websockets' close_timeout
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request as read from the socket. ``head`` is the raw request line and headers (a WebSocket
    handshake hands it to websockets' parser)."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    head: bytes

    @property
    def wants_websocket(self) -> bool:
        return any(value.lower() == "websocket" for value in self.headers.get_all("Upgrade"))


AnswerHttp = Callable[[HttpRequest], Awaitable[Response]]
OpenWebSocket = Callable[[HttpRequest, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with Binance's Content-Type; ``Connection: close`` (one request per connection)."""
    return json_bytes_response(status, dumps(body).encode(), headers)


def json_bytes_response(status: int, data: bytes, headers: dict[str, str] | None = None) -> Response:
    """``json_response`` for a body already serialized (a recorded answer, sent byte for byte)."""
    pairs = [
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Content-Length", str(len(data))),
        ("Connection", "close"),
    ]
    pairs.extend((headers or {}).items())
    return Response(status, http.HTTPStatus(status).phrase, Headers(pairs), data)


def parse_head(head: bytes) -> tuple[str, str, Headers]:
    """Method, request target and headers of an HTTP/1.x request head (ending in an empty line).

    Raises ValueError (or UnicodeDecodeError) if it is not a well-formed request.
    """
    request_line, *header_lines = head.split(b"\r\n")[:-2]
    parts = request_line.split(b" ", 2)
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise ValueError(f"invalid request line: {request_line[:100]!r}")
    headers = Headers()
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header line: {line[:100]!r}")
        headers[name.decode("ascii")] = value.strip(b" \t").decode("iso-8859-1")
    return parts[0].decode("ascii"), parts[1].decode("ascii"), headers


def body_length(headers: Headers) -> int:
    """The request body's length from Content-Length (0 without one); ValueError if unsupported."""
    if "Transfer-Encoding" in headers:
        raise ValueError("transfer codings are not supported")
    values = set(headers.get_all("Content-Length"))
    if not values:
        return 0
    if len(values) > 1 or not next(iter(values)).isdigit():
        raise ValueError(f"invalid Content-Length: {sorted(values)}")
    length = int(next(iter(values)))
    if length > MAX_BODY_BYTES:
        raise ValueError(f"request body too large: {length} bytes")
    return length


async def read_request(reader: asyncio.StreamReader) -> HttpRequest:
    """Read one request (head and Content-Length body). Raises ValueError, UnicodeDecodeError,
    asyncio.IncompleteReadError or asyncio.LimitOverrunError when there is no well-formed request."""
    head = await reader.readuntil(b"\r\n\r\n")
    method, target, headers = parse_head(head)
    length = body_length(headers)
    body = await reader.readexactly(length) if length else b""
    path, _, query = target.partition("?")
    return HttpRequest(method, path, query, headers, body, head)


_NO_REQUEST = (
    ValueError,
    UnicodeDecodeError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    OSError,
)


class OnePortServer:
    """Listens on one TCP port; each connection carries one HTTP request or one WebSocket."""

    def __init__(self, answer_http: AnswerHttp, open_websocket: OpenWebSocket) -> None:
        self._answer_http = answer_http
        self._open_websocket = open_websocket
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._reading_head: set[asyncio.Task[Any]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on host:port (0 = a free port); returns the bound address."""
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD_BYTES)
        sockname = self._server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    def close(self) -> None:
        """Stop listening and drop connections still waiting for their request."""
        if self._server is not None:
            self._server.close()
        for task in list(self._reading_head):
            task.cancel()

    async def wait_closed(self) -> None:
        """Wait until every connection has ended (close WebSockets first: they live until closed)."""
        if self._server is not None:
            await self._server.wait_closed()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            request = await self._read(reader, task)
            if request is None:
                writer.close()
            elif request.wants_websocket:
                await self._open_websocket(request, reader, writer)
            else:
                await self._answer(request, writer)
        except asyncio.CancelledError:
            writer.transport.abort()
        except ConnectionError as exc:  # the peer went away (a client stopping, a reset): not a fault
            log.info("sim HTTP connection lost: %r", exc)
            writer.transport.abort()
        except Exception:
            log.exception("sim HTTP connection failed")
            writer.transport.abort()
        finally:
            self._connections.discard(task)

    async def _read(self, reader: asyncio.StreamReader, task: asyncio.Task[Any]) -> HttpRequest | None:
        self._reading_head.add(task)
        try:
            return await read_request(reader)
        except _NO_REQUEST as exc:
            log.debug("sim HTTP: no valid request (%s)", exc)
            return None
        finally:
            self._reading_head.discard(task)

    async def _answer(self, request: HttpRequest, writer: asyncio.StreamWriter) -> None:
        response = await self._answer_http(request)
        response.headers["Server"] = SERVER_HEADER
        writer.write(response.serialize())
        writer.close()  # after the buffered answer is sent
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await writer.wait_closed()
        except TimeoutError:  # a client that does not read its answer
            writer.transport.abort()
        except OSError:
            pass
