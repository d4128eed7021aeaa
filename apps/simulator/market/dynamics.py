"""Where the price goes: a fair value doing a random walk that takers chase, makers re-quoting behind
the moving touch, and fast moves (a sweep of ``distance`` that eats every level, walls included)."""

from __future__ import annotations

import math
import random

from apps.simulator.market.book import TrueBook
from apps.simulator.market.makers import random_qty
from apps.simulator.market.matching import Matching


class PriceDynamics:
    """The fair value (ticks, float) and the takers and makers that follow it."""

    def __init__(self, book: TrueBook, matching: Matching, rng: random.Random, sigma_ticks: float) -> None:
        self._book = book
        self._matching = matching
        self._rng = rng
        self._sigma_ticks = sigma_ticks
        self.fair = float(book.mid_ticks2()) / 2
        self.fast_moves = 0

    def drive(self, dt_s: float, now_ms: int) -> None:
        """Move the fair value; takers sweep up (down) to it, stopping at walls; else a random taker."""
        rng = self._rng
        book = self._book
        self.fair += rng.gauss(0.0, self._sigma_ticks * math.sqrt(dt_s))
        bb, ba = book.best(True), book.best(False)
        if self.fair >= ba:
            blocked = self._matching.sweep(True, int(self.fair), None, False, now_ms)
            if blocked:
                self.fair = float(book.best(False) - 1)
            self._requote(True, bb)
        elif self.fair <= bb:
            blocked = self._matching.sweep(False, math.ceil(self.fair), None, False, now_ms)
            if blocked:
                self.fair = float(book.best(True) + 1)
            self._requote(False, ba)
        elif rng.random() < 0.3:
            taker_buy = rng.random() < 0.5
            touch_qty = book.side(not taker_buy).peekitem(0 if taker_buy else -1)[1]
            self._matching.sweep(
                taker_buy, None, max(1, int(touch_qty * rng.uniform(0.2, 1.5))), False, now_ms
            )
            self._requote(taker_buy, bb if taker_buy else ba)

    def _requote(self, moved_up: bool, old_touch: int) -> None:
        """After asks (bids) were eaten, makers re-quote bids (asks) up (down) behind the new touch."""
        rng = self._rng
        book = self._book
        bb, ba = book.best(True), book.best(False)
        fair = int(self.fair)
        if moved_up:
            new_bb = max(bb, min(fair, ba - 1))
            if new_bb > bb:
                book.set(True, new_bb, random_qty(rng, 0))
                for _ in range(rng.randint(0, 3)):
                    price = rng.randint(old_touch + 1, new_bb) if new_bb > old_touch else new_bb
                    if price not in book.bids and price < ba:
                        book.set(True, price, random_qty(rng, 5))
            if ba - book.best(True) > 6:
                book.set(False, book.best(True) + rng.randint(1, 4), random_qty(rng, 0))
        else:
            new_ba = min(ba, max(math.ceil(self.fair), bb + 1))
            if new_ba < ba:
                book.set(False, new_ba, random_qty(rng, 0))
                for _ in range(rng.randint(0, 3)):
                    price = rng.randint(new_ba, old_touch - 1) if new_ba < old_touch else new_ba
                    if price not in book.asks and price > bb:
                        book.set(False, price, random_qty(rng, 5))
            if book.best(False) - bb > 6:
                book.set(True, book.best(False) - rng.randint(1, 4), random_qty(rng, 0))
        if fair < book.best(True) or fair > book.best(False):
            self.fair = book.mid_ticks2() / 2

    def fast_move(self, up: bool, distance: int, now_ms: int) -> None:
        """Sweep the mid ``distance`` ticks up (down), then makers fill in behind the new touch."""
        self.fast_moves += 1
        rng = self._rng
        book = self._book
        mid = book.mid_ticks2() // 2
        target = mid + distance if up else max(1, mid - distance)
        bb, ba = book.best(True), book.best(False)
        self._matching.sweep(up, target, None, True, now_ms, keep_last=False)
        if not book.side(not up):  # the whole side was swept: makers quote just beyond the target
            beyond = target + rng.randint(1, 4) if up else max(1, target - rng.randint(1, 4))
            book.set(not up, beyond, random_qty(rng, 0))
        if up:
            self._fill_bids_up_to(min(target, book.best(False) - 1), bb)
        else:
            self._fill_asks_down_to(max(target, book.best(True) + 1), ba)
        self.fair = book.mid_ticks2() / 2

    def _fill_bids_up_to(self, new_bb: int, old_bb: int) -> None:
        rng = self._rng
        book = self._book
        if new_bb not in book.bids:
            book.set(True, new_bb, random_qty(rng, 0))
        for _ in range(rng.randint(4, 12)):
            price = rng.randint(old_bb + 1, new_bb) if new_bb > old_bb + 1 else new_bb
            if price not in book.bids:
                book.set(True, price, random_qty(rng, 20))
        if book.best(False) - new_bb > 4:
            book.set(False, new_bb + rng.randint(1, 4), random_qty(rng, 0))

    def _fill_asks_down_to(self, new_ba: int, old_ba: int) -> None:
        rng = self._rng
        book = self._book
        if new_ba not in book.asks:
            book.set(False, new_ba, random_qty(rng, 0))
        for _ in range(rng.randint(4, 12)):
            price = rng.randint(new_ba, old_ba - 1) if new_ba < old_ba - 1 else new_ba
            if price not in book.asks:
                book.set(False, price, random_qty(rng, 20))
        if new_ba - book.best(True) > 4:
            book.set(True, new_ba - rng.randint(1, 4), random_qty(rng, 0))
