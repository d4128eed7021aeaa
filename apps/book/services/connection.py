"""The WebSocket side: combined-stream connections, their reader tasks and the one frame queue.

Every open connection has a reader task that puts `(connection, frame)` on one queue in arrival
order, and `(connection, None)` when the connection ends; the connection loop takes them out one at
a time, so each frame is handled synchronously. A connection has one of two roles: `active` (its
frames drive the book) or, during a make-before-break handover, `candidate`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

QUEUE_MAX = 20_000
# what opening a connection raises when the exchange cannot be reached
OPEN_ERRORS = (OSError, InvalidHandshake, InvalidURI, TimeoutError)

Frame = str | bytes
QueueItem = tuple["Connection | None", Frame | None]  # (None, None): a nudge to re-check flags


class Connection:
    """One WebSocket connection and its reader task."""

    _ids = 0

    def __init__(self, ws: ClientConnection, opened: float) -> None:
        Connection._ids += 1
        self.id = Connection._ids
        self.ws = ws
        self.opened = opened  # monotonic seconds
        self.reader: asyncio.Task[None] | None = None
        self.close_reason = ""


class Connections:
    def __init__(
        self,
        url: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.queue: asyncio.Queue[QueueItem] = asyncio.Queue(QUEUE_MAX)
        self.active: Connection | None = None
        self.candidate: Connection | None = None
        self.connected_since_ms: int | None = None  # wall time the active connection took over
        self._monotonic = monotonic
        self._clock = clock

    async def open(self) -> Connection:
        ws = await connect(
            self.url,
            ping_interval=20,
            ping_timeout=20,
            max_size=2**22,
            max_queue=256,
            # no permessage-deflate: inflating every 100 ms frame was a fifth of the streamer's CPU;
            # one symbol's depth stream is a few KB/s uncompressed
            compression=None,
            open_timeout=10,
            close_timeout=2,
        )
        conn = Connection(ws, self._monotonic())
        conn.reader = asyncio.create_task(self._read(conn), name=f"orderbook-reader-{conn.id}")
        return conn

    def activate(self, conn: Connection) -> None:
        self.active = conn
        self.connected_since_ms = int(self._clock() * 1000)

    def age(self) -> float | None:
        """Seconds the active connection has been open."""
        return self._monotonic() - self.active.opened if self.active else None

    async def _read(self, conn: Connection) -> None:
        try:
            async for frame in conn.ws:
                try:
                    self.queue.put_nowait((conn, frame))
                except asyncio.QueueFull:
                    conn.close_reason = "frame queue overflow"
                    break
        except ConnectionClosed as exc:
            received = exc.rcvd.code if exc.rcvd else "none (abrupt)"
            conn.close_reason = conn.close_reason or f"closed code={received}"
        except Exception as exc:  # any transport problem ends this connection only
            conn.close_reason = conn.close_reason or f"{type(exc).__name__}: {exc}"
        else:
            code = conn.ws.close_code
            conn.close_reason = conn.close_reason or f"closed code={code}"
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((conn, None))

    async def close(self, conn: Connection, reason: str) -> None:
        conn.close_reason = conn.close_reason or reason
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.ws.close(), 2)
        if conn.reader is not None:
            conn.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.reader

    async def close_all(self, reason: str) -> None:
        for conn in (self.active, self.candidate):
            if conn is not None:
                await self.close(conn, reason)

    async def next(self, timeout: float) -> QueueItem | None:
        """The next queued item, or None when nothing arrived within `timeout` seconds."""
        try:
            return self.queue.get_nowait()  # frames often arrive in bursts: no timer needed
        except asyncio.QueueEmpty:
            pass
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def nudge(self) -> None:
        """Wake the connection loop so it re-checks its flags (stop, resync requested)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((None, None))

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
