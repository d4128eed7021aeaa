"""Zone history end to end in real time: a wall placed on the simulator and pulled ends `pulled`
and is listed once by GET /api/zones/history, with its life and how it ended."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_DOWN, Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.overlays.broadcast import OverlayBroadcaster
from apps.simulator.server import BinanceSimulator
from apps.zones.services.live import ZoneCycleListener
from tests.book.streaming import start_pushing, wall_size
from tests.group_watch import ZoneWatch

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def test_a_wall_placed_then_pulled_is_in_the_zone_history_as_pulled(settings):
    config = dataclasses.replace(settings.CONFIG, zone_discard_s=1.0)  # a short-lived wall is history too
    settings.CONFIG = config
    async with BinanceSimulator(
        depth_interval_s=0.1, seed=21, random_fast_moves=False, background_walls=False
    ) as sim:
        layer = ThrottledInMemoryChannelLayer(capacity=10_000)
        broadcaster = OverlayBroadcaster("BTCEUR", layer)
        listener = ZoneCycleListener(config, broadcaster)
        watch = ZoneWatch(layer)
        h = start_pushing(sim, broadcaster, [listener], watches=[watch], publish_interval_ms=250)
        try:
            await h.live()
            price = (sim.mid * Decimal("0.997")).quantize(Decimal("0.01"), ROUND_DOWN)
            wall = sim.place_wall("bid", price, wall_size(sim, "bid", price))
            zone = await watch.zone("bid", price, "candidate", timeout=10)
            await h.until(lambda p: p.ts_ms >= zone["first_seen_ts_ms"] + 2000)  # it stood 2 s
            sim.pull_wall(wall)
            pulled = await watch.zone("bid", price, "pulled", timeout=10)
            response = await sync_to_async(Client().get)("/api/zones/history", {"status": "pulled"})
        finally:
            await h.stop()
    assert response.status_code == 200
    [ended] = [z for z in response.json()["zones"] if z["id"] == zone["id"]]
    assert ended["status"] == "pulled" and ended["side"] == "bid"
    assert Decimal(ended["price_low"]) <= price <= Decimal(ended["price_high"])
    assert ended["first_seen_ts_ms"] == zone["first_seen_ts_ms"]
    assert ended["ended_ts_ms"] == pulled["ts_ms"] and ended["last_seen_ts_ms"] == pulled["last_seen_ts_ms"]
    assert ended["time_to"] - ended["time_from"] >= 2
    assert Decimal(ended["peak_notional"]) >= Decimal(zone["notional"])
    assert "liquidity vanished without trades there" in ended["end_reason"]
