"""Walls: large resting orders placed on request (``w1``, ``w2``, ...) or in the background (``bg1``, ...).

:class:`WallRegistry` knows every wall and which walls rest on which level; :class:`WallDesk` applies
placements, pulls and background walls to the book (a marketable wall trades first).
"""

from __future__ import annotations

import random

from apps.simulator.market.book import TrueBook
from apps.simulator.market.events import Wall
from apps.simulator.market.matching import Matching
from apps.simulator.market.units import QTY_EXP


class WallRegistry:
    """Every wall by id; the resting walls of each level are eaten from the front when it shrinks."""

    def __init__(self) -> None:
        self._walls: dict[str, Wall] = {}
        self._levels: dict[tuple[bool, int], list[str]] = {}
        self._seq = 0
        self._background_seq = 0

    def add(self, is_bid: bool, price: int, qty: int) -> str:
        self._seq += 1
        wall_id = f"w{self._seq}"
        self._walls[wall_id] = Wall(wall_id, is_bid, price, qty)
        return wall_id

    def add_background(self, is_bid: bool, price: int, qty: int, expires_ms: int) -> str:
        self._background_seq += 1
        wall_id = f"bg{self._background_seq}"
        self._walls[wall_id] = Wall(wall_id, is_bid, price, qty, expires_ms=expires_ms)
        return wall_id

    def __contains__(self, wall_id: str) -> bool:
        return wall_id in self._walls

    def get(self, wall_id: str) -> Wall:
        if wall_id not in self._walls:
            raise KeyError(f"unknown wall id {wall_id!r}")
        return self._walls[wall_id]

    def all(self) -> list[Wall]:
        return list(self._walls.values())

    def has_wall(self, is_bid: bool, price: int) -> bool:
        return (is_bid, price) in self._levels

    def rest(self, wall: Wall, remaining: int) -> None:
        wall.remaining = remaining
        wall.state = "resting"
        self._levels.setdefault((wall.is_bid, wall.price), []).append(wall.wall_id)

    def unrest(self, wall: Wall, state: str) -> None:
        wall.remaining = 0
        wall.state = state
        key = (wall.is_bid, wall.price)
        ids = self._levels.get(key, [])
        if wall.wall_id in ids:
            ids.remove(wall.wall_id)
        if not ids:
            self._levels.pop(key, None)

    def level_reduced(self, is_bid: bool, price: int, new_qty: int) -> None:
        """Walls at a level lose quantity when the level drops below their total (eaten from the front)."""
        ids = self._levels.get((is_bid, price))
        if not ids:
            return
        excess = sum(self._walls[w].remaining for w in ids) - new_qty
        for wall_id in list(ids):
            if excess <= 0:
                break
            wall = self._walls[wall_id]
            take = min(wall.remaining, excess)
            wall.remaining -= take
            excess -= take
            if wall.remaining == 0:
                wall.state = "eaten"
                ids.remove(wall_id)
        if not ids:
            del self._levels[(is_bid, price)]

    def expired(self, now_ms: int) -> list[Wall]:
        return [w for w in self._walls.values() if w.expires_ms is not None and w.expires_ms <= now_ms]

    def forget(self, wall_id: str) -> None:
        del self._walls[wall_id]


class WallDesk:
    """Applies queued wall commands and the background walls to the true book."""

    def __init__(self, book: TrueBook, walls: WallRegistry, matching: Matching, rng: random.Random) -> None:
        self._book = book
        self._walls = walls
        self._matching = matching
        self._rng = rng

    def place(self, wall_id: str, now_ms: int) -> None:
        """A wall priced through the opposite touch first trades against it (like a marketable limit
        order); the rest stays on its level until pulled or eaten."""
        wall = self._walls.get(wall_id)
        book = self._book
        opposite_best = book.best(not wall.is_bid)
        crosses = wall.price >= opposite_best if wall.is_bid else wall.price <= opposite_best
        remaining = wall.qty
        if crosses:
            mark = self._matching.trade_count
            self._matching.sweep(wall.is_bid, wall.price, remaining, True, now_ms)
            remaining -= self._matching.qty_traded_since(mark)
            still_crosses = wall.price >= book.best(False) if wall.is_bid else wall.price <= book.best(True)
            if remaining <= 0 or still_crosses:
                wall.state = "filled"  # fully traded (an unfillable rest is dropped, never crossing the book)
                return
        book.set(wall.is_bid, wall.price, book.qty(wall.is_bid, wall.price) + remaining)
        self._walls.rest(wall, remaining)

    def pull(self, wall_id: str) -> None:
        """Remove a resting wall's remaining quantity (no trades); other states are left alone."""
        wall = self._walls.get(wall_id)
        if wall.state != "resting":
            return
        level = self._book.qty(wall.is_bid, wall.price)
        self._book.set(wall.is_bid, wall.price, max(0, level - wall.remaining))
        self._walls.unrest(wall, "pulled")

    def place_background(self, now_ms: int) -> None:
        rng = self._rng
        is_bid = rng.random() < 0.5
        best = self._book.best(is_bid)
        distance = max(50, int(best * rng.uniform(0.002, 0.012)))
        price = best - distance if is_bid else best + distance
        if price <= 0:
            return
        qty = int(rng.uniform(3, 25) * 10**QTY_EXP)
        wall_id = self._walls.add_background(is_bid, price, qty, now_ms + int(rng.uniform(20_000, 600_000)))
        self.place(wall_id, now_ms)

    def expire_background(self, now_ms: int) -> None:
        for wall in self._walls.expired(now_ms):
            if wall.state == "resting":
                self.pull(wall.wall_id)
            self._walls.forget(wall.wall_id)
