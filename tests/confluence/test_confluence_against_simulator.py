"""Confluence end to end in real time: the real streamer on the simulator's sockets with the zone and
confluence listeners, the database and the API. A fresh bullish block is measured on the bids as soon
as the book is live; a wall placed inside it makes it `backed` within two publication cycles (pushed
and stored), and it is no longer backed once the wall is pulled."""

from __future__ import annotations

import asyncio
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from apps.confluence.services.live import ConfluenceListener
from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.orderblocks.models import OrderBlock
from apps.overlays.broadcast import OverlayBroadcaster, group_name
from apps.simulator.server import BinanceSimulator
from apps.zones.services.live import ZoneCycleListener
from tests.book.streaming import start_pushing

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]

CENT = Decimal("0.01")
CREATED_MS = 1_700_000_000_000
BLOCK_ID = f"BTCEUR:bullish:{CREATED_MS}"


class BlockWatch:
    """Every confluence entry pushed for one block, with the live cycles published when it came."""

    def __init__(self, layer: ThrottledInMemoryChannelLayer, block_id: str) -> None:
        self.layer = layer
        self.block_id = block_id
        self.entries: list[tuple[int, dict[str, Any]]] = []
        self.live_cycles = 0
        self.changed = asyncio.Condition()

    def observe(self, published: Any) -> None:  # a streamer observer: runs before the listeners
        if published.status == "live":
            self.live_cycles += 1

    async def run(self) -> None:
        channel = await self.layer.new_channel()
        await self.layer.group_add(group_name("BTCEUR"), channel)
        while True:
            message = await self.layer.receive(channel)
            if message["kind"] != "confluence":
                continue
            for entry in message["data"]["changed"]:
                if entry["id"] == self.block_id:
                    self.entries.append((self.live_cycles, entry))
            async with self.changed:
                self.changed.notify_all()

    async def until(self, predicate: Any, timeout: float) -> tuple[int, dict[str, Any]]:
        async def wait() -> tuple[int, dict[str, Any]]:
            async with self.changed:
                while not (self.entries and predicate(self.entries[-1][1])):
                    await self.changed.wait()
                return self.entries[-1]

        return await asyncio.wait_for(wait(), timeout)


@sync_to_async
def add_fresh_bullish_block(low: Decimal, high: Decimal) -> None:
    OrderBlock.objects.create(
        symbol="BTCEUR",
        direction="bullish",
        created_ts_ms=CREATED_MS,
        valid_from_ts_ms=CREATED_MS + 3 * 3_600_000,
        valid_to_ts_ms=None,
        price_low=low,
        price_high=high,
        atr14=Decimal("250"),
        bos_level=high + 400,
        bos_ts_ms=CREATED_MS + 2 * 3_600_000,
        touched_ts_ms=None,
        status="fresh",
    )


@sync_to_async
def api_block() -> dict[str, Any]:
    response = Client().get("/api/orderblocks")
    assert response.status_code == 200
    return next(b for b in response.json()["orderblocks"] if b["id"] == BLOCK_ID)


async def test_a_wall_placed_inside_a_fresh_bullish_block_backs_it_within_two_cycles():
    config = settings.CONFIG
    async with BinanceSimulator(
        depth_interval_s=0.1, seed=21, random_fast_moves=False, background_walls=False
    ) as sim:
        mid = sim.mid
        low = (mid * Decimal("0.9945")).quantize(CENT, ROUND_DOWN)
        high = (mid * Decimal("0.9965")).quantize(CENT, ROUND_DOWN)
        await add_fresh_bullish_block(low, high)
        layer = ThrottledInMemoryChannelLayer(capacity=10_000)
        broadcaster = OverlayBroadcaster("BTCEUR", layer)
        zones = ZoneCycleListener(config, broadcaster)
        confluence = ConfluenceListener(config, broadcaster, zones=zones.live_zones)
        watch = BlockWatch(layer, BLOCK_ID)
        h = start_pushing(
            sim,
            broadcaster,
            [zones, confluence],
            watches=[watch],
            observers=[watch.observe],
            publish_interval_ms=1000,
        )
        try:
            await h.live()
            _, measured = await watch.until(lambda e: e["liquidity"] is not None, timeout=10)
            assert measured["backed"] is False and measured["liquidity"]["side"] == "bid"
            before = Decimal(measured["liquidity"]["qty"])
            wall = max(Decimal(5), (before * 10).quantize(Decimal("0.00001")))

            placed_after = watch.live_cycles
            wall_id = sim.place_wall("bid", ((low + high) / 2).quantize(CENT), wall)
            cycles, backed = await watch.until(lambda e: e["backed"], timeout=10)
            assert cycles - placed_after <= 2, (placed_after, cycles)
            assert Decimal(backed["liquidity"]["qty"]) >= wall
            assert backed["liquidity"]["score"] >= config.zone_wall_multiplier
            assert (await api_block())["backed"] is True  # stored as pushed

            sim.pull_wall(wall_id)
            _, pulled = await watch.until(lambda e: not e["backed"], timeout=10)
            assert Decimal(pulled["liquidity"]["qty"]) < wall
        finally:
            await h.stop()
        assert confluence.failures == 0 and confluence.timings.loop_ms < 50
    assert h.mismatches == []
