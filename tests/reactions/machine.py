"""A reaction tracker driven cycle by cycle, as the live listener drives it, with a clock of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal as D

from apps.book.domain.order_book import OrderBook
from apps.reactions.domain.reaction import Reaction, ReactionParams
from apps.reactions.domain.touches import BlockRef
from apps.reactions.domain.tracker import ReactionTracker
from tests.reactions.scene import BULL, PARAMS, Zone, book, trade


class Run:
    def __init__(
        self,
        blocks: Iterable[BlockRef] = (BULL,),
        params: ReactionParams = PARAMS,
        book_: OrderBook | None = None,
    ) -> None:
        self.tracker = ReactionTracker("BTCEUR", params)
        self.tracker.watch(list(blocks), {})
        self.book = book_ if book_ is not None else book({"86020": "30"})
        self.zones: list[Zone] = []
        self.live = True
        self.zone_reads = 0
        self.latest: dict[str, Reaction] = {}
        self.changes: list[Reaction] = []

    def read_zones(self) -> Sequence[Zone]:
        self.zone_reads += 1
        return list(self.zones)

    def cycle(self, now_ms: int, *prices: tuple[int, str | D]) -> list[Reaction]:
        """One cycle at ``now_ms`` with trades (ts_ms, price)."""
        trades = [trade(ts, price) for ts, price in prices]
        changed = self.tracker.advance(
            now_ms, trades, self.book if self.live else None, "book resyncing", self.read_zones
        )
        for r in changed:
            self.latest[r.id] = r
        self.changes += changed
        return changed

    def every(self, start_ms: int, stop_ms: int, step_ms: int, price: str | None = None) -> None:
        """Cycles from start to stop (inclusive), with one trade at ``price`` in each when given."""
        for now in range(start_ms, stop_ms + 1, step_ms):
            self.cycle(now, *([(now - 1, price)] if price is not None else []))

    @property
    def reaction(self) -> Reaction:
        [r] = self.latest.values()
        return r
