"""The in-memory channel layer for the one-process `serve`.

Channels' InMemoryChannelLayer, per broadcast to N members, (1) runs its expiry sweep over every
channel and group member on every `receive` and (2) creates N tasks, each deep-copying the message.
Before apps.overlays.local_fanout existed every WebSocket client was a member, and at 1000 clients
that cost about 1 s per broadcast. Now a web process is ONE member of the overlay group, so both
costs are small either way; this layer still sweeps at most once per `clean_interval_s` and puts
one copy of a group message straight into each member's queue, which keeps other groups and extra
members (tests, a second loop) cheap. Members must treat received messages as read-only (the
fan-out and the overlay consumer do). A full member queue drops that member's copy, as before: the
clients see a seq hole and re-snapshot.
"""

from __future__ import annotations

import asyncio
import time
from copy import deepcopy
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

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        shared = deepcopy(message)  # once, not once per member
        expires = time.time() + self.expiry
        for channel in list(self.groups.get(group, ())):
            queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
            try:
                queue.put_nowait((expires, shared))
            except asyncio.QueueFull:
                pass
