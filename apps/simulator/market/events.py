"""What the simulated market produces and holds: depth events, trades, one tick's output, walls."""

from __future__ import annotations

from dataclasses import dataclass

from apps.simulator.market.units import Change, IntLevel


@dataclass(frozen=True, slots=True)
class MarketDepthEvent:
    """The changes of one tick: ids first_id..final_id, one change per id, in id order."""

    first_id: int
    final_id: int
    time_ms: int
    changes: tuple[Change, ...]

    @property
    def bids(self) -> list[IntLevel]:
        return [(p, q) for is_bid, p, q in self.changes if is_bid]

    @property
    def asks(self) -> list[IntLevel]:
        return [(p, q) for is_bid, p, q in self.changes if not is_bid]


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """One aggregated trade (one taker order at one price)."""

    agg_id: int
    price: int
    qty: int
    first_trade_id: int
    last_trade_id: int
    time_ms: int
    buyer_is_maker: bool


@dataclass(frozen=True, slots=True)
class MarketTick:
    depth: MarketDepthEvent | None
    trades: tuple[MarketTrade, ...]


@dataclass(slots=True)
class Wall:
    wall_id: str
    is_bid: bool
    price: int
    qty: int  # as placed
    remaining: int = 0  # resting now (0 until applied, and after pulled/eaten)
    state: str = "pending"  # pending -> resting -> pulled | eaten | filled
    expires_ms: int | None = None  # background walls only

    @property
    def side(self) -> str:
        return "bid" if self.is_bid else "ask"
