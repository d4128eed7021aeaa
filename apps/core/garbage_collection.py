"""Garbage-collector settings for the long-running server processes.

With 1000 WebSocket clients a serve process tracks ~200,000 container objects, and CPython's full
(generation 2) collection walks all of them: 70-120 ms measured here, with the event loop stopped,
about every 30 s. Those collections found almost nothing to free: they were triggered by objects
that live through one fan-out (futures, frames, per-cycle dicts), get promoted, then die by
reference count. Two standard settings remove most of them:

- `gc.freeze()` once start-up is done moves Django, the apps and every import into a permanent
  generation that no later collection walks;
- a larger young generation (`GC_GEN0_THRESHOLD`, default 50,000 allocations instead of 700)
  lets those short-lived objects die before a collection promotes them.

Cyclic garbage is still collected, only less often. What an interruption of the Binance stream
leaves behind (the dead WebSocket connection, dropped HTTP connections, exception tracebacks: about
a hundred objects in reference cycles, holding their buffers) has lived long enough to be in the
oldest generation, which CPython only collects once the objects promoted since the last full
collection reach 25 % of the long-lived ones: with one fault a minute, a full collection came
every ~35 minutes and freed ~14,000 objects and 2.4 MB of malloc'd memory, a sawtooth that kept
raising the allocators' high-water marks (docs/soak.md, session 4). So the streamer's composition
collects once whenever the book is live again after an interruption (`collect_after_recovery`),
before its first publication: 12-42 ms measured in a serve process on a loaded 2-core machine
(more with thousands of WebSocket clients' objects, still once per interruption).
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)
_settled = False


def settle_after_startup(gen0_threshold: int) -> None:
    """Call once the process has imported and configured everything (idempotent)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    if gen0_threshold > 0:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
    log.info("gc: %d start-up objects frozen; thresholds %s", gc.get_freeze_count(), gc.get_threshold())


def collect_after_recovery() -> None:
    """One full collection, logged: the garbage of the interruption that just ended."""
    started = time.perf_counter()
    found = gc.collect()
    log.info(
        "gc: %d unreachable objects collected after the recovery in %.1f ms",
        found,
        (time.perf_counter() - started) * 1000,
    )
