"""Binance spot diff-depth synchronisation as a pure state machine (no sockets, no clock).

The documented procedure, step by step:
1. Open the stream and buffer events, noting U of the first one.
2. Fetch a snapshot; while its lastUpdateId < that first U, fetch again.
3. Drop buffered events with u <= lastUpdateId; load the snapshot; replay the rest.
4. Per event: u < local -> ignore; U > local + 1 -> gap, resync; else apply the absolute
   quantities and set local = u.
On top of it: a crossed book after a complete event is a desync (resync), a bounded buffer whose
overflow is a resync, and a reconnect that splices onto the retained book when the first new event
continues it (U <= local + 1 <= u), so no snapshot is spent on a short disconnect.

The driver (apps.book.services.streamer) feeds events and snapshots in and acts on the outcomes.
Readers must treat the book as valid only while `state is SyncState.LIVE`.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from enum import StrEnum

from apps.book.domain.events import DepthEvent, DepthSnapshot
from apps.book.domain.order_book import OrderBook


class SyncState(StrEnum):
    CONNECTING = "connecting"
    BUFFERING = "buffering"
    SNAPSHOTTING = "snapshotting"
    LIVE = "live"
    RESYNCING = "resyncing"
    BACKOFF = "backoff"


PUBLIC_STATUS = {
    SyncState.CONNECTING: "connecting",
    SyncState.BUFFERING: "syncing",
    SyncState.SNAPSHOTTING: "syncing",
    SyncState.LIVE: "live",
    SyncState.RESYNCING: "resyncing",
    SyncState.BACKOFF: "backoff",
}


class Outcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"
    BUFFERED = "buffered"
    NEED_SNAPSHOT = "need_snapshot"  # first event buffered: fetch a snapshot now
    SNAPSHOT_TOO_OLD = "snapshot_too_old"  # lastUpdateId < first buffered U: fetch again
    LIVE = "live"  # snapshot loaded and buffer replayed
    SPLICED = "spliced"  # reconnect continued the retained book without a snapshot
    RESYNC = "resync"  # book discarded; buffering again (a snapshot will be needed)


@dataclass(frozen=True, slots=True)
class SyncResult:
    outcome: Outcome
    reason: str = ""


class DepthSynchronizer:
    """Owns the local book and decides, event by event, whether it is provably in sync."""

    def __init__(self, *, max_buffer: int = 10_000, snapshot_limit: int | None = None) -> None:
        self.book = OrderBook()
        self.state = SyncState.CONNECTING
        self.max_buffer = max_buffer
        self.snapshot_limit = snapshot_limit
        self._buffer: deque[DepthEvent] = deque()
        self._first_update_id: int | None = None
        self._splice_pending = False
        self._resyncing = False
        self.resyncs: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.splices = 0
        self.events_applied = 0
        self.snapshots_loaded = 0

    # -- connection lifecycle -------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state is SyncState.LIVE

    @property
    def needs_snapshot(self) -> bool:
        """True while a buffered first event waits for a usable snapshot."""
        return (
            self.state in (SyncState.SNAPSHOTTING, SyncState.RESYNCING)
            and self._first_update_id is not None
            and not self._splice_pending
        )

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def connecting(self) -> None:
        self.state = SyncState.CONNECTING
        self._buffer.clear()
        self._first_update_id = None

    def connected(self) -> None:
        """The socket is open: start buffering (or wait for a splice onto the retained book)."""
        self._buffer.clear()
        self._first_update_id = None
        self.state = SyncState.RESYNCING if self._resyncing else SyncState.BUFFERING

    def disconnected(self) -> None:
        """The socket is gone. A live (or splice-pending) book is retained for a splice."""
        if self.state is SyncState.LIVE or self._splice_pending:
            self._splice_pending = True
        else:
            self.book.clear()
        self._buffer.clear()
        self._first_update_id = None
        self.state = SyncState.BACKOFF

    def force_resync(self, reason: str) -> SyncResult:
        """Discard the book and rebuild from a fresh snapshot on the same connection."""
        self._restart(reason)
        return SyncResult(Outcome.RESYNC, reason)

    # -- inputs ---------------------------------------------------------------------------
    def on_event(self, event: DepthEvent) -> SyncResult:
        if self.state is SyncState.LIVE:
            return self._apply_live(event)
        if self.state in (SyncState.CONNECTING, SyncState.BACKOFF):
            self.ignored["not connected"] += 1
            return SyncResult(Outcome.IGNORED, "not connected")
        if self._splice_pending:
            local = self.book.update_id
            if event.final_update_id <= local:
                self.ignored["old event"] += 1
                return SyncResult(Outcome.IGNORED, "old event before splice")
            if event.first_update_id <= local + 1:
                self._splice_pending = False
                self.book.apply(event.final_update_id, event.bids, event.asks)
                if self.book.is_crossed():
                    self._restart("crossed book")
                    return SyncResult(Outcome.RESYNC, "crossed book")
                self.state = SyncState.LIVE
                self._resyncing = False
                self.splices += 1
                self.events_applied += 1
                return SyncResult(Outcome.SPLICED, f"U={event.first_update_id} local={local}")
            # The new stream does not continue the old book: fall back to a snapshot.
            self._splice_pending = False
            self.book.clear()
        if len(self._buffer) >= self.max_buffer:
            self._restart("buffer overflow")
            self._buffer_first(event)
            return SyncResult(Outcome.RESYNC, "buffer overflow")
        if self._first_update_id is None:
            self._buffer_first(event)
            return SyncResult(Outcome.NEED_SNAPSHOT, f"first U={event.first_update_id}")
        self._buffer.append(event)
        return SyncResult(Outcome.BUFFERED)

    def on_snapshot(self, snapshot: DepthSnapshot) -> SyncResult:
        if self.state is SyncState.LIVE:
            return SyncResult(Outcome.IGNORED, "already live")
        if self._first_update_id is None or self._splice_pending:
            return SyncResult(Outcome.IGNORED, "no buffered event to anchor the snapshot")
        last = snapshot.last_update_id
        if last < self._first_update_id:
            return SyncResult(
                Outcome.SNAPSHOT_TOO_OLD, f"lastUpdateId={last} < first U={self._first_update_id}"
            )
        while self._buffer and self._buffer[0].final_update_id <= last:
            self._buffer.popleft()
        self.book.load_snapshot(last, snapshot.bids, snapshot.asks, self.snapshot_limit)
        self.snapshots_loaded += 1
        while self._buffer:
            event = self._buffer.popleft()
            if event.final_update_id < self.book.update_id:
                continue
            if event.first_update_id > self.book.update_id + 1:
                reason = "gap in buffered events"
                self._restart(reason)
                return SyncResult(Outcome.RESYNC, reason)
            self.book.apply(event.final_update_id, event.bids, event.asks)
            self.events_applied += 1
        if self.book.is_crossed():
            self._restart("crossed book")
            return SyncResult(Outcome.RESYNC, "crossed book")
        self._first_update_id = None
        self.state = SyncState.LIVE
        self._resyncing = False
        return SyncResult(Outcome.LIVE, f"lastUpdateId={last} local={self.book.update_id}")

    # -- internals ------------------------------------------------------------------------
    def _apply_live(self, event: DepthEvent) -> SyncResult:
        local = self.book.update_id
        if event.final_update_id < local:
            self.ignored["old event"] += 1
            return SyncResult(Outcome.IGNORED, "old event")
        if event.first_update_id > local + 1:
            reason = "gap"
            self._restart(reason)
            return SyncResult(Outcome.RESYNC, f"gap: U={event.first_update_id} > local+1={local + 1}")
        self.book.apply(event.final_update_id, event.bids, event.asks)
        self.events_applied += 1
        if self.book.is_crossed():
            self._restart("crossed book")
            return SyncResult(Outcome.RESYNC, f"crossed book at u={event.final_update_id}")
        return SyncResult(Outcome.APPLIED)

    def _buffer_first(self, event: DepthEvent) -> None:
        self._buffer.append(event)
        self._first_update_id = event.first_update_id
        if self.state is SyncState.BUFFERING:
            self.state = SyncState.SNAPSHOTTING

    def _restart(self, reason: str) -> None:
        self.resyncs[reason] += 1
        self.book.clear()
        self._buffer.clear()
        self._first_update_id = None
        self._splice_pending = False
        self._resyncing = True
        if self.state not in (SyncState.CONNECTING, SyncState.BACKOFF):
            self.state = SyncState.RESYNCING


class Handover:
    """Make-before-break switch to a new connection without a not-ready window.

    While the old connection still feeds the book, events from the new one are held. The switch
    is safe once the new stream is proven to be no further ahead than the book: a held event the
    book has already passed (u <= local; dropped, its next event starts at u + 1 <= local + 1), or
    a held head that continues the book (U <= local + 1). The driver then closes the old socket
    and feeds the held events to the synchronizer in order. A new stream that stays ahead past
    `max_pending` events switches anyway and the synchronizer's gap rule decides.
    """

    def __init__(self, max_pending: int = 200) -> None:
        self.pending: deque[DepthEvent] = deque()
        self.max_pending = max_pending
        self.caught_up = False

    def hold(self, event: DepthEvent) -> None:
        self.pending.append(event)

    def can_switch(self, local_update_id: int) -> bool:
        while self.pending and self.pending[0].final_update_id <= local_update_id:
            self.pending.popleft()
            self.caught_up = True
        if self.caught_up:
            return True
        if not self.pending:
            return False
        return self.pending[0].first_update_id <= local_update_id + 1 or len(self.pending) >= self.max_pending

    def release(self) -> list[DepthEvent]:
        events = list(self.pending)
        self.pending.clear()
        return events
