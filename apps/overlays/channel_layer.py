"""The in-memory channel layer for the one-process `serve`, fixed for many WebSocket clients.

Channels' InMemoryChannelLayer runs its expiry sweep (every channel, every group member) on every
`receive`. With N connected clients each receiving every broadcast, one broadcast costs O(N^2):
about 1 s per message at 1000 clients. Expiry only needs to be noticed within a second, so this
layer sweeps at most once per `clean_interval_s`. Behaviour is otherwise unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer


class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args: Any, clean_interval_s: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clean_interval_s = clean_interval_s
        self._last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < self.clean_interval_s:
            return
        self._last_clean = now
        super()._clean_expired()
