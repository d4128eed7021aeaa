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

Cyclic garbage is still collected, only less often; memory stays bounded (see the soak report).
"""

from __future__ import annotations

import gc
import logging

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
