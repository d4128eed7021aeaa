"""The streamer's stop flag and the small background tasks it owns (pushes, closes, listener calls)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any


class Lifetime:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def stopped(self) -> bool:
        return self.stopping.is_set()

    def stop(self) -> None:
        self.stopping.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, or return as soon as the streamer stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    def spawn(self, coro: Awaitable[Any], name: str | None = None) -> None:
        """Run `coro` in the background; it is cancelled at shutdown if still running."""
        task = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def running(self, name: str) -> bool:
        return any(task.get_name() == name for task in self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
