"""Test harness: the real streamer against the real simulator over loopback sockets.

Every publication is checked against the simulator's truth at its update id as it happens, so
any test using `StreamHarness` also asserts "no published book ever differed from the exchange".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.book.domain.events import Side
from apps.book.services.streamer import OrderBookStreamer, Published, StreamerSettings
from apps.simulator.server import BinanceSimulator


@dataclass
class StreamHarness:
    sim: BinanceSimulator
    streamer: OrderBookStreamer
    task: asyncio.Task[None] | None = None
    watchers: list[asyncio.Task[None]] = field(default_factory=list)  # cancelled by stop()
    live_checked: int = 0
    mismatches: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    _waiters: list[tuple[Callable[[Published], bool], asyncio.Future[Published]]] = field(
        default_factory=list
    )

    def observe(self, published: Published) -> None:
        if not self.statuses or self.statuses[-1] != published.status:
            self.statuses.append(published.status)
        if published.status == "live" and published.view is not None:
            # Observers run synchronously inside the publication, so the streamer's whole book is
            # exactly the one the view was captured from: compare all of it, not only the top N.
            view = published.view
            book = self.streamer.sync.book
            bids, asks = self.sim.market.truth_at(view.update_id)
            top_bids, top_asks = self.sim.market.truth_top(view.update_id, len(view.bids))
            local_bids = book.top(Side.BID, book.depth(Side.BID))
            local_asks = book.top(Side.ASK, book.depth(Side.ASK))
            if list(view.bids) != list(top_bids) or list(view.asks) != list(top_asks):
                self.mismatches.append(f"published top differs at update_id={view.update_id}")
            elif local_bids != list(bids) or local_asks != list(asks):
                self.mismatches.append(f"local book differs at update_id={view.update_id}")
            self.live_checked += 1
        for predicate, future in list(self._waiters):
            if not future.done() and predicate(published):
                future.set_result(published)

    async def until(self, predicate: Callable[[Published], bool], timeout: float = 15.0) -> Published:
        """Wait for the first publication satisfying `predicate` (publications come every cycle)."""
        future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove(entry)

    async def live(self, after_update_id: int = 0, timeout: float = 15.0) -> Published:
        return await self.until(
            lambda p: p.status == "live" and p.view is not None and p.view.update_id > after_update_id,
            timeout,
        )

    async def quiet(self, seconds: float = 0.2) -> None:
        """Wait until no depth event has arrived for `seconds` (e.g. once a stall has taken hold)."""
        await self.until(lambda p: self.streamer.watchdog.age() > seconds)

    async def stop(self) -> None:
        self.streamer.stop()
        try:
            if self.task is not None:
                await asyncio.wait_for(self.task, 10)
        finally:
            for watcher in self.watchers:
                watcher.cancel()


class MovableClock:
    """A monotonic clock for the streamer that runs with real time and can be moved forward at once,
    so a test trips the time-based decisions (watchdog, stale) without waiting for them."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def fast_settings(sim: BinanceSimulator, **overrides: Any) -> StreamerSettings:
    values: dict[str, Any] = {
        "ws_url": sim.ws_url,
        "rest_url": sim.rest_url,
        "symbol": "BTCEUR",
        "publish_interval_ms": 50,
        "watchdog_s": 1.5,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.4,
        "rest_timeout_s": 1.0,
    }
    values.update(overrides)
    return StreamerSettings(**values)


async def start_harness(
    sim: BinanceSimulator,
    *,
    on_recovered: Callable[[], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    **overrides: Any,
) -> StreamHarness:
    streamer = OrderBookStreamer(
        fast_settings(sim, **overrides), on_recovered=on_recovered, monotonic=monotonic
    )
    harness = StreamHarness(sim=sim, streamer=streamer)
    streamer.observers.append(harness.observe)
    harness.task = asyncio.create_task(streamer.run())
    return harness


def start_pushing(
    sim: BinanceSimulator,
    broadcaster: Any,
    listeners: Sequence[Any],
    *,
    watches: Sequence[Any] = (),
    observers: Sequence[Callable[[Published], None]] = (),
    **overrides: Any,
) -> StreamHarness:
    """The streamer with ``listeners`` pushing through ``broadcaster`` (on an in-process layer the
    test reads): each of ``watches`` (tests/group_watch.py) joins the group before the streamer runs,
    and ``stop()`` ends them too."""
    streamer = OrderBookStreamer(
        fast_settings(sim, **overrides), listeners=listeners, broadcaster=broadcaster
    )
    harness = StreamHarness(sim=sim, streamer=streamer)
    streamer.observers.extend([harness.observe, *observers])
    harness.watchers = [asyncio.create_task(watch.run()) for watch in watches]
    harness.task = asyncio.create_task(streamer.run())
    return harness


def wall_size(sim: BinanceSimulator, side: str, price: Decimal) -> Decimal:
    """8x the average 50-EUR bin volume around `price` (the detector's threshold is 4x the median)."""
    bids, asks = sim.market.truth_at(sim.update_id)
    levels = bids if side == "bid" else asks
    near = sum((q for p, q in levels if abs(p - price) <= 150), Decimal(0))
    return max(Decimal("1"), (near / 6 * 8).quantize(Decimal("0.00001")))
