"""The demo's simulated heatmap history (serve --simulator): hours of columns that follow the
simulator's candles, written only on an empty heatmap."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from apps.heatmap.domain.grid import HeatmapParams, heatmap_bin_of
from apps.heatmap.models import HeatmapColumn
from apps.live.demo_heatmap import price_at, seed_demo_heatmap, simulated_columns
from apps.simulator.klines import HOUR_MS, Candle
from apps.simulator.server import BinanceSimulator
from project.config import load_config

H0_MS = 1_796_158_800_000  # an hour boundary


def candle(hour: int, open_: int, high: int, low: int, close: int) -> Candle:
    return Candle(H0_MS + hour * HOUR_MS, open_, high, low, close, 1, 1, 1, 0, 0, 1, 1, True)


def test_the_price_runs_through_the_candle_open_low_high_close():
    rising = [candle(0, 8_700_000, 8_760_000, 8_690_000, 8_750_000)]
    at = lambda minute: price_at(rising, H0_MS + minute * 60_000, D(0))  # noqa: E731
    assert (at(0), at(20), at(40)) == (D("87000"), D("86900"), D("87600"))
    assert price_at(rising, H0_MS + HOUR_MS, D(1)) == D(1)  # outside the candles: the fallback


def test_simulated_columns_follow_the_candles_with_walls_standing_a_while():
    book = (
        [(D("86990") - 5 * i, D("0.5")) for i in range(300)],
        [(D("87010") + 5 * i, D("0.5")) for i in range(300)],
    )
    candles = [
        candle(
            h,
            8_700_000 + 30_000 * h,
            8_700_000 + 30_000 * (h + 1),
            8_700_000 + 30_000 * h,
            8_700_000 + 30_000 * (h + 1),
        )
        for h in range(4)
    ]
    params = HeatmapParams()
    start = H0_MS // 1000
    columns = simulated_columns(book, candles, params, start, start + 4 * 3600, seed=3)
    assert [c.t for c in columns] == list(range(start, start + 4 * 3600, 60))
    assert all(c.live_cycles == 60 for c in columns)
    first_bins = [c.bid.first for c in columns]
    assert first_bins[-1] - first_bins[0] == heatmap_bin_of(D("88200"), D(50)) - heatmap_bin_of(
        D("87000"), D(50)
    )
    typical = float(np.median(columns[0].bid.mean))
    tall = [c for c in columns if max(c.bid.mean.max(), c.ask.mean.max()) > 5 * typical]
    assert 10 <= len(tall) < len(columns)  # walls come and go
    assert all(np.all(c.bid.peak >= c.bid.mean) for c in columns)


@pytest.mark.django_db(transaction=True)
async def test_the_demo_backfill_writes_hours_of_columns_on_an_empty_heatmap_only():
    config = load_config({})
    sim = BinanceSimulator(seed=5)
    assert await seed_demo_heatmap(sim, config, seed=5, hours=2) == 120
    assert await seed_demo_heatmap(sim, config, seed=5, hours=2) == 0
    assert await sync_to_async(HeatmapColumn.objects.count)() == 120
