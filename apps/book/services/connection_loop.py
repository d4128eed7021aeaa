"""The connection loop: keep the combined stream connected and feed its frames in, one at a time.

Connect; hand every frame of the active connection (and of a handover candidate) to `on_frame`;
reconnect with full-jitter exponential backoff after a socket fault or when the depth watchdog trips
(no depth event for WATCHDOG_S; websockets keepalive pings cover dead TCP). The watchdog is judged
on its injected clock: the loop never waits longer than `WATCHDOG_POLL_S` without looking at it, so
a clock moved forward in a test trips it as a real silence would, and in production it trips at the
same moment as a single timer would.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from apps.book.domain.backoff import Backoff
from apps.book.domain.sync import DepthSynchronizer
from apps.book.services.book_session import BookSession
from apps.book.services.connection import OPEN_ERRORS, Connection, Connections
from apps.book.services.handover import MakeBeforeBreak
from apps.book.services.lifetime import Lifetime
from apps.book.services.status import StreamStatus
from apps.book.services.watchdog import Watchdog
from apps.book.services.wire_tap import WireTap

log = logging.getLogger("apps.book.streamer")

WATCHDOG_POLL_S = 0.25


class ConnectionLoop:
    def __init__(
        self,
        *,
        connections: Connections,
        handover: MakeBeforeBreak,
        session: BookSession,
        sync: DepthSynchronizer,
        watchdog: Watchdog,
        status: StreamStatus,
        lifetime: Lifetime,
        backoff: Backoff,
        on_frame: Callable[[Any, bool], None],  # (frame, live)
        tap: WireTap | None = None,  # a recorder: frames of the active connection, connects, losses
    ) -> None:
        self.connections = connections
        self.handover = handover
        self.session = session
        self.sync = sync
        self.watchdog = watchdog
        self.status = status
        self.lifetime = lifetime
        self.backoff = backoff
        self.on_frame = on_frame
        self.tap = tap
        self.reconnects: Counter[str] = Counter()  # by reason (the part before ":")
        self.last_backoff_s = 0.0

    async def run(self) -> None:
        """Until the streamer stops: connect, process frames, and reconnect when the connection ends."""
        connections = self.connections
        while not self.lifetime.stopped:
            self.sync.connecting()
            self.status.note(reason=self.status.reason)  # still why we are (re)connecting
            try:
                conn = await connections.open()
            except OPEN_ERRORS as exc:
                await self._backoff(f"connect failed: {type(exc).__name__}: {exc}")
                continue
            connections.activate(conn)
            self.sync.connected()
            self.watchdog.feed()
            log.info("connected conn=%d state=%s", conn.id, self.sync.state.value)
            if self.tap is not None:
                self.tap.marker(time.time_ns(), "connected", connections.url)
            self.status.note()
            reason = await self._process()
            connections.active = None
            await connections.close(conn, reason)
            await self.handover.abandon()
            if self.lifetime.stopped:
                break
            self.sync.disconnected()
            connections.drain()
            await self._backoff(reason)

    async def _backoff(self, reason: str) -> None:
        self.reconnects[reason.split(":")[0]] += 1
        delay = self.backoff.next_delay()
        self.last_backoff_s = delay
        log.warning(
            "disconnected reason=%s; reconnect in %.2fs (attempt %d)", reason, delay, self.backoff.attempt
        )
        if reason != "shutdown":
            self.status.error(reason)
        if self.tap is not None:
            self.tap.marker(time.time_ns(), "disconnected", reason)
        self.status.note(reason=reason, attempt=self.backoff.attempt)
        await self.lifetime.sleep(delay)

    async def _process(self) -> str:
        """Handle frames until the active connection ends; returns the reason."""
        connections, tap = self.connections, self.tap
        while True:
            if self.lifetime.stopped:
                return "shutdown"
            self.session.apply_pending_resync()
            remaining = self.watchdog.remaining()
            if remaining <= 0:  # checked before every frame: other frames (trades) may keep the queue busy
                return self.watchdog.reason
            item = await connections.next(min(remaining, WATCHDOG_POLL_S))
            if item is None:
                continue  # quiet for a while: look at the watchdog again
            conn, frame = item
            if conn is None:
                continue  # stop() or a control nudge: re-check the flags above
            if frame is None:
                ended = self._ended(conn)
                if ended is not None:
                    return ended
                continue
            if conn is connections.active:
                if tap is not None:
                    tap.frame(time.time_ns(), frame)
                self.on_frame(frame, True)
            elif conn is connections.candidate:
                self.on_frame(frame, False)
            else:
                continue  # a connection we already left
            self.handover.after_frame()

    def _ended(self, conn: Connection) -> str | None:
        """A connection ended: the reason when it was the active one (and nothing replaces it)."""
        if conn is self.connections.active:
            if self.connections.candidate is not None:
                self.handover.switch_over("old connection closed")
                return None
            return conn.close_reason or "closed"
        if conn is self.connections.candidate:
            self.handover.candidate_lost(conn)
        return None
