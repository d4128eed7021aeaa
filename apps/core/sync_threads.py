"""The threads that run a server process's blocking work off the event loop: one fixed pool.

The streamer's database writes, the hot reads of the fast path and the zone computation of large
books run on worker threads. asyncio's default executor (what `sync_to_async(thread_sensitive=False)`
and `asyncio.to_thread` use) grows on demand up to min(32, cores + 4) threads: a new thread whenever
every existing one is busy at the moment of a call. So how many threads a process ends up with
depended on how loaded the machine had been, and each one costs memory for as long as the process
lives: its stack, its own glibc malloc arena and, because Django's connections are per thread, a
database connection. In the soak each late thread raised RSS by ~0.7 MB (docs/soak.md, session 5),
and on a 32-core host a process could hold 32 database connections.

This pool has `SYNC_THREADS` threads, all started once at start-up (`start_sync_threads`), so a
process's threads, arenas and connections are fixed from then on. Four is enough: at most about
that many such calls are ever in flight at once (a publication write, a zones write or computation,
and the single-flight hot reads); more would only wait a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async

from apps.core.framework_bypasses import start_all_threads

SYNC_THREADS = 4
START_TIMEOUT_S = 10.0

P = ParamSpec("P")
R = TypeVar("R")

sync_executor = ThreadPoolExecutor(max_workers=SYNC_THREADS, thread_name_prefix="sync")


def in_sync_thread(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """`func` as a coroutine function that runs it on the pool (context variables copied)."""
    return sync_to_async(func, thread_sensitive=False, executor=sync_executor)


def start_sync_threads() -> int:
    """Start every thread of the pool now (idempotent); returns how many threads it has."""
    return start_all_threads(sync_executor, SYNC_THREADS, START_TIMEOUT_S)
