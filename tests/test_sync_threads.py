"""The server processes' blocking work runs on one fixed pool, however much of it overlaps."""

from __future__ import annotations

import asyncio
import threading

import pytest

from apps.core.sync_threads import SYNC_THREADS, in_sync_thread, start_sync_threads


async def test_overlapping_calls_share_the_fixed_pool_and_start_no_more_threads():
    assert start_sync_threads() == SYNC_THREADS
    assert start_sync_threads() == SYNC_THREADS  # idempotent
    together = threading.Barrier(SYNC_THREADS)  # each call waits until SYNC_THREADS run at once

    def blocking_call(i: int) -> str:
        together.wait(timeout=10)
        return threading.current_thread().name

    before = threading.active_count()
    names = await asyncio.gather(*(in_sync_thread(blocking_call)(i) for i in range(5 * SYNC_THREADS)))
    assert len(set(names)) == SYNC_THREADS
    assert all(name.startswith("sync") for name in names)
    assert threading.active_count() == before


async def test_a_call_sees_the_callers_context_and_raises_its_errors():
    import contextvars

    request_id = contextvars.ContextVar("request_id")
    request_id.set("abc")

    def read() -> str:
        return request_id.get()

    def fail() -> None:
        raise ValueError("bad row")

    assert await in_sync_thread(read)() == "abc"
    with pytest.raises(ValueError, match="bad row"):
        await in_sync_thread(fail)()
