"""Watching what the streamer pushes, for the tests that run it on the simulator's sockets: a
`GroupWatch` joins the symbol's group on the in-process channel layer and hands every message of
its kind to `take`; `until` waits (no sleeps) for what a test expects to have arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.overlays.broadcast import group_name

T = TypeVar("T")


class GroupWatch:
    """Every message of kind `kind` pushed to the symbol's group, handed to `take` as it arrives."""

    kind = ""

    def __init__(self, layer: ThrottledInMemoryChannelLayer, symbol: str = "BTCEUR") -> None:
        self.layer = layer
        self.symbol = symbol
        self.changed = asyncio.Condition()

    def take(self, data: Any) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        channel = await self.layer.new_channel()
        await self.layer.group_add(group_name(self.symbol), channel)
        while True:
            message = await self.layer.receive(channel)
            if message["kind"] != self.kind:
                continue
            self.take(message["data"])
            async with self.changed:
                self.changed.notify_all()

    async def until(self, found: Callable[[], T | None], timeout: float) -> T:
        """`found()` once it is not None, checked after each message of the kind."""

        async def wait() -> T:
            async with self.changed:
                while (result := found()) is None:
                    await self.changed.wait()
                return result

        return await asyncio.wait_for(wait(), timeout)


class ZoneWatch(GroupWatch):
    """Every zone dict pushed, by id, with the statuses it went through."""

    kind = "zones"

    def __init__(self, layer: ThrottledInMemoryChannelLayer, symbol: str = "BTCEUR") -> None:
        super().__init__(layer, symbol)
        self.zones: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, list[tuple[str, int]]] = {}

    def take(self, data: Any) -> None:
        for zone in [*data["added"], *data["changed"]]:
            self.zones[zone["id"]] = zone
            seen = self.statuses.setdefault(zone["id"], [])
            if not seen or seen[-1][0] != zone["status"]:
                seen.append((zone["status"], zone["ts_ms"]))

    def find(self, side: str, price: Decimal, status: str | None = None) -> dict[str, Any] | None:
        for zone in self.zones.values():
            if zone["side"] == side and Decimal(zone["price_low"]) <= price <= Decimal(zone["price_high"]):
                if status is None or zone["status"] == status:
                    return zone
        return None

    async def zone(self, side: str, price: Decimal, status: str, timeout: float) -> dict[str, Any]:
        return await self.until(lambda: self.find(side, price, status), timeout)
