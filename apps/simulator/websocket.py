"""A server-side WebSocket connection: websockets' Sans-I/O ``ServerProtocol`` over asyncio streams.

The HTTP front (:mod:`apps.simulator.http_front`) has already read the handshake request; it is fed
to the protocol as bytes, as websockets' "Integrate the Sans-I/O layer" guide describes: bytes read
from the socket go to ``receive_data``/``receive_eof``, the resulting frames come out of
``events_received``, and whatever ``data_to_send`` returns is written (an empty chunk = half-close).
websockets does the protocol work (handshake validation and the 101, framing, permessage-deflate,
answering pings, the closing handshake); this class adds the I/O around it, the way websockets' own
asyncio server does: keepalive pings with a pong timeout, close with a timeout, abort, and a pause
of all reading (for the simulator's stall fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

READ_CHUNK = 65536
WRITE_BUFFER_HIGH = 2**15  # websockets' default write_limit
CLOSE_TIMEOUT_S = 10.0  # websockets' default close_timeout

# What websockets' serve() offers by default (compression="deflate"): clients that ask get it.
_DEFLATE = ServerPerMessageDeflateFactory(
    server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
)

OnMessage = Callable[[str | bytes], Awaitable[None]]


class WebSocketConnection:
    """One WebSocket on an accepted TCP connection."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        max_size: int,
        ping_interval: float | None,
        ping_timeout: float | None,
        logger: logging.Logger,
    ) -> None:
        self.protocol = ServerProtocol(extensions=[_DEFLATE], max_size=max_size, logger=logger)
        self._reader = reader
        self._writer = writer
        self._transport = cast(asyncio.Transport, writer.transport)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.pongs = 0  # pong frames received (keepalive pings answered)
        self._keepalive: asyncio.Task[None] | None = None
        self._ping: tuple[bytes, asyncio.Future[None]] | None = None
        self._fragments: list[bytes] = []  # of the message being received
        self._fragments_are_text = True
        self._reading = asyncio.Event()
        self._reading.set()
        self._closed = asyncio.Event()
        self._transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)

    @property
    def id(self) -> uuid.UUID:
        return self.protocol.id

    @property
    def state(self) -> State:
        return self.protocol.state

    @property
    def close_code(self) -> int | None:
        return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        return self.protocol.close_reason

    # ------------------------------------------------------------------ opening handshake
    def handshake_request(self, head: bytes) -> Request | None:
        """Feed the request head to websockets; its parsed request, or None if it refused the head
        (then the connection ends: call :meth:`abandon`)."""
        self.protocol.receive_data(head)
        events = self.protocol.events_received()
        return events[0] if events and isinstance(events[0], Request) else None

    def accept(self, request: Request) -> Response:
        """websockets' answer to the handshake: the 101, or its rejection (e.g. a missing key)."""
        return self.protocol.accept(request)

    def reject(self, status: int, text: str) -> Response:
        """websockets' plain-text refusal of a handshake."""
        return self.protocol.reject(status, text)

    def respond(self, response: Response) -> bool:
        """Send the handshake response. A 101 opens the connection (True); anything else ends it."""
        self.protocol.send_response(response)
        self._flush()
        if self.protocol.state is State.OPEN:
            self._start_keepalive()
            return True
        return False

    async def abandon(self) -> None:
        """End a connection whose handshake did not open it."""
        self._flush()
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        self._closed.set()

    # ------------------------------------------------------------------ open connection
    async def run(self, on_message: OnMessage) -> None:
        """Read until the connection is closed, handing every message to ``on_message`` (awaited)."""
        try:
            while self.protocol.state is not State.CLOSED:
                await self._reading.wait()
                data = await self._read()
                if data:
                    self.protocol.receive_data(data)
                else:
                    self.protocol.receive_eof()
                events = self.protocol.events_received()
                self._flush()
                for event in events:
                    message = self._on_frame(event) if isinstance(event, Frame) else None
                    if message is not None:
                        await on_message(message)
        finally:
            self._stop_keepalive()
            self._writer.close()
            self._closed.set()

    async def _read(self) -> bytes:
        timeout = CLOSE_TIMEOUT_S if self.protocol.close_expected() else None
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(READ_CHUNK)
        except TimeoutError:  # the peer did not finish the closing handshake
            self._transport.abort()
            return b""
        except OSError:
            return b""

    def _on_frame(self, frame: Frame) -> str | bytes | None:
        """A complete message (text as str) once its last fragment arrived; pongs are counted.
        Pings and close frames need nothing here: websockets answers them."""
        if frame.opcode is Opcode.PONG:
            self.pongs += 1
            if self._ping is not None and self._ping[0] == frame.data and not self._ping[1].done():
                self._ping[1].set_result(None)
            return None
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragments = [bytes(frame.data)]
            self._fragments_are_text = frame.opcode is Opcode.TEXT
        elif frame.opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
        else:
            return None
        if not frame.fin:
            return None
        data = b"".join(self._fragments)
        self._fragments = []
        if not self._fragments_are_text:
            return data
        try:
            return data.decode()
        except UnicodeDecodeError:
            self.protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
            self._flush()
            return None

    async def send(self, message: str) -> None:
        """Send a text message; waits while the write buffer is above its limit."""
        if self.protocol.state is not State.OPEN:
            protocol = self.protocol  # both close frames known: the exception must say which came first
            raise ConnectionClosedError(
                protocol.close_rcvd, protocol.close_sent, protocol.close_rcvd_then_sent
            )
        self.protocol.send_text(message.encode())
        self._flush()
        try:
            await self._writer.drain()
        except OSError as exc:
            raise ConnectionClosedError(None, None) from exc

    async def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """The closing handshake; returns once the TCP connection is closed (aborted after a timeout)."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, reason)
            self._flush()
        await self._wait_closed_or_abort()

    def abort(self) -> None:
        """Drop the TCP connection at once (no close frame)."""
        self._transport.abort()
        self._reading.set()  # a paused reader must see the end too

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _wait_closed_or_abort(self) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._closed.wait()
        except TimeoutError:
            self.abort()
            await self._closed.wait()

    def _flush(self) -> None:
        if self._transport.is_closing():
            self.protocol.data_to_send()  # the connection is gone: drop what was queued
            return
        for data in self.protocol.data_to_send():
            if data:
                self._writer.write(data)
            elif self._writer.can_write_eof():
                with contextlib.suppress(OSError):
                    self._writer.write_eof()

    # ------------------------------------------------------------------ keepalive and pausing
    def pause_reading(self) -> None:
        """Go silent: read nothing (so no pongs, no close replies) and send no keepalive pings."""
        self._reading.clear()
        self._transport.pause_reading()
        self._stop_keepalive()

    def resume_reading(self) -> None:
        self._transport.resume_reading()
        self._reading.set()
        self._start_keepalive()

    def _start_keepalive(self) -> None:
        if self.ping_interval is not None and self._keepalive is None and self.protocol.state is State.OPEN:
            self._keepalive = asyncio.create_task(self._keep_alive())

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        self._ping = None

    async def _keep_alive(self) -> None:
        """Ping every ``ping_interval``; no pong within ``ping_timeout`` fails the connection (1011)."""
        assert self.ping_interval is not None
        loop = asyncio.get_running_loop()
        latency = 0.0
        while self.protocol.state is State.OPEN:
            await asyncio.sleep(self.ping_interval - latency)
            if self.protocol.state is not State.OPEN:
                return
            payload = struct.pack("!I", random.getrandbits(32))
            self._ping = (payload, loop.create_future())
            sent = loop.time()
            self.protocol.send_ping(payload)
            self._flush()
            try:
                async with asyncio.timeout(self.ping_timeout):
                    await self._ping[1]
            except TimeoutError:
                self.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")
                self._flush()
                self._keepalive = None
                await self._wait_closed_or_abort()
                return
            latency = min(loop.time() - sent, self.ping_interval)


__all__ = ["ConnectionClosed", "WebSocketConnection"]
