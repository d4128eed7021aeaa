"""Taker orders against the true book: sweeps that eat levels (walls too, if allowed) and print trades."""

from __future__ import annotations

import random
from typing import Protocol

from apps.simulator.market.book import TrueBook
from apps.simulator.market.events import MarketTrade


class WallLevels(Protocol):
    """What a sweep needs to know of the walls (walls.WallRegistry, which itself sweeps through
    Matching when a wall is taken out: so the dependency is this protocol, not that module)."""

    def has_wall(self, is_bid: bool, price: int) -> bool: ...

    def level_reduced(self, is_bid: bool, price: int, new_qty: int) -> None: ...


class Matching:
    """Eats the book for takers and collects the tick's aggregated trades."""

    def __init__(self, book: TrueBook, walls: WallLevels, rng: random.Random) -> None:
        self._book = book
        self._walls = walls
        self._rng = rng
        self._agg_id = 1_000_000
        self._trade_id = 3_000_000
        self._trades: list[MarketTrade] = []

    @property
    def trade_count(self) -> int:
        """Trades printed this tick so far (a mark for :meth:`qty_traded_since`)."""
        return len(self._trades)

    def qty_traded_since(self, mark: int) -> int:
        return sum(t.qty for t in self._trades[mark:])

    def take_trades(self) -> tuple[MarketTrade, ...]:
        """The tick's trades, in order; the list starts empty again."""
        trades, self._trades = tuple(self._trades), []
        return trades

    def sweep(
        self,
        taker_buy: bool,
        limit: int | None,
        max_qty: int | None,
        eat_walls: bool,
        now_ms: int,
        keep_last: bool = True,
    ) -> bool:
        """A taker order eating the opposite side. Returns True if it stopped at a wall.

        With ``keep_last`` the side's last level is never taken (the caller re-fills the side otherwise).
        """
        is_bid = not taker_buy
        side = self._book.side(is_bid)
        remaining = max_qty
        while len(side) > (1 if keep_last else 0) and (remaining is None or remaining > 0):
            price, qty = side.peekitem(-1 if is_bid else 0)
            if limit is not None and ((taker_buy and price > limit) or (not taker_buy and price < limit)):
                return False
            if not eat_walls and self._walls.has_wall(is_bid, price):
                return True
            take = qty if remaining is None else min(qty, remaining)
            self._trade(price, take, not taker_buy, now_ms)
            self._book.set(is_bid, price, qty - take)
            self._walls.level_reduced(is_bid, price, qty - take)
            if remaining is not None:
                remaining -= take
        return False

    def _trade(self, price: int, qty: int, buyer_is_maker: bool, now_ms: int) -> None:
        self._agg_id += 1
        count = 1 + min(int(self._rng.expovariate(0.7)), 8)
        first = self._trade_id + 1
        self._trade_id += count
        self._trades.append(
            MarketTrade(self._agg_id, price, qty, first, self._trade_id, now_ms, buyer_is_maker)
        )
