"""A deterministic simulated spot market: the true L2 book, its update ids, trades and walls.

Pure: no I/O, no clock reads. Time comes in as ``now_ms`` arguments, randomness from a seeded
``random.Random``. Prices are integer ticks of 0.01, quantities integer steps of 0.00001; Decimals
are produced only at the edges (``truth_at``/``mid``).

One call to :meth:`SimulatedMarket.step` is one depth tick. Every level change in a tick consumes one
update id; a tick's changes are coalesced per level (only net changes are kept) and ordered so that
every intermediate state (after any single id) is an uncrossed book.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sortedcontainers import SortedDict, SortedList

from apps.book.domain.events import Level

PRICE_EXP = 2  # price ticks are 10**-2
QTY_EXP = 5  # quantity steps are 10**-5
TICK = Decimal("0.01")
STEP = Decimal("0.00001")
HOUR_MS = 3_600_000
MAX_STEP_MS = 5_000  # a longer pause between steps moves the market as if 5 s had passed

# (is_bid, price_ticks, qty_steps); qty 0 removes the level.
Change = tuple[bool, int, int]
IntLevel = tuple[int, int]


class TruthUnavailable(LookupError):
    """The requested update id is outside the retained history."""


def price_to_ticks(price: Decimal) -> int:
    """Exact conversion; raises ValueError if the price is not a positive multiple of 0.01."""
    if not isinstance(price, Decimal):
        price = Decimal(str(price))
    if not price.is_finite() or price <= 0:
        raise ValueError(f"price must be a positive number, got {price}")
    scaled = price.scaleb(PRICE_EXP)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"price {price} is not a multiple of the tick size {TICK}")
    return int(scaled)


def qty_to_steps(qty: Decimal) -> int:
    """Exact conversion; raises ValueError if the quantity is not a positive multiple of 0.00001."""
    if not isinstance(qty, Decimal):
        qty = Decimal(str(qty))
    if not qty.is_finite() or qty <= 0:
        raise ValueError(f"quantity must be a positive number, got {qty}")
    scaled = qty.scaleb(QTY_EXP)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"quantity {qty} is not a multiple of the step size {STEP}")
    return int(scaled)


def ticks_to_price(ticks: int) -> Decimal:
    return Decimal(ticks).scaleb(-PRICE_EXP)


def steps_to_qty(steps: int) -> Decimal:
    return Decimal(steps).scaleb(-QTY_EXP)


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


@dataclass(slots=True)
class _Checkpoint:
    update_id: int
    time_ms: int
    bids: dict[int, int]
    asks: dict[int, int]


@dataclass(slots=True)
class _TickChanges:
    original: dict[tuple[bool, int], int] = field(default_factory=dict)


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
        self.history_ms = history_ms
        self.checkpoint_every = checkpoint_every
        self._sigma_ticks = float(volatility_per_sqrt_s) * start
        self._fast_move_interval_s = fast_move_mean_interval_s
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()
        self._update_id = first_update_id
        self._last_ms = start_ms
        self._agg_id = 1_000_000
        self._trade_id = 3_000_000
        self._wall_seq = 0
        self._bg_wall_seq = 0
        self._walls: dict[str, Wall] = {}
        self._wall_levels: dict[tuple[bool, int], list[str]] = {}
        self._commands: list[tuple[str, tuple[object, ...]]] = []
        self._tick: _TickChanges | None = None
        self._trades: list[MarketTrade] = []
        self._events: list[MarketDepthEvent] = []
        self._event_final_ids: list[int] = []
        self._checkpoints: list[_Checkpoint] = []
        self._events_since_checkpoint = 0
        self.events_emitted = 0
        self.trades_emitted = 0
        self.fast_moves = 0
        self._build_initial_book(start)
        self._fair = float(self._mid_ticks2()) / 2
        self._checkpoint(start_ms)

    # ------------------------------------------------------------------ read side
    @property
    def update_id(self) -> int:
        """The last update id applied to the truth (the `u` of the last emitted event)."""
        return self._update_id

    @property
    def best_bid(self) -> Decimal:
        return ticks_to_price(self._best(True))

    @property
    def best_ask(self) -> Decimal:
        return ticks_to_price(self._best(False))

    @property
    def mid(self) -> Decimal:
        return Decimal(self._mid_ticks2()).scaleb(-PRICE_EXP) / 2

    @property
    def oldest_update_id(self) -> int:
        """The oldest update id truth_at can answer."""
        return self._checkpoints[0].update_id

    def level_counts(self) -> tuple[int, int]:
        return len(self._bids), len(self._asks)

    def top_ints(self, limit: int) -> tuple[list[IntLevel], list[IntLevel]]:
        """Current book (as of update_id), best first, at most ``limit`` levels per side, integer units."""
        bids = [self._bids.peekitem(-1 - i) for i in range(min(limit, len(self._bids)))]
        asks = [self._asks.peekitem(i) for i in range(min(limit, len(self._asks)))]
        return bids, asks

    def truth_ints(self, update_id: int, limit: int | None = None) -> tuple[list[IntLevel], list[IntLevel]]:
        """The full book as of ``update_id`` (integer units, best first)."""
        if update_id == self._update_id:
            return self.top_ints(limit if limit is not None else max(len(self._bids), len(self._asks)))
        if update_id > self._update_id or update_id < self._checkpoints[0].update_id:
            raise TruthUnavailable(
                f"update id {update_id} is outside the retained history "
                f"[{self._checkpoints[0].update_id}, {self._update_id}]"
            )
        cp_index = bisect.bisect_right([c.update_id for c in self._checkpoints], update_id) - 1
        cp = self._checkpoints[cp_index]
        bids = dict(cp.bids)
        asks = dict(cp.asks)
        ev_index = bisect.bisect_right(self._event_final_ids, cp.update_id)
        while ev_index < len(self._events):
            event = self._events[ev_index]
            if event.first_id > update_id:
                break
            for offset, (is_bid, price, qty) in enumerate(event.changes):
                if event.first_id + offset > update_id:
                    break
                book = bids if is_bid else asks
                if qty:
                    book[price] = qty
                else:
                    book.pop(price, None)
            ev_index += 1
        bid_levels = sorted(bids.items(), reverse=True)
        ask_levels = sorted(asks.items())
        if limit is not None:
            bid_levels, ask_levels = bid_levels[:limit], ask_levels[:limit]
        return bid_levels, ask_levels

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
        start = bisect.bisect_left(self._event_final_ids, first_id)
        out = []
        for event in self._events[start:]:
            if event.first_id > final_id:
                break
            out.append(event)
        return out

    def wall(self, wall_id: str) -> Wall:
        if wall_id not in self._walls:
            raise KeyError(f"unknown wall id {wall_id!r}")
        return self._walls[wall_id]

    def walls(self) -> list[Wall]:
        return list(self._walls.values())

    # ------------------------------------------------------------------ commands (applied at the next step)
    def place_wall(self, side: str, price: Decimal, qty: Decimal) -> str:
        """Queue a resting wall; it appears in the next depth event. Returns the wall id.

        A wall priced through the opposite touch first trades against it (like a marketable limit order),
        then the rest stays on that level until pulled or eaten.
        """
        is_bid = _parse_side(side)
        ticks = price_to_ticks(price)
        steps = qty_to_steps(qty)
        self._wall_seq += 1
        wall_id = f"w{self._wall_seq}"
        self._walls[wall_id] = Wall(wall_id, is_bid, ticks, steps)
        self._commands.append(("place", (wall_id,)))
        return wall_id

    def pull_wall(self, wall_id: str) -> None:
        """Queue removal of a wall's remaining quantity (no trades). Pulling an eaten wall is a no-op."""
        if wall_id not in self._walls:
            raise KeyError(f"unknown wall id {wall_id!r}")
        self._commands.append(("pull", (wall_id,)))

    def fast_move(self, direction: str, distance: Decimal) -> None:
        """Queue a sweep moving the mid by ``distance`` (eating every level, walls too, on the way)."""
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
        ticks = price_to_ticks(distance)
        if direction == "down" and ticks >= self._best(True):
            raise ValueError(f"distance {distance} would move the price below zero")
        self._commands.append(("fast_move", (direction == "up", ticks)))

    # ------------------------------------------------------------------ the tick
    def step(self, now_ms: int) -> MarketTick:
        """Advance the market to ``now_ms``: apply queued commands, move, trade; return what happened."""
        dt_s = min(max(1, now_ms - self._last_ms), MAX_STEP_MS) / 1000.0
        self._last_ms = max(self._last_ms, now_ms)
        self._tick = _TickChanges()
        self._trades = []
        rng = self._rng
        commands, self._commands = self._commands, []
        for name, args in commands:
            if name == "place":
                self._apply_place(str(args[0]), now_ms)
            elif name == "pull":
                self._apply_pull(str(args[0]))
            elif name == "fast_move":
                self._apply_fast_move(bool(args[0]), int(args[1]), now_ms)  # type: ignore[call-overload]
        self._expire_background_walls(now_ms)
        if self.random_fast_moves and rng.random() < dt_s / self._fast_move_interval_s:
            distance = int(self._best(True) * rng.uniform(0.001, 0.004))
            self._apply_fast_move(rng.random() < 0.5, max(distance, 100), now_ms)
        if self.background_walls and rng.random() < dt_s / 45.0:
            self._place_background_wall(now_ms)
        self._drive_price(dt_s, now_ms)
        self._noise()
        self._keep_level_count()
        return self._finish_tick(now_ms)

    # ------------------------------------------------------------------ internals: book primitives
    def _book(self, is_bid: bool) -> SortedDict:
        return self._bids if is_bid else self._asks

    def _best(self, is_bid: bool) -> int:
        book = self._book(is_bid)
        return int(book.peekitem(-1 if is_bid else 0)[0])

    def _mid_ticks2(self) -> int:
        return self._best(True) + self._best(False)

    def _set(self, is_bid: bool, price: int, qty: int) -> None:
        book = self._book(is_bid)
        if self._tick is not None:
            key = (is_bid, price)
            if key not in self._tick.original:
                self._tick.original[key] = book.get(price, 0)
        if qty > 0:
            book[price] = qty
        else:
            book.pop(price, None)

    def _wall_qty_at(self, is_bid: bool, price: int) -> int:
        ids = self._wall_levels.get((is_bid, price))
        return sum(self._walls[w].remaining for w in ids) if ids else 0

    def _has_wall(self, is_bid: bool, price: int) -> bool:
        return (is_bid, price) in self._wall_levels

    def _level_reduced(self, is_bid: bool, price: int, new_qty: int) -> None:
        """Walls at a level lose quantity when the level drops below their total (eaten from the front)."""
        ids = self._wall_levels.get((is_bid, price))
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
            del self._wall_levels[(is_bid, price)]

    def _trade(self, price: int, qty: int, buyer_is_maker: bool, now_ms: int) -> None:
        self._agg_id += 1
        count = 1 + min(int(self._rng.expovariate(0.7)), 8)
        first = self._trade_id + 1
        self._trade_id += count
        self._trades.append(MarketTrade(self._agg_id, price, qty, first, self._trade_id, now_ms, buyer_is_maker))

    def _sweep(
        self, taker_buy: bool, limit: int | None, max_qty: int | None, eat_walls: bool, now_ms: int,
        keep_last: bool = True,
    ) -> bool:
        """A taker order eating the opposite side. Returns True if it stopped at a wall.

        With ``keep_last`` the side's last level is never taken (the caller re-fills the side otherwise).
        """
        is_bid = not taker_buy
        book = self._book(is_bid)
        remaining = max_qty
        while len(book) > (1 if keep_last else 0) and (remaining is None or remaining > 0):
            price, qty = book.peekitem(-1 if is_bid else 0)
            if limit is not None and ((taker_buy and price > limit) or (not taker_buy and price < limit)):
                return False
            if not eat_walls and self._has_wall(is_bid, price):
                return True
            take = qty if remaining is None else min(qty, remaining)
            self._trade(price, take, not taker_buy, now_ms)
            self._set(is_bid, price, qty - take)
            self._level_reduced(is_bid, price, qty - take)
            if remaining is not None:
                remaining -= take
        return False

    def _random_qty(self, depth_index: int) -> int:
        rng = self._rng
        high = 60_000 if depth_index < 50 else 300_000
        return max(1, int(math.exp(rng.uniform(math.log(10), math.log(high)))))

    def _build_initial_book(self, start: int) -> None:
        rng = self._rng
        best_bid = start
        best_ask = start + rng.randint(1, 3)
        for is_bid, best in ((True, best_bid), (False, best_ask)):
            book = self._book(is_bid)
            offset = 0
            for i in range(self.levels_per_side):
                price = best - offset if is_bid else best + offset
                if price <= 0:
                    break
                qty = self._random_qty(i)
                if price % 10_000 == 0:
                    qty *= 8
                elif price % 5_000 == 0:
                    qty *= 3
                book[price] = qty
                offset += 1 + int(rng.expovariate(1.0 / (3.0 + i / 25.0)))

    # ------------------------------------------------------------------ internals: dynamics
    def _drive_price(self, dt_s: float, now_ms: int) -> None:
        rng = self._rng
        self._fair += rng.gauss(0.0, self._sigma_ticks * math.sqrt(dt_s))
        bb, ba = self._best(True), self._best(False)
        if self._fair >= ba:
            blocked = self._sweep(True, int(self._fair), None, False, now_ms)
            if blocked:
                self._fair = float(self._best(False) - 1)
            self._requote(True, bb)
        elif self._fair <= bb:
            blocked = self._sweep(False, math.ceil(self._fair), None, False, now_ms)
            if blocked:
                self._fair = float(self._best(True) + 1)
            self._requote(False, ba)
        elif rng.random() < 0.3:
            taker_buy = rng.random() < 0.5
            touch_qty = self._book(not taker_buy).peekitem(0 if taker_buy else -1)[1]
            self._sweep(taker_buy, None, max(1, int(touch_qty * rng.uniform(0.2, 1.5))), False, now_ms)
            self._requote(taker_buy, bb if taker_buy else ba)

    def _requote(self, moved_up: bool, old_touch: int) -> None:
        """After asks (bids) were eaten, makers re-quote bids (asks) up (down) behind the new touch."""
        rng = self._rng
        bb, ba = self._best(True), self._best(False)
        fair = int(self._fair)
        if moved_up:
            new_bb = max(bb, min(fair, ba - 1))
            if new_bb > bb:
                self._set(True, new_bb, self._random_qty(0))
                for _ in range(rng.randint(0, 3)):
                    price = rng.randint(old_touch + 1, new_bb) if new_bb > old_touch else new_bb
                    if price not in self._bids and price < ba:
                        self._set(True, price, self._random_qty(5))
            if ba - self._best(True) > 6:
                self._set(False, self._best(True) + rng.randint(1, 4), self._random_qty(0))
        else:
            new_ba = min(ba, max(math.ceil(self._fair), bb + 1))
            if new_ba < ba:
                self._set(False, new_ba, self._random_qty(0))
                for _ in range(rng.randint(0, 3)):
                    price = rng.randint(new_ba, old_touch - 1) if new_ba < old_touch else new_ba
                    if price not in self._asks and price > bb:
                        self._set(False, price, self._random_qty(5))
            if self._best(False) - bb > 6:
                self._set(True, self._best(False) - rng.randint(1, 4), self._random_qty(0))
        if fair < self._best(True) or fair > self._best(False):
            self._fair = self._mid_ticks2() / 2

    def _noise(self) -> None:
        rng = self._rng
        for _ in range(rng.randint(1, 4)):
            is_bid = rng.random() < 0.5
            book = self._book(is_bid)
            bb, ba = self._best(True), self._best(False)
            roll = rng.random()
            if roll < 0.45:
                if rng.random() < 0.1 and ba - bb > 1:
                    price = bb + 1 if is_bid else ba - 1
                else:
                    offset = 1 + int(rng.expovariate(1.0 / 10.0))
                    price = (bb - offset) if is_bid else (ba + offset)
                if price > 0 and price not in book and not self._has_wall(is_bid, price):
                    self._set(is_bid, price, self._random_qty(3))
            else:
                index = rng.randrange(min(30, len(book)))
                price = book.peekitem(-1 - index if is_bid else index)[0]
                if self._has_wall(is_bid, price):
                    continue
                if roll < 0.8 or len(book) < 50:
                    self._set(is_bid, price, self._random_qty(index))
                else:
                    self._set(is_bid, price, 0)

    def _keep_level_count(self) -> None:
        rng = self._rng
        target = self.levels_per_side
        for is_bid in (True, False):
            book = self._book(is_bid)
            for _ in range(3):
                if len(book) <= target + 5:
                    break
                index = 0 if is_bid else len(book) - 1
                while self._has_wall(is_bid, book.peekitem(index)[0]):
                    index += 1 if is_bid else -1
                self._set(is_bid, book.peekitem(index)[0], 0)
            if len(book) < target:
                best = self._best(is_bid)
                far = book.peekitem(0 if is_bid else -1)[0]
                span = max(abs(best - far), 1000)
                for _ in range(2):
                    offset = int(math.exp(rng.uniform(0.0, math.log(span))))
                    price = best - offset if is_bid else best + offset
                    if price > 0 and price not in book:
                        self._set(is_bid, price, self._random_qty(200))

    # ------------------------------------------------------------------ internals: walls and fast moves
    def _apply_place(self, wall_id: str, now_ms: int) -> None:
        wall = self._walls[wall_id]
        opposite_best = self._best(not wall.is_bid)
        crosses = wall.price >= opposite_best if wall.is_bid else wall.price <= opposite_best
        remaining = wall.qty
        if crosses:
            first_trade = len(self._trades)
            self._sweep(wall.is_bid, wall.price, remaining, True, now_ms)
            remaining -= sum(t.qty for t in self._trades[first_trade:])
            still_crosses = (
                wall.price >= self._best(False) if wall.is_bid else wall.price <= self._best(True)
            )
            if remaining <= 0 or still_crosses:
                wall.state = "filled"  # fully traded (an unfillable rest is dropped, never crossing the book)
                return
        price = wall.price
        self._set(wall.is_bid, price, self._book(wall.is_bid).get(price, 0) + remaining)
        wall.remaining = remaining
        wall.state = "resting"
        self._wall_levels.setdefault((wall.is_bid, price), []).append(wall_id)

    def _apply_pull(self, wall_id: str) -> None:
        wall = self._walls[wall_id]
        if wall.state != "resting":
            return
        key = (wall.is_bid, wall.price)
        level = self._book(wall.is_bid).get(wall.price, 0)
        self._set(wall.is_bid, wall.price, max(0, level - wall.remaining))
        wall.remaining = 0
        wall.state = "pulled"
        ids = self._wall_levels.get(key, [])
        if wall_id in ids:
            ids.remove(wall_id)
        if not ids:
            self._wall_levels.pop(key, None)

    def _apply_fast_move(self, up: bool, distance: int, now_ms: int) -> None:
        self.fast_moves += 1
        rng = self._rng
        mid = self._mid_ticks2() // 2
        target = mid + distance if up else max(1, mid - distance)
        bb, ba = self._best(True), self._best(False)
        self._sweep(up, target, None, True, now_ms, keep_last=False)
        if not self._book(not up):  # the whole side was swept: makers quote just beyond the target
            beyond = target + rng.randint(1, 4) if up else max(1, target - rng.randint(1, 4))
            self._set(not up, beyond, self._random_qty(0))
        self._fair = float(target)
        if up:
            new_bb = min(target, self._best(False) - 1)
            if new_bb not in self._bids:
                self._set(True, new_bb, self._random_qty(0))
            for _ in range(rng.randint(4, 12)):
                price = rng.randint(bb + 1, new_bb) if new_bb > bb + 1 else new_bb
                if price not in self._bids:
                    self._set(True, price, self._random_qty(20))
            if self._best(False) - new_bb > 4:
                self._set(False, new_bb + rng.randint(1, 4), self._random_qty(0))
        else:
            new_ba = max(target, self._best(True) + 1)
            if new_ba not in self._asks:
                self._set(False, new_ba, self._random_qty(0))
            for _ in range(rng.randint(4, 12)):
                price = rng.randint(new_ba, ba - 1) if new_ba < ba - 1 else new_ba
                if price not in self._asks:
                    self._set(False, price, self._random_qty(20))
            if new_ba - self._best(True) > 4:
                self._set(True, new_ba - rng.randint(1, 4), self._random_qty(0))
        self._fair = self._mid_ticks2() / 2

    def _place_background_wall(self, now_ms: int) -> None:
        rng = self._rng
        is_bid = rng.random() < 0.5
        best = self._best(is_bid)
        distance = max(50, int(best * rng.uniform(0.002, 0.012)))
        price = best - distance if is_bid else best + distance
        if price <= 0:
            return
        self._bg_wall_seq += 1
        wall_id = f"bg{self._bg_wall_seq}"
        qty = int(rng.uniform(3, 25) * 10**QTY_EXP)
        wall = Wall(wall_id, is_bid, price, qty, expires_ms=now_ms + int(rng.uniform(20_000, 600_000)))
        self._walls[wall_id] = wall
        self._apply_place(wall_id, now_ms)

    def _expire_background_walls(self, now_ms: int) -> None:
        for wall in list(self._walls.values()):
            if wall.expires_ms is not None and wall.expires_ms <= now_ms:
                if wall.state == "resting":
                    self._apply_pull(wall.wall_id)
                del self._walls[wall.wall_id]

    # ------------------------------------------------------------------ internals: ids, history
    def _finish_tick(self, now_ms: int) -> MarketTick:
        assert self._tick is not None
        changes = self._valid_order(self._tick.original)
        self._tick = None
        trades = tuple(self._trades)
        self._trades = []
        self.trades_emitted += len(trades)
        if not changes:
            return MarketTick(None, trades)
        if self._best(True) >= self._best(False):  # pragma: no cover - invariant guard
            raise AssertionError("simulated book crossed")
        event = MarketDepthEvent(self._update_id + 1, self._update_id + len(changes), now_ms, changes)
        self._update_id = event.final_id
        self._events.append(event)
        self._event_final_ids.append(event.final_id)
        self.events_emitted += 1
        self._events_since_checkpoint += 1
        if self._events_since_checkpoint >= self.checkpoint_every:
            self._checkpoint(now_ms)
        return MarketTick(event, trades)

    def _valid_order(self, original: dict[tuple[bool, int], int]) -> tuple[Change, ...]:
        """Order a tick's net changes so the book after every single id is non-empty and uncrossed.

        Greedy passes starting from "removals first": a change is applied once it keeps both sides
        non-empty and best bid < best ask; the final book is valid, so every pass makes progress.
        """
        pending: list[Change] = []
        present: dict[bool, SortedList] = {True: SortedList(), False: SortedList()}
        for (is_bid, price), old in original.items():
            new = self._book(is_bid).get(price, 0)
            if old:
                present[is_bid].add(price)
            if new != old:
                pending.append((is_bid, price, new))
        if not pending:
            return ()
        pending.sort(key=lambda change: change[2] != 0)
        untouched_best: dict[bool, int | None] = {}
        untouched_count: dict[bool, int] = {}
        for is_bid in (True, False):
            book = self._book(is_bid)
            touched = {price for (side, price) in original if side == is_bid}
            keys = reversed(book.keys()) if is_bid else iter(book.keys())
            untouched_best[is_bid] = next((p for p in keys if p not in touched), None)
            untouched_count[is_bid] = len(book) - sum(1 for p in touched if p in book)

        def best(is_bid: bool) -> int | None:
            levels = present[is_bid]
            candidates = [p for p in (untouched_best[is_bid], levels[-1] if is_bid and levels else None,
                                      levels[0] if not is_bid and levels else None) if p is not None]
            if not candidates:
                return None
            return max(candidates) if is_bid else min(candidates)

        ordered: list[Change] = []
        while pending:
            deferred: list[Change] = []
            for change in pending:
                is_bid, price, qty = change
                levels = present[is_bid]
                if qty == 0:
                    if untouched_count[is_bid] + len(levels) <= 1:
                        deferred.append(change)
                        continue
                    levels.discard(price)
                elif price not in levels:
                    opposite = best(not is_bid)
                    if opposite is not None and (price >= opposite if is_bid else price <= opposite):
                        deferred.append(change)
                        continue
                    levels.add(price)
                ordered.append(change)
            if len(deferred) == len(pending):  # pragma: no cover - cannot happen for a valid final book
                ordered.extend(deferred)
                break
            pending = deferred
        return tuple(ordered)

    def _checkpoint(self, now_ms: int) -> None:
        self._checkpoints.append(_Checkpoint(self._update_id, now_ms, dict(self._bids), dict(self._asks)))
        self._events_since_checkpoint = 0
        cutoff = now_ms - self.history_ms
        drop = 0
        while drop + 1 < len(self._checkpoints) and self._checkpoints[drop + 1].time_ms <= cutoff:
            drop += 1
        if drop:
            del self._checkpoints[:drop]
            keep_from = bisect.bisect_right(self._event_final_ids, self._checkpoints[0].update_id)
            del self._events[:keep_from]
            del self._event_final_ids[:keep_from]


def _parse_side(side: str) -> bool:
    if side in ("bid", "BID", "buy"):
        return True
    if side in ("ask", "ASK", "sell"):
        return False
    raise ValueError(f"side must be 'bid' or 'ask', got {side!r}")


def apply_changes(bids: dict[int, int], asks: dict[int, int], changes: Iterable[Change]) -> None:
    """Apply id-ordered changes to plain dict books (used for replay checks)."""
    for is_bid, price, qty in changes:
        book = bids if is_bid else asks
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)
