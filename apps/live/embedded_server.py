"""`manage.py serve`: daphne and the streamer on ONE event loop in one process.

daphne 4 runs no ASGI lifespan, so the streamer is started from inside daphne's running loop
(`reactor.callLater(0, ...)`) and stopped by a Twisted "before shutdown" trigger, which daphne's
signal handling fires on SIGTERM/SIGINT; shutdown waits for the streamer to close its socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import daphne.server  # installs the asyncio Twisted reactor before twisted.internet is imported
from twisted.internet import defer, reactor

log = logging.getLogger("apps.live.serve")


class StreamingServer(daphne.server.Server):
    """A daphne Server that also runs one background coroutine on its loop."""

    def __init__(
        self,
        *args: Any,
        background: Callable[[], Awaitable[None]],
        on_shutdown: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._background = background
        self._on_shutdown = on_shutdown
        self._task: asyncio.Task[None] | None = None

    def run(self) -> None:
        reactor.callLater(0, self._start_background)
        reactor.addSystemEventTrigger("before", "shutdown", self._stop_background)
        super().run()

    def _start_background(self) -> None:
        loop = asyncio.get_event_loop()
        self._task = loop.create_task(self._guarded(), name="streamer")

    async def _guarded(self) -> None:
        try:
            await self._background()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task failed")

    def _stop_background(self) -> defer.Deferred | None:
        if self._task is None or self._task.done():
            return None
        log.info("shutdown: stopping the streamer")
        self._on_shutdown()
        task = self._task

        async def wait() -> None:
            try:
                await asyncio.wait_for(asyncio.shield(task), 10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()

        return defer.Deferred.fromFuture(asyncio.ensure_future(wait()))
