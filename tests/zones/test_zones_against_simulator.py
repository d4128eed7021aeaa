"""Zones end to end: the real streamer on the simulator's sockets, the zone listener, the DB and the
push. A wall placed by the test appears as a candidate, is confirmed after 30 s (the default
ZONE_CONFIRM_S, in real time), ends `pulled` when withdrawn; a wall swept by a fast move ends `broken`."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.overlays.broadcast import OverlayBroadcaster
from apps.simulator.server import BinanceSimulator
from apps.zones.models import ZoneCurrent
from apps.zones.services.live import ZoneCycleListener
from tests.book.streaming import start_pushing, wall_size
from tests.group_watch import ZoneWatch

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def test_walls_become_candidate_confirmed_then_pulled_or_broken():
    config = settings.CONFIG
    assert config.zone_confirm_s == 30 and config.zone_confirm_cycles == 5  # the defaults under test
    async with BinanceSimulator(
        depth_interval_s=0.1, seed=21, random_fast_moves=False, background_walls=False
    ) as sim:
        layer = ThrottledInMemoryChannelLayer(capacity=10_000)
        broadcaster = OverlayBroadcaster("BTCEUR", layer)
        listener = ZoneCycleListener(config, broadcaster)
        watch = ZoneWatch(layer)
        h = start_pushing(sim, broadcaster, [listener], watches=[watch], publish_interval_ms=1000)
        try:
            await h.live()
            mid = sim.mid
            cent = Decimal("0.01")
            bid_price = (mid * Decimal("0.997")).quantize(cent, ROUND_DOWN)
            ask_price = (mid * Decimal("1.003")).quantize(cent, ROUND_DOWN)
            bid_wall = sim.place_wall("bid", bid_price, wall_size(sim, "bid", bid_price))
            sim.place_wall("ask", ask_price, wall_size(sim, "ask", ask_price))

            bid_zone = await watch.zone("bid", bid_price, "candidate", timeout=10)
            ask_zone = await watch.zone("ask", ask_price, "candidate", timeout=10)
            confirmed = await watch.zone("bid", bid_price, "confirmed", timeout=45)
            assert confirmed["id"] == bid_zone["id"]  # same identity all along
            waited_s = (confirmed["ts_ms"] - confirmed["first_seen_ts_ms"]) / 1000
            assert 30 <= waited_s <= 33, waited_s
            await watch.zone("ask", ask_price, "confirmed", timeout=10)

            sim.pull_wall(bid_wall)  # liquidity withdrawn, nothing traded there: spoofing signal
            pulled = await watch.zone("bid", bid_price, "pulled", timeout=10)
            assert pulled["id"] == bid_zone["id"]

            sim.fast_move("up", (ask_price - mid) * 2)  # sweeps the ask wall with trades
            broken = await watch.zone("ask", ask_price, "broken", timeout=10)
            assert broken["id"] == ask_zone["id"]

            await h.live(after_update_id=sim.update_id)
            rows = {z.id: z.status for z in await sync_to_async(list)(ZoneCurrent.objects.all())}
            assert rows[bid_zone["id"]] == "pulled" and rows[ask_zone["id"]] == "broken"
            assert [s for s, _ in watch.statuses[bid_zone["id"]]] == ["candidate", "confirmed", "pulled"]
            assert [s for s, _ in watch.statuses[ask_zone["id"]]] == ["candidate", "confirmed", "broken"]
        finally:
            await h.stop()
        assert h.mismatches == []
