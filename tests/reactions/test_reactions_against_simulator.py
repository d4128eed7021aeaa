"""Reactions end to end in real time: the real streamer on the simulator's sockets with the zone and
reaction listeners, the database and the push. A fresh bullish block is stored below the price with
a bid wall inside it; the price is moved down into the block (not as far as the wall): the reaction
is recorded from the trade stream within a cycle or two of the move (not at a candle close), and its
first snapshot shows the wall in the block's range. The snapshots are shortened to 4, 8 and 12 s
through the constructor (the defaults are 1, 5 and 15 min)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.orderblocks.models import OrderBlock
from apps.overlays.broadcast import OverlayBroadcaster
from apps.reactions.services.live import ReactionListener
from apps.simulator.server import BinanceSimulator
from apps.zones.services.live import ZoneCycleListener
from tests.book.streaming import start_pushing
from tests.group_watch import GroupWatch

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]
CENT = Decimal("0.01")
HOUR_MS = 3_600_000


class ReactionWatch(GroupWatch):
    """Every `reaction` message pushed, in order, with when it arrived."""

    kind = "reaction"

    def __init__(self, layer: ThrottledInMemoryChannelLayer) -> None:
        super().__init__(layer)
        self.pushed: list[tuple[float, dict[str, Any]]] = []

    def take(self, data: Any) -> None:
        self.pushed.append((time.time(), data))

    async def first(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> tuple[float, dict[str, Any]]:
        return await self.until(lambda: next((p for p in self.pushed if predicate(p[1])), None), timeout)


def store_fresh_block(low: Decimal, high: Decimal, now_ms: int) -> str:
    created = (now_ms // HOUR_MS - 5) * HOUR_MS
    OrderBlock.objects.create(
        symbol="BTCEUR",
        direction="bullish",
        created_ts_ms=created,
        valid_from_ts_ms=created + 3 * HOUR_MS,
        price_low=low,
        price_high=high,
        atr14=Decimal("180"),
        bos_level=high + 300,
        bos_ts_ms=created + 2 * HOUR_MS,
        status="fresh",
    )
    return f"BTCEUR:bullish:{created}"


def background_near(sim: BinanceSimulator, price: Decimal) -> Decimal:
    bids, _ = sim.market.truth_at(sim.update_id)
    return sum((q for p, q in bids if abs(p - price) <= 100), Decimal(0))


async def test_price_entering_a_block_with_a_wall_records_a_reaction_whose_first_snapshot_shows_the_wall():
    config = settings.CONFIG
    async with BinanceSimulator(
        depth_interval_s=0.1, seed=21, random_fast_moves=False, background_walls=False
    ) as sim:
        mid = sim.mid
        high, low = (mid - 60).quantize(CENT, ROUND_DOWN), (mid - 260).quantize(CENT, ROUND_DOWN)
        block_id = await sync_to_async(store_fresh_block)(low, high, int(time.time() * 1000))
        layer = ThrottledInMemoryChannelLayer(capacity=10_000)
        broadcaster = OverlayBroadcaster("BTCEUR", layer)
        zones = ZoneCycleListener(config, broadcaster)
        reactions = ReactionListener(
            config, broadcaster, zones=zones.tracker.current, snapshot_offsets_ms=(4_000, 8_000, 12_000)
        )
        watch = ReactionWatch(layer)
        h = start_pushing(sim, broadcaster, [zones, reactions], watches=[watch], publish_interval_ms=1000)
        try:
            await h.live()
            wall_price = (mid - 200).quantize(CENT, ROUND_DOWN)
            wall_qty = max(Decimal(5), (background_near(sim, wall_price) * 2).quantize(Decimal("0.00001")))
            sim.place_wall("bid", wall_price, wall_qty)
            await h.live(after_update_id=sim.update_id)
            await h.live(after_update_id=sim.update_id)  # a cycle with the wall in the book
            assert reactions.health()["watched_blocks"] == 1
            moved_at = time.time()
            # into the block, well above the wall
            sim.fast_move("down", (sim.mid - (mid - 110)).quantize(CENT, ROUND_DOWN))
            arrived, touched = await watch.first(lambda r: r["block_id"] == block_id, timeout=10)
            _, first = await watch.first(
                lambda r: r["block_id"] == block_id and r["liquidity"][1]["taken_ms"] is not None, timeout=15
            )
            _, window = await watch.first(
                lambda r: r["block_id"] == block_id and r["liquidity"][3]["taken_ms"] is not None, timeout=15
            )
            response = await sync_to_async(Client().get)("/api/reactions")
        finally:
            await h.stop()
    assert arrived - moved_at < 3  # from the trades, within a cycle or two: no candle closed
    assert Decimal(touched["touch_price"]) <= high and touched["touch_ts_ms"] >= int(moved_at * 1000) - 1000
    assert touched["liquidity"][0]["qty"] is not None and Decimal(touched["liquidity"][0]["qty"]) >= wall_qty
    minute = first["liquidity"][1]  # "the 1-minute liquidity", at 4 s here
    assert minute["at"] == "4s" and minute["taken_ms"] - minute["at_ms"] < 1_500
    assert Decimal(minute["qty"]) >= wall_qty, (minute, wall_qty)
    assert Decimal(touched["range_low"]) == low - 50 and Decimal(touched["range_high"]) == high + 50
    # the wall was a zone in the range all through the window, and held
    held = [z for z in window["zones"] if Decimal(z["price_low"]) <= wall_price <= Decimal(z["price_high"])]
    assert [z["event"] for z in held] == ["held"], window["zones"]
    assert response.status_code == 200 and response.json()["reactions"][-1] == window
    assert h.mismatches == []
