"""The simulated market of one symbol: the true book, its update ids, trades, walls and history.

Pure: no I/O, no clock reads. Time comes in as ``now_ms`` arguments, randomness from one seeded
``random.Random`` shared by the parts (so a seed and the step times fix everything). Prices are integer
ticks of 0.01, quantities integer steps of 0.00001; Decimals appear only at the edges.

One call to :meth:`SimulatedMarket.step` is one depth tick. Every level change in a tick consumes one
update id; a tick's changes are coalesced per level (only net changes are kept) and ordered so that
every intermediate state (after any single id) is an uncrossed book (:mod:`.ordering`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

from apps.book.domain.events import Level
from apps.simulator.market.book import TrueBook
from apps.simulator.market.dynamics import PriceDynamics
from apps.simulator.market.events import MarketDepthEvent, MarketTick, Wall
from apps.simulator.market.history import TruthHistory
from apps.simulator.market.makers import MakerQuotes, build_initial_book
from apps.simulator.market.matching import Matching
from apps.simulator.market.ordering import valid_order
from apps.simulator.market.units import (
    PRICE_EXP,
    IntLevel,
    parse_side,
    price_to_ticks,
    qty_to_steps,
    steps_to_qty,
    ticks_to_price,
)
from apps.simulator.market.walls import WallDesk, WallRegistry

MAX_STEP_MS = 5_000  # a longer pause between steps moves the market as if 5 s had passed

# A command queued for the next step (place or pull a wall, a fast move), called with the step's now_ms
_Command = Callable[[int], None]


class SimulatedMarket:
    """The true book of one symbol, moving deterministically given seed and the step times."""

    def __init__(
        self,
        *,
        seed: int = 1,
        start_price: Decimal = Decimal("87000.00"),
        levels_per_side: int = 1500,
        random_fast_moves: bool = True,
        start_ms: int = 1_700_000_000_000,
        first_update_id: int = 7_000_000_000,
        history_ms: int = 30 * 60 * 1000,
        checkpoint_every: int = 400,
        volatility_per_sqrt_s: Decimal = Decimal("0.000007"),
        fast_move_mean_interval_s: float = 900.0,
        background_walls: bool = True,
    ) -> None:
        if levels_per_side < 10:
            raise ValueError("levels_per_side must be at least 10")
        self._rng = random.Random(seed)
        start = price_to_ticks(start_price)
        self.levels_per_side = levels_per_side
        self.random_fast_moves = random_fast_moves
        self.background_walls = background_walls
        self._fast_move_interval_s = fast_move_mean_interval_s
        self._book = TrueBook()
        self._walls = WallRegistry()
        self._matching = Matching(self._book, self._walls, self._rng)
        self._desk = WallDesk(self._book, self._walls, self._matching, self._rng)
        self._makers = MakerQuotes(self._book, self._walls, self._rng, levels_per_side)
        build_initial_book(self._book, self._rng, start, levels_per_side)
        self._dynamics = PriceDynamics(
            self._book, self._matching, self._rng, float(volatility_per_sqrt_s) * start
        )
        self._history = TruthHistory(history_ms=history_ms, checkpoint_every=checkpoint_every)
        self._update_id = first_update_id
        self._last_ms = start_ms
        self._commands: list[_Command] = []
        self.events_emitted = 0
        self.trades_emitted = 0
        self._history.checkpoint(self._update_id, self._book, start_ms)

    # ------------------------------------------------------------------ read side
    @property
    def update_id(self) -> int:
        """The last update id applied to the truth (the `u` of the last emitted event)."""
        return self._update_id

    @property
    def best_bid(self) -> Decimal:
        return ticks_to_price(self._book.best(True))

    @property
    def best_ask(self) -> Decimal:
        return ticks_to_price(self._book.best(False))

    @property
    def mid(self) -> Decimal:
        return Decimal(self._book.mid_ticks2()).scaleb(-PRICE_EXP) / 2

    @property
    def oldest_update_id(self) -> int:
        """The oldest update id truth_at can answer."""
        return self._history.oldest_update_id

    @property
    def fast_moves(self) -> int:
        return self._dynamics.fast_moves

    def level_counts(self) -> tuple[int, int]:
        return self._book.level_counts()

    def top_ints(self, limit: int) -> tuple[list[IntLevel], list[IntLevel]]:
        """Current book (as of update_id), best first, at most ``limit`` levels per side, integer units."""
        return self._book.top_ints(limit)

    def truth_ints(self, update_id: int, limit: int | None = None) -> tuple[list[IntLevel], list[IntLevel]]:
        """The full book as of ``update_id`` (integer units, best first)."""
        if update_id == self._update_id:
            return self._book.top_ints(limit if limit is not None else max(self._book.level_counts()))
        return self._history.book_at(update_id, self._update_id, limit)

    def truth_at(self, update_id: int) -> tuple[list[Level], list[Level]]:
        """The full true book as of ``update_id``: (bids best-first, asks best-first) as Decimals."""
        return self.truth_top(update_id, None)

    def truth_top(self, update_id: int, n: int | None) -> tuple[list[Level], list[Level]]:
        bids, asks = self.truth_ints(update_id, n)
        return (
            [(ticks_to_price(p), steps_to_qty(q)) for p, q in bids],
            [(ticks_to_price(p), steps_to_qty(q)) for p, q in asks],
        )

    def events_between(self, first_id: int, final_id: int) -> list[MarketDepthEvent]:
        """Retained events overlapping ids first_id..final_id, in order."""
        return self._history.events_between(first_id, final_id)

    def wall(self, wall_id: str) -> Wall:
        return self._walls.get(wall_id)

    def walls(self) -> list[Wall]:
        return self._walls.all()

    # ------------------------------------------------------------------ commands (applied at the next step)
    def place_wall(self, side: str, price: Decimal, qty: Decimal) -> str:
        """Queue a resting wall; it appears in the next depth event. Returns the wall id.

        A wall priced through the opposite touch first trades against it (like a marketable limit order),
        then the rest stays on that level until pulled or eaten.
        """
        is_bid = parse_side(side)
        ticks = price_to_ticks(price)
        steps = qty_to_steps(qty)
        wall_id = self._walls.add(is_bid, ticks, steps)
        self._commands.append(lambda now_ms: self._desk.place(wall_id, now_ms))
        return wall_id

    def pull_wall(self, wall_id: str) -> None:
        """Queue removal of a wall's remaining quantity (no trades). Pulling an eaten wall is a no-op."""
        if wall_id not in self._walls:
            raise KeyError(f"unknown wall id {wall_id!r}")
        self._commands.append(lambda now_ms: self._desk.pull(wall_id))

    def fast_move(self, direction: str, distance: Decimal) -> None:
        """Queue a sweep moving the mid by ``distance`` (eating every level, walls too, on the way)."""
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
        ticks = price_to_ticks(distance)
        if direction == "down" and ticks >= self._book.best(True):
            raise ValueError(f"distance {distance} would move the price below zero")
        up = direction == "up"
        self._commands.append(lambda now_ms: self._dynamics.fast_move(up, ticks, now_ms))

    # ------------------------------------------------------------------ the tick
    def step(self, now_ms: int) -> MarketTick:
        """Advance the market to ``now_ms``: apply queued commands, move, trade; return what happened."""
        dt_s = min(max(1, now_ms - self._last_ms), MAX_STEP_MS) / 1000.0
        self._last_ms = max(self._last_ms, now_ms)
        self._book.begin_tick()
        rng = self._rng
        commands, self._commands = self._commands, []
        for command in commands:
            command(now_ms)
        self._desk.expire_background(now_ms)
        if self.random_fast_moves and rng.random() < dt_s / self._fast_move_interval_s:
            distance = int(self._book.best(True) * rng.uniform(0.001, 0.004))
            self._dynamics.fast_move(rng.random() < 0.5, max(distance, 100), now_ms)
        if self.background_walls and rng.random() < dt_s / 45.0:
            self._desk.place_background(now_ms)
        self._dynamics.drive(dt_s, now_ms)
        self._makers.noise()
        self._makers.keep_level_count()
        return self._finish_tick(now_ms)

    def _finish_tick(self, now_ms: int) -> MarketTick:
        changes = valid_order(self._book, self._book.end_tick())
        trades = self._matching.take_trades()
        self.trades_emitted += len(trades)
        if not changes:
            return MarketTick(None, trades)
        if self._book.best(True) >= self._book.best(False):  # pragma: no cover - invariant guard
            raise AssertionError("simulated book crossed")
        event = MarketDepthEvent(self._update_id + 1, self._update_id + len(changes), now_ms, changes)
        self._update_id = event.final_id
        self._history.record(event, self._book, now_ms)
        self.events_emitted += 1
        return MarketTick(event, trades)
