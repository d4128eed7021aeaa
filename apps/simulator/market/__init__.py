"""The pure simulated market (no I/O, no clock): :class:`SimulatedMarket` and what it produces."""

from apps.simulator.market.events import MarketDepthEvent, MarketTick, MarketTrade, Wall
from apps.simulator.market.history import TruthUnavailable, apply_changes
from apps.simulator.market.model import SimulatedMarket
from apps.simulator.market.units import (
    Change,
    IntLevel,
    price_to_ticks,
    qty_to_steps,
    steps_to_qty,
    ticks_to_price,
)

__all__ = [
    "Change",
    "IntLevel",
    "MarketDepthEvent",
    "MarketTick",
    "MarketTrade",
    "SimulatedMarket",
    "TruthUnavailable",
    "Wall",
    "apply_changes",
    "price_to_ticks",
    "qty_to_steps",
    "steps_to_qty",
    "ticks_to_price",
]
