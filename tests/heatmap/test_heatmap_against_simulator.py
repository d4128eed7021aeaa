"""The heatmap end to end in real time: the real streamer on the simulator's sockets, the heatmap
listener with 2-second columns, the database and GET /api/heatmap. A wall placed for two full
columns shows at its bin with a mean >= 90 % of its size in those columns; after it is pulled its
bin is back to the background (or out of the band)."""

from __future__ import annotations

import dataclasses
import math
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.heatmap.domain.grid import heatmap_bin_of
from apps.heatmap.services.live import HeatmapListener
from apps.overlays.broadcast import OverlayBroadcaster
from apps.simulator.server import BinanceSimulator
from tests.book.streaming import start_pushing
from tests.group_watch import GroupWatch

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]

COLUMN_S = 2
BIN = Decimal(50)


class ColumnWatch(GroupWatch):
    """Every heatmap column pushed to the symbol's group, by start."""

    kind = "heatmap"

    def __init__(self, layer: ThrottledInMemoryChannelLayer) -> None:
        super().__init__(layer)
        self.columns: dict[int, dict[str, Any]] = {}

    def take(self, data: Any) -> None:
        for column in data["columns"]:
            self.columns[column["t"]] = column

    async def column(self, t: int, timeout: float) -> dict[str, Any]:
        return await self.until(lambda: self.columns.get(t), timeout)


def next_column_start(at_s: float) -> int:
    return math.ceil(at_s / COLUMN_S) * COLUMN_S


def bid_at(column: dict[str, Any], price: Decimal) -> float | None:
    """The column's mean bid quantity in the bin of ``price`` (None: absent)."""
    if column["bid_from"] is None:
        return None
    index = heatmap_bin_of(price, BIN) - heatmap_bin_of(Decimal(column["bid_from"]), BIN)
    return column["bid_qty"][index] if 0 <= index < len(column["bid_qty"]) else None


async def test_a_wall_held_for_two_columns_shows_at_its_bin_and_is_gone_once_pulled(settings):
    config = dataclasses.replace(settings.CONFIG, heatmap_column_s=COLUMN_S, publish_interval_ms=250)
    settings.CONFIG = config
    async with BinanceSimulator(
        depth_interval_s=0.1, seed=21, random_fast_moves=False, background_walls=False
    ) as sim:
        layer = ThrottledInMemoryChannelLayer(capacity=10_000)
        broadcaster = OverlayBroadcaster("BTCEUR", layer)
        listener = HeatmapListener(config, broadcaster)
        watch = ColumnWatch(layer)
        h = start_pushing(sim, broadcaster, [listener], watches=[watch], publish_interval_ms=250)
        try:
            await h.live()
            price = (sim.mid * Decimal("0.995")).quantize(Decimal("0.01"), ROUND_DOWN)
            bids, _ = sim.truth_at(sim.update_id)
            low = heatmap_bin_of(price, BIN) * BIN
            background = sum((q for p, q in bids if low <= p < low + BIN), Decimal(0))
            size = max(Decimal(5), (background * 20).quantize(Decimal("0.00001")))
            wall = sim.place_wall("bid", price, size)
            first = next_column_start(time.time() + 0.3)  # the first column wholly after the placement
            await watch.column(first + COLUMN_S, timeout=15)  # two full columns are finished
            sim.pull_wall(wall)
            after = next_column_start(time.time() + 0.3)
            await watch.column(after, timeout=15)
            response = await sync_to_async(Client().get)(
                "/api/heatmap", {"from": first, "to": after, "resolution": COLUMN_S}
            )
        finally:
            await h.stop()
    assert response.status_code == 200
    body = response.json()
    columns = {c["t"]: c for c in body["columns"]}
    assert body["resolution_s"] == COLUMN_S and body["bin_size"] == "50"
    for t in (first, first + COLUMN_S):
        held = columns[t]
        assert held == watch.columns[t]  # REST shows what was pushed
        assert held["live_cycles"] >= 6  # 8 cycles of 250 ms, give or take a late one
        assert bid_at(held, price) >= float(size) * 0.9, (t, held)
    gone = bid_at(columns[after], price)
    assert gone is None or gone < float(size) * 0.1, columns[after]
    assert h.mismatches == []
