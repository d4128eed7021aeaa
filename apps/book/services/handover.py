"""Make-before-break: replace the active connection without a moment of not-live book.

Before Binance's 24 h limit (RECONNECT_AFTER_S) and on `serverShutdown` a second ("candidate")
connection opens; its depth events are held (apps.book.domain.sync.Handover) until they provably
continue the book, or HANDOVER_TIMEOUT_S passes. Then the candidate becomes the active connection,
the held events are released into the book and the old connection closes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from apps.book.domain.backoff import Backoff
from apps.book.domain.events import DepthEvent
from apps.book.domain.sync import DepthSynchronizer, Handover
from apps.book.services.connection import OPEN_ERRORS, Connection, Connections
from apps.book.services.lifetime import Lifetime

log = logging.getLogger("apps.book.streamer")


class MakeBeforeBreak:
    def __init__(
        self,
        settings: Any,  # reconnect_after_s, handover_timeout_s
        *,
        connections: Connections,
        sync: DepthSynchronizer,
        lifetime: Lifetime,
        backoff: Backoff,
        release: Callable[[DepthEvent], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reconnect_after_s: float = settings.reconnect_after_s
        self.timeout_s: float = settings.handover_timeout_s
        self.connections = connections
        self.sync = sync
        self.lifetime = lifetime
        self.backoff = backoff
        self._release = release
        self._monotonic = monotonic
        self.reason = ""  # why a handover is due ("" = none)
        self.pending: Handover | None = None  # the candidate's held events
        self.started = 0.0
        self.handovers = 0

    def request(self, reason: str) -> None:
        """The server announced it will close the active connection: hand over now."""
        if self.connections.candidate is None:
            log.warning("%s received: handing over to a new connection", reason)
            self.reason = reason

    def hold(self, event: DepthEvent) -> None:
        """A depth event from the candidate connection."""
        if self.pending is not None:
            self.pending.hold(event)

    def after_frame(self) -> None:
        """Called after each frame: switch when the candidate is ready, start one when due."""
        if self.connections.candidate is not None and self.pending is not None:
            self._maybe_switch()
        self._maybe_start()

    def _maybe_start(self) -> None:
        active = self.connections.active
        if active is None or self.connections.candidate is not None:
            return
        if not self.reason:
            age = self._monotonic() - active.opened
            if age < self.reconnect_after_s:
                return
            self.reason = f"connection age {age:.0f}s"
        if not self.sync.ready:
            # Nothing live to protect: a plain reconnect is as good as a handover.
            active.close_reason = f"reconnect: {self.reason}"
            self.reason = ""
            self.lifetime.spawn(active.ws.close(1000))
            return
        if self.lifetime.running("orderbook-handover"):
            return
        self.lifetime.spawn(self._open_candidate(), name="orderbook-handover")

    async def _open_candidate(self) -> None:
        reason = self.reason
        try:
            conn = await self.connections.open()
        except OPEN_ERRORS as exc:
            log.warning("handover connect failed: %s", exc)
            await self.lifetime.sleep(self.backoff.next_delay())
            return
        self.connections.candidate = conn
        self.pending = Handover()
        self.started = self._monotonic()
        log.info("handover started conn=%d reason=%s", conn.id, reason)

    def _maybe_switch(self) -> None:
        assert self.pending is not None
        timed_out = self._monotonic() - self.started > self.timeout_s
        if self.pending.can_switch(self.sync.book.update_id) or timed_out or not self.sync.ready:
            self.switch_over("timeout" if timed_out else "new stream continues the book")

    def switch_over(self, why: str) -> None:
        """The candidate becomes the active connection; its held events go into the book."""
        old, new, pending = self.connections.active, self.connections.candidate, self.pending
        assert new is not None and pending is not None
        self.connections.candidate, self.pending = None, None
        self.connections.activate(new)
        self.reason = ""
        self.handovers += 1
        log.info("handover complete conn=%d -> conn=%d (%s)", old.id if old else 0, new.id, why)
        for event in pending.release():
            self._release(event)
        if old is not None:
            self.lifetime.spawn(self.connections.close(old, "replaced by handover"))

    def candidate_lost(self, conn: Connection) -> None:
        log.warning("handover connection lost: %s", conn.close_reason)
        self.connections.candidate = None
        self.pending = None

    async def abandon(self) -> None:
        """The active connection ended while a handover was under way: drop the candidate too."""
        candidate = self.connections.candidate
        if candidate is not None:
            await self.connections.close(candidate, "active connection ended during handover")
            self.connections.candidate = None
            self.pending = None
