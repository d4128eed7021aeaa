"""Shared reads of the hot documents, one per process: overlays, the published book, health.

Every GET /api/overlays poller and every WebSocket client joining wants the same overlay state,
which changes at most once per publication cycle (1 s); /api/book and /api/health pollers likewise
want the one row the streamer publishes. A `SharedRead` keeps the last read document, its JSON
bytes and an ETag; concurrent callers wait for the same single DB read (single flight), and with a
`ttl_s` callers may be answered from a read up to that old. The read runs on the event loop's
executor threads, which live as long as the process: no new thread and no new database wrapper
per request (Django's request handling makes both for every request; see fast_path.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections

from apps.book.selectors import BOOK_LIMIT_CAP, book_document, health_document
from apps.core.sync_threads import in_sync_thread
from apps.overlays.selectors import overlay_state

Reader = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class CachedState:
    state: dict[str, Any]
    body: bytes
    etag: str
    read_at: float
    status_code: int = 200


def encode_state(state: dict[str, Any], read_at: float, status_code: int = 200) -> CachedState:
    """The document as the Django JSON views send it: the same bytes and the same content ETag
    (ConditionalGetMiddleware's quoted MD5)."""
    body = json.dumps(state, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
    return CachedState(state=state, body=body, etag=etag, read_at=read_at, status_code=status_code)


@dataclass
class _Read:
    started: float
    future: asyncio.Future[CachedState]


class SharedRead:
    """`get(symbol)` may answer from a read up to `ttl_s` old (0: only from a read in flight).
    `get(symbol, newer_than=t)` only answers from a read that started at or after `t` (a WebSocket
    client that joined the group at `t`, or saw a hole at `t`, must not get a state older than
    that), but still shares one in-flight read with every other caller it satisfies: 1000 clients
    joining in a burst cost a handful of reads, not 1000."""

    def __init__(self, reader: Reader, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[str, CachedState] = {}
        self._inflight: dict[str, _Read] = {}
        self.reads = 0

    def _usable(self, entry: CachedState | None, newer_than: float | None) -> bool:
        if entry is None:
            return False
        if newer_than is not None:
            return entry.read_at >= newer_than
        return self.clock() - entry.read_at < self.ttl_s

    async def get(self, symbol: str, newer_than: float | None = None) -> CachedState:
        while True:
            entry = self._entries.get(symbol)
            if self._usable(entry, newer_than):
                assert entry is not None
                return entry
            pending = self._inflight.get(symbol)
            if pending is None:
                return await self._read(symbol)
            if newer_than is None or pending.started >= newer_than:
                return await asyncio.shield(pending.future)
            # a read is running but started too early for us: wait for it, then read again
            with contextlib.suppress(Exception):
                await asyncio.shield(pending.future)

    def _read_closing(self, symbol: str) -> dict[str, Any]:
        try:
            return self.reader(symbol)
        finally:
            close_old_connections()

    async def _read(self, symbol: str) -> CachedState:
        started = self.clock()
        future: asyncio.Future[CachedState] = asyncio.get_running_loop().create_future()
        self._inflight[symbol] = _Read(started, future)
        try:
            state = await in_sync_thread(self._read_closing)(symbol)
            self.reads += 1
            entry = encode_state(state, started)
            self._entries[symbol] = entry
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._inflight[symbol]


def _overlays(symbol: str) -> dict[str, Any]:
    return overlay_state(symbol, now_ms=int(time.time() * 1000))


def _book(symbol: str) -> dict[str, Any]:
    return book_document(symbol, BOOK_LIMIT_CAP)


state_cache = SharedRead(_overlays, ttl_s=0.5)  # pollers every 3 s; joins pass newer_than
book_cache = SharedRead(_book, ttl_s=0.0)  # the freshest published book: shared only while in flight
health_cache = SharedRead(health_document, ttl_s=0.0)
