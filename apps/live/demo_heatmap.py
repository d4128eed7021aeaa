"""Demo only (`serve --simulator`): a few hours of SIMULATED heatmap history, so the page shows a
heatmap from the first second instead of after the first columns (one a minute).

Nothing here touches real market data: the columns are made from the bundled simulator's current
book, binned on the heatmap grid and moved along the price path of the simulator's own 1h candles
(the ones the demo loads into the candle table), with slow noise on every bin and now and then a
wall that stands for 10-60 minutes. They are written only when the symbol has no heatmap column
yet (a fresh demo database); the live listener then carries on from the current column.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from apps.book.domain.events import Level
from apps.core.sync_threads import in_sync_thread
from apps.heatmap.domain.binned_book import BinnedBook
from apps.heatmap.domain.columns import FinishedColumn, SideColumn
from apps.heatmap.domain.grid import HeatmapParams, column_start, heatmap_bin_of, trusted_bins
from apps.heatmap.domain.packing import stored_row
from apps.heatmap.services import store
from apps.simulator.klines import HOUR_MS, Candle

log = logging.getLogger("apps.live.demo")

DEMO_HOURS = 4
_TICK = Decimal("0.01")


def price_at(candles: Sequence[Candle], t_ms: int, fallback: Decimal) -> Decimal:
    """The simulated price at ``t_ms``: inside its 1h candle, open -> low -> high -> close (a falling
    candle: open -> high -> low -> close), linearly between those four points."""
    for candle in candles:
        if candle.open_ms <= t_ms < candle.open_ms + HOUR_MS:
            points = (candle.open, candle.low, candle.high, candle.close)
            if candle.close < candle.open:
                points = (candle.open, candle.high, candle.low, candle.close)
            at = (t_ms - candle.open_ms) / HOUR_MS * 3
            leg = min(int(at), 2)
            ticks = points[leg] + (points[leg + 1] - points[leg]) * (at - leg)
            return Decimal(int(ticks)) * _TICK
    return fallback


@dataclass
class _Walls:
    """Simulated walls: bin -> (side, quantity, last column start)."""

    rng: random.Random
    typical: float
    standing: dict[int, tuple[str, float, int]] = field(default_factory=dict)

    def step(self, t: int, centre_bin: int, band_bins: int) -> None:
        self.standing = {k: w for k, w in self.standing.items() if w[2] >= t}
        if self.rng.random() < 1 / 15:  # about one new wall every 15 minutes
            side = self.rng.choice(("bid", "ask"))
            offset = self.rng.randint(2, max(3, band_bins // 2))
            where = centre_bin - offset if side == "bid" else centre_bin + offset
            qty = self.typical * self.rng.uniform(6, 14)
            self.standing[where] = (side, qty, t + 60 * self.rng.randint(10, 60))

    def add(self, side: str, first: int, values: np.ndarray) -> None:
        for k, (wall_side, qty, _) in self.standing.items():
            if wall_side == side and first <= k < first + len(values):
                values[k - first] += qty


def _side(first: int, values: np.ndarray, rng: np.random.Generator) -> SideColumn:
    mean = values.astype(np.float32)
    peak = (mean * (1 + np.abs(rng.normal(0, 0.2, len(mean))))).astype(np.float32)
    return SideColumn(first, mean, peak)


def simulated_columns(
    book: tuple[Sequence[Level], Sequence[Level]],
    candles: Sequence[Candle],
    params: HeatmapParams,
    start_s: int,
    end_s: int,
    seed: int = 1,
) -> list[FinishedColumn]:
    """Columns from ``start_s`` up to (not including) ``end_s`` (see the module docstring)."""
    bids, asks = book
    mid = (bids[0][0] + asks[0][0]) / 2
    spans = trusted_bins(bids[0][0], asks[0][0], None, params)
    base = BinnedBook.from_levels(bids, asks, params.bin_size, (0, 0)).picture(spans)
    base_bids, base_asks = np.array(base.bid.qty), np.array(base.ask.qty)
    rng, noise_rng = random.Random(seed), np.random.default_rng(seed)
    walls = _Walls(rng, float(np.median(np.concatenate([base_bids, base_asks])) or 1.0))
    noise = [np.ones(len(base_bids)), np.ones(len(base_asks))]
    cycles = max(1, params.column_s * 1000 // params.publish_interval_ms)
    columns = []
    for t in range(start_s, end_s, params.column_s):
        shift = heatmap_bin_of(price_at(candles, t * 1000, mid), params.bin_size) - heatmap_bin_of(
            mid, params.bin_size
        )
        walls.step(t, spans.bid.last + shift, spans.bid.bins)
        noise = [0.85 * n + 0.15 * noise_rng.lognormal(0, 0.5, len(n)) for n in noise]
        bid_values, ask_values = base_bids * noise[0], base_asks * noise[1]
        walls.add("bid", base.bid.first + shift, bid_values)
        walls.add("ask", base.ask.first + shift, ask_values)
        bid = _side(base.bid.first + shift, bid_values, noise_rng)
        ask = _side(base.ask.first + shift, ask_values, noise_rng)
        columns.append(FinishedColumn(t, cycles, bid, ask))
    return columns


async def seed_demo_heatmap(sim: Any, config: Any, seed: int = 1, hours: int = DEMO_HOURS) -> int:
    """Write ``hours`` of simulated columns before the current one when the symbol has none yet;
    returns how many were written. ``sim`` is the running BinanceSimulator."""
    if await in_sync_thread(store.has_columns)(config.symbol):
        return 0
    params = HeatmapParams.from_config(config)
    end_s = column_start(int(time.time() * 1000), params.column_s)
    start_s = end_s - hours * 3600
    book = sim.truth_at(sim.update_id)
    candles = [*sim.candles.closed, sim.candles.live]
    columns = simulated_columns(book, candles, params, start_s, end_s, seed=seed)
    rows = [stored_row(column) for column in columns]
    await in_sync_thread(store.write_columns)(config.symbol, params.bin_size, params.column_s, rows)
    log.info("demo heatmap: %d simulated columns written (%d h before now)", len(rows), hours)
    return len(rows)
