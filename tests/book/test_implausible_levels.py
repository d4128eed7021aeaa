"""Issue #15: an implausible quantity from the exchange (1e25 written out, NaN, 1e25), over real
sockets from the simulator. Each bad depth event is counted, resyncs the book (its real updates are
lost), and the book is the exchange's again; the zone listener keeps computing on it (no
InvalidOperation), and /api/health's stream section shows the counts."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from django.conf import settings

from apps.book.domain.wire import STATIC_BOUNDS, LevelBounds
from apps.book.services.rest_client import BinanceRestClient, RestError
from apps.book.services.streamer import OrderBookStreamer
from apps.simulator.server import BinanceSimulator
from apps.zones.services.live import ZoneCycleListener
from tests.book.streaming import StreamHarness, fast_settings

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

BAD_QUANTITIES = ("10000000000000000000000000", "NaN", "1e25")


async def test_bad_quantities_are_counted_resynced_and_zones_keep_computing():
    async with BinanceSimulator(depth_interval_s=0.05, seed=3) as sim:
        zones = ZoneCycleListener(settings.CONFIG, None)
        streamer = OrderBookStreamer(fast_settings(sim, publish_interval_ms=100), listeners=[zones])
        streamer.health_sections["zones"] = zones.health  # as apps/live/runtime.py wires it
        h = StreamHarness(sim=sim, streamer=streamer)  # every live publication is checked against the truth
        streamer.observers.append(h.observe)
        h.task = asyncio.create_task(streamer.run())
        try:
            await h.live()
            # the bounds the frames are held to are exchangeInfo's by now
            await h.until(lambda p: streamer.rest.level_bounds.max_price == Decimal(1_000_000))
            for count, qty in enumerate(BAD_QUANTITIES, start=1):
                sim.inject_bad_quantity(qty)
                await h.until(lambda p, count=count: streamer.bad_frames["bad depth event"] >= count)
                await h.live(after_update_id=sim.update_id)  # live again, past the bad event
                assert streamer.sync.resyncs["bad depth event"] == count
            cycles = zones.cycles
            await h.until(lambda p: zones.cycles >= cycles + 3)
            health = streamer.health()
        finally:
            await h.stop()
    assert h.mismatches == [] and h.live_checked > 0
    assert health["bad_frames"] == {"bad depth event": 3}
    assert health["resyncs"] == {"bad depth event": 3}
    assert health["state"] == "live" and health["listener_errors"] == {}
    assert health["zones"]["computing"] is True and health["zones"]["failures"] == 0
    assert health["zones"]["last_error"] is None
    assert sim.state()["counters"]["fault_bad_quantity"] == len(BAD_QUANTITIES)


async def test_a_snapshot_outside_the_bounds_is_refused_like_a_malformed_one():
    async with BinanceSimulator(depth_interval_s=0.05, seed=3) as sim:
        client = BinanceRestClient(sim.rest_url)
        try:
            client.level_bounds = LevelBounds(Decimal("0.01"), Decimal(1000), Decimal(9000))  # BTC at 87k
            with pytest.raises(
                RestError, match=r"bad depth snapshot: bids price / bids qty \S+ / \S+ outside"
            ):
                await client.get_depth("BTCEUR", 100)
            client.level_bounds = STATIC_BOUNDS
            assert len((await client.get_depth("BTCEUR", 100)).bids) == 100
        finally:
            await client.aclose()
