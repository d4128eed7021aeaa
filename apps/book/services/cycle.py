"""What the streamer hands to its listeners (zones, order blocks) every publication cycle."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from apps.book.domain.events import Kline, Trade
from apps.book.domain.snapshot_view import BookSnapshotView


@dataclass(frozen=True, slots=True)
class PublishCycle:
    """One listener's view of one cycle; nothing in it changes after it is made."""

    now_ms: int
    symbol: str
    status: str  # "live" | "connecting" | "syncing" | "resyncing" | "backoff" | "stale"
    # Only set while live: a read-only view of the book at `update_id`. Its level reads answer until
    # the book next changes (read them before your first await), then raise BookChangedError.
    book: BookSnapshotView | None
    update_id: int | None
    trades: Sequence[Trade] = ()  # aggTrades since the previous cycle (a tuple)


@runtime_checkable
class ClosingListener(Protocol):
    """A listener that runs something of its own (the alert webhook sender): the streamer awaits its
    ``aclose`` once at shutdown, after the last publication cycle."""

    async def aclose(self) -> None: ...


class DeltaSink(Protocol):
    """Where overlay changes go (the channel-layer broadcaster, apps/overlays/broadcast.py, in the
    running service): `kind` is the delta kind ("zones", "candle", "metrics", ...), `data` its JSON."""

    async def send(self, kind: str, data: Any) -> None: ...


class StreamListener(Protocol):
    """The publication loop awaits each listener's ``on_cycle`` in turn, one cycle at a time: a
    listener never sees two cycles at once (``on_kline`` runs as its own task, between awaits)."""

    async def on_cycle(self, cycle: PublishCycle) -> None: ...

    async def on_kline(self, kline: Kline) -> None: ...


T = TypeVar("T")


class OffLoopWaits:
    """How long a listener's cycle awaited work done elsewhere (a worker thread, the database), so
    its ``loop_ms`` counts only the time it held the event loop: ``ms`` is reset at the start of a
    cycle and grows with each ``off_loop`` await."""

    def __init__(self) -> None:
        self.ms = 0.0

    async def off_loop(self, awaitable: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await awaitable
        finally:
            self.ms += (time.perf_counter() - started) * 1000
