"""The book's side of the stream: keeps the local book provably in sync with the exchange.

Feeds depth events to the pure `DepthSynchronizer`, fetches a depth snapshot through the REST client
(its shared weight budget) whenever the synchronizer asks for one, refetches a snapshot that is too
old, and acts on every outcome (log, snapshot, "live again"). Every snapshot request after the first
waits the pause `SnapshotPacing` gives (0.5 s doubling to BACKOFF_CAP_S, reset after a live minute):
resyncs in a row, failed requests and snapshots too old alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from apps.book.domain.events import DepthEvent
from apps.book.domain.rate_limit import SnapshotPacing
from apps.book.domain.sync import DepthSynchronizer, Outcome, SyncResult
from apps.book.services.lifetime import Lifetime
from apps.book.services.rest_client import BinanceRestClient, RestError

log = logging.getLogger("apps.book.streamer")


class BookSession:
    def __init__(
        self,
        settings: Any,  # symbol, snapshot_limit, backoff_base_s, backoff_cap_s
        *,
        sync: DepthSynchronizer,
        rest: BinanceRestClient,
        lifetime: Lifetime,
        on_status: Callable[..., None],  # (reason=...) the public status may have changed
        on_error: Callable[[str], None],
        on_live: Callable[[], None],
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        self.symbol: str = settings.symbol.upper()
        self.snapshot_limit: int = settings.snapshot_limit
        self.sync = sync
        self.rest = rest
        self.lifetime = lifetime
        self._on_status = on_status
        self._on_error = on_error
        self._on_live = on_live  # live again: the connection proved healthy
        # called each time the book is live again after an interruption (snapshot or splice), once
        # what the interruption left behind (dead sockets, HTTP connections, tracebacks) is garbage
        self.on_recovered = on_recovered
        self.pacing = SnapshotPacing(base_s=settings.backoff_base_s, cap_s=settings.backoff_cap_s)
        self.snapshots_fetched = 0
        self.snapshots_too_old = 0
        self._resync_requested: str | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        self._snapshot_wanted = asyncio.Event()

    def request_resync(self, reason: str) -> None:
        """Discard the book and rebuild it from a fresh snapshot (applied by the connection loop)."""
        self._resync_requested = reason

    def apply_pending_resync(self) -> None:
        if self._resync_requested is not None:
            reason, self._resync_requested = self._resync_requested, None
            self.on_result(self.sync.force_resync(reason))

    def on_depth(self, event: DepthEvent) -> None:
        self.on_result(self.sync.on_event(event))

    def on_result(self, result: SyncResult) -> None:
        outcome = result.outcome
        reason: str | None = None
        if outcome is Outcome.RESYNC:
            log.warning("resync reason=%s", result.reason)
            reason = result.reason
            self._want_snapshot()
        elif outcome is Outcome.NEED_SNAPSHOT:
            log.info("buffering from %s; fetching snapshot", result.reason)
            reason = "fetching a snapshot"
            self._want_snapshot()
        elif outcome is Outcome.SPLICED:
            log.info("spliced onto retained book (%s), no snapshot needed", result.reason)
            self.pacing.went_live(self.rest.monotonic())
            self._on_live()
        elif outcome is Outcome.LIVE:
            log.info("live: %s", result.reason)
            self.pacing.went_live(self.rest.monotonic())
            self._on_live()
        self._on_status(reason=reason)
        if outcome in (Outcome.SPLICED, Outcome.LIVE) and self.on_recovered is not None:
            self.on_recovered()

    def cancel(self) -> None:
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()

    # -- snapshots ------------------------------------------------------------------------
    def _want_snapshot(self) -> None:
        self._snapshot_wanted.set()
        if self._snapshot_task is None or self._snapshot_task.done():
            self._snapshot_task = asyncio.create_task(self._snapshot_loop(), name="orderbook-snapshot")

    async def _snapshot_loop(self) -> None:
        while not self.lifetime.stopped:
            if not self.sync.needs_snapshot:
                self._snapshot_wanted.clear()
                if self.sync.ready:
                    return
                await self._snapshot_wanted.wait()
                continue
            pause = self.pacing.next_pause(self.rest.monotonic())
            if pause > 0:
                log.info("snapshot request %d in a row: pausing %.2fs first", self.pacing.requests, pause)
                await self.lifetime.sleep(pause)
                if not self.sync.needs_snapshot:
                    continue
            try:
                snapshot = await self.rest.get_depth(self.symbol, self.snapshot_limit)
            except RestError as exc:
                log.warning("snapshot failed: %s", exc)
                self._on_error(f"snapshot failed: {exc}")
                continue
            self.snapshots_fetched += 1
            if not self.sync.needs_snapshot:
                continue  # the stream moved on while we fetched (disconnect/resync): re-evaluate
            result = self.sync.on_snapshot(snapshot)
            log.info(
                "snapshot lastUpdateId=%d -> %s %s", snapshot.last_update_id, result.outcome, result.reason
            )
            if result.outcome is Outcome.SNAPSHOT_TOO_OLD:
                self.snapshots_too_old += 1
                continue
            self.on_result(result)
