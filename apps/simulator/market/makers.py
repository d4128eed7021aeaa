"""Passive liquidity: the initial book, and makers adding, resizing and cancelling quotes every tick
(walls are left alone) while each side keeps about ``levels_per_side`` levels."""

from __future__ import annotations

import math
import random

from apps.simulator.market.book import TrueBook
from apps.simulator.market.walls import WallRegistry


def random_qty(rng: random.Random, depth_index: int) -> int:
    """A maker's quote size in steps: log-uniform, larger away from the touch."""
    high = 60_000 if depth_index < 50 else 300_000
    return max(1, int(math.exp(rng.uniform(math.log(10), math.log(high)))))


def build_initial_book(book: TrueBook, rng: random.Random, start: int, levels_per_side: int) -> None:
    """``levels_per_side`` levels per side around ``start`` (best bid), gaps widening with depth and
    more size on round prices."""
    best_bid = start
    best_ask = start + rng.randint(1, 3)
    for is_bid, best in ((True, best_bid), (False, best_ask)):
        side = book.side(is_bid)
        offset = 0
        for i in range(levels_per_side):
            price = best - offset if is_bid else best + offset
            if price <= 0:
                break
            qty = random_qty(rng, i)
            if price % 10_000 == 0:
                qty *= 8
            elif price % 5_000 == 0:
                qty *= 3
            side[price] = qty
            offset += 1 + int(rng.expovariate(1.0 / (3.0 + i / 25.0)))


class MakerQuotes:
    """The makers' per-tick activity near the touch and the level count far from it."""

    def __init__(self, book: TrueBook, walls: WallRegistry, rng: random.Random, levels_per_side: int) -> None:
        self._book = book
        self._walls = walls
        self._rng = rng
        self.levels_per_side = levels_per_side

    def noise(self) -> None:
        """1-4 quote changes: a new level (sometimes inside the spread), a resize, or a cancel."""
        rng = self._rng
        book = self._book
        for _ in range(rng.randint(1, 4)):
            is_bid = rng.random() < 0.5
            side = book.side(is_bid)
            bb, ba = book.best(True), book.best(False)
            roll = rng.random()
            if roll < 0.45:
                if rng.random() < 0.1 and ba - bb > 1:
                    price = bb + 1 if is_bid else ba - 1
                else:
                    offset = 1 + int(rng.expovariate(1.0 / 10.0))
                    price = (bb - offset) if is_bid else (ba + offset)
                if price > 0 and price not in side and not self._walls.has_wall(is_bid, price):
                    book.set(is_bid, price, random_qty(rng, 3))
            else:
                index = rng.randrange(min(30, len(side)))
                price = side.peekitem(-1 - index if is_bid else index)[0]
                if self._walls.has_wall(is_bid, price):
                    continue
                if roll < 0.8 or len(side) < 50:
                    book.set(is_bid, price, random_qty(rng, index))
                else:
                    book.set(is_bid, price, 0)

    def keep_level_count(self) -> None:
        """Drop the farthest non-wall levels of a side that grew too long; add far levels to one too short."""
        rng = self._rng
        book = self._book
        target = self.levels_per_side
        for is_bid in (True, False):
            side = book.side(is_bid)
            for _ in range(3):
                if len(side) <= target + 5:
                    break
                index = 0 if is_bid else len(side) - 1
                while self._walls.has_wall(is_bid, side.peekitem(index)[0]):
                    index += 1 if is_bid else -1
                book.set(is_bid, side.peekitem(index)[0], 0)
            if len(side) < target:
                best = book.best(is_bid)
                far = side.peekitem(0 if is_bid else -1)[0]
                span = max(abs(best - far), 1000)
                for _ in range(2):
                    offset = int(math.exp(rng.uniform(0.0, math.log(span))))
                    price = best - offset if is_bid else best + offset
                    if price > 0 and price not in side:
                        book.set(is_bid, price, random_qty(rng, 200))
