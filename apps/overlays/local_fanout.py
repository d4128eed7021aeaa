"""One channel-layer group member per web process, fanning group messages out to local sockets.

Channels' usual pattern makes every WebSocket consumer its own group member, so one broadcast
costs the layer one copy per client (a Lua loop over every member in Redis, a queue put per member
in memory) and every consumer one wake-up through its channel. With 1000 clients on a process
that per-client layer work was a large part of the time between publish and the last delivery.

Here the process joins the group ONCE per (event loop, layer, group): a `LocalFanout` receives each
group message once and hands it to every subscribed consumer in the same loop step, in
subscription order, yielding to the loop every `yield_every` subscribers so sockets start writing
and the streamer's own tasks (book, zones) are never held up by a long fan-out. A subscriber is an
async callable that must not wait on I/O (the overlay consumer queues anything slow for its own
loop). The fan-out keeps running while it has subscribers and leaves the group when the last one
leaves. If receiving from the layer fails (Redis restarted, say) it logs, waits and re-joins;
messages lost meanwhile show up as a seq hole at every client, which re-snapshots.

Channel layers drop a group member `group_expiry` (default 24 h) after it joined; the fan-out
re-joins every `rejoin_after_s` so a process that stays up for days keeps receiving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import BaseChannelLayer

log = logging.getLogger(__name__)

Subscriber = Callable[[dict[str, Any]], Awaitable[None]]

REJOIN_AFTER_S = 3600.0
YIELD_EVERY = 64
RETRY_AFTER_S = 1.0


class LocalFanout:
    def __init__(
        self,
        layer: BaseChannelLayer,
        group: str,
        *,
        rejoin_after_s: float = REJOIN_AFTER_S,
        yield_every: int = YIELD_EVERY,
        retry_after_s: float = RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layer = layer
        self.group = group
        self.rejoin_after_s = rejoin_after_s
        self.yield_every = max(1, yield_every)
        self.retry_after_s = retry_after_s
        self.clock = clock
        self.subscribers: dict[str, Subscriber] = {}
        self.channel_name: str | None = None
        self.received = 0
        self.delivered = 0
        self.subscriber_errors = 0
        self.receive_errors = 0
        self.joins = 0
        self._joined_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def stats(self) -> dict[str, Any]:
        """Counters for /api/health (read from any thread: plain ints, no locking needed)."""
        return {
            "group": self.group,
            "subscribers": len(self.subscribers),
            "received": self.received,
            "delivered": self.delivered,
            "subscriber_errors": self.subscriber_errors,
            "receive_errors": self.receive_errors,
            "joins": self.joins,
        }

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def subscribe(self, key: str, subscriber: Subscriber) -> None:
        """After this returns, every group message the layer accepts reaches `subscriber`."""
        async with self._lock:
            if not self.running:
                await self._join()
                self._task = asyncio.ensure_future(self._run())
            self.subscribers[key] = subscriber

    async def unsubscribe(self, key: str) -> None:
        async with self._lock:
            self.subscribers.pop(key, None)
            if self.subscribers or self._task is None:
                return
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await self._leave()

    async def _join(self) -> None:
        if self.channel_name is None:
            self.channel_name = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel_name)
        self._joined_at = self.clock()
        self.joins += 1
        log.info("fan-out joined group=%s channel=%s", self.group, self.channel_name)

    async def _leave(self) -> None:
        if self.channel_name is None:
            return
        try:
            await self.layer.group_discard(self.group, self.channel_name)
        except Exception as exc:  # the membership expires by itself
            log.warning("fan-out could not leave group=%s reason=%r", self.group, exc)
        log.info("fan-out left group=%s channel=%s (no subscribers)", self.group, self.channel_name)
        self.channel_name = None

    async def _run(self) -> None:
        while True:
            try:
                assert self.channel_name is not None
                message = await self.layer.receive(self.channel_name)
                if self.clock() - self._joined_at > self.rejoin_after_s:
                    await self._join()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.receive_errors += 1
                log.warning(
                    "fan-out receive failed group=%s reason=%r; re-joining in %.1f s",
                    self.group,
                    exc,
                    self.retry_after_s,
                )
                await asyncio.sleep(self.retry_after_s)
                with contextlib.suppress(Exception):
                    await self._join()
                continue
            self.received += 1
            await self._deliver(message)

    async def _deliver(self, message: dict[str, Any]) -> None:
        for index, subscriber in enumerate(list(self.subscribers.values()), start=1):
            try:
                await subscriber(message)
                self.delivered += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                self.subscriber_errors += 1
                log.exception("fan-out subscriber failed group=%s", self.group)
            if index % self.yield_every == 0:
                await asyncio.sleep(0)


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, str], LocalFanout]] = (
    weakref.WeakKeyDictionary()
)


def local_fanout(layer: BaseChannelLayer, group: str) -> LocalFanout:
    """The running loop's fan-out for (layer, group), created on first use."""
    per_loop = _fanouts.setdefault(asyncio.get_running_loop(), {})
    key = (id(layer), group)
    fanout = per_loop.get(key)
    if fanout is None or fanout.layer is not layer:
        fanout = per_loop[key] = LocalFanout(layer, group)
    return fanout


def fanout_stats() -> list[dict[str, Any]]:
    """Every fan-out of this process's open event loops (one per loop, layer and group), for
    /api/health; a closed loop's fan-outs are dead even while something still references the loop.
    Called from a request thread while the loop may add or drop an entry: copy, retry once."""
    for _ in range(2):
        try:
            fanouts = [
                f
                for loop, per_loop in list(_fanouts.items())
                if not loop.is_closed()
                for f in list(per_loop.values())
            ]
        except RuntimeError:  # changed size during the copy
            continue
        return [fanout.stats() for fanout in fanouts]
    return []


def web_health(details: bool) -> dict[str, Any]:
    """/api/health's `web` part: the answering process's overlay fan-out (with several web
    processes, each answers for itself), and its pid with `details` (the HEALTH_DETAILS setting)."""
    section: dict[str, Any] = {"pid": os.getpid()} if details else {}
    return {**section, "overlay_fanout": fanout_stats()}
