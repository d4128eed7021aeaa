"""Every reaction of one symbol across publication cycles. Pure: fed plain data (trades, the
cycle's book view, the zone set, closed candles, the stored blocks), returns the reactions that
changed. One ``ReactionTracker`` per symbol, advanced by the live listener."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.book.domain.events import Side, Trade
from apps.reactions.domain.enums import ReactionState
from apps.reactions.domain.liquidity import (
    Backing,
    LevelSource,
    Liquidity,
    ZoneLike,
    backed_or_unknown,
    backing_of,
    confirmed_zones_in,
    resting_liquidity,
)
from apps.reactions.domain.reaction import (
    Reaction,
    ReactionParams,
    advance,
    follow_trades,
    note_close,
    note_invalidation,
    observe_zones,
    reaction_range,
    resume_after_restart,
    touched_reaction,
)
from apps.reactions.domain.touches import BlockRef, WatchedBlocks


@dataclass(frozen=True, slots=True)
class Restored:
    """Reactions read back at start: their ids, and how long the service watched each."""

    pending: Sequence[Reaction]
    reacted_ids: Iterable[str]  # every block with a reaction, of any state
    watched_until_ms: Mapping[str, int]


class ReactionTracker:
    def __init__(self, symbol: str, params: ReactionParams | None = None) -> None:
        self.symbol = symbol
        self.params = params or ReactionParams()
        self.blocks = WatchedBlocks()
        self.pending: dict[str, Reaction] = {}
        self.reacted: set[str] = set()  # blocks with a reaction: never a second one
        self.skipped: set[str] = set()  # blocks learned after price had entered them
        self.last_price: Decimal | None = None

    # -- feeding -------------------------------------------------------------------------------
    def restore(self, restored: Restored, now_ms: int) -> list[Reaction]:
        """Resume or close (as unknown) the stored pending reactions; returns them all, changed."""
        self.reacted.update(restored.reacted_ids)
        changed = []
        for stored in restored.pending:
            watched = restored.watched_until_ms.get(stored.id, stored.touch_ts_ms)
            r = resume_after_restart(stored, now_ms, watched)
            self.reacted.add(r.id)
            if r.state is ReactionState.PENDING:
                self.pending[r.id] = r
            changed.append(r)
        return changed

    def watch(
        self, fresh: Iterable[BlockRef], invalid_close_ms: Mapping[str, int]
    ) -> tuple[list[BlockRef], list[Reaction]]:
        """The stored fresh blocks to watch from now on, and the close times of the candles that
        invalidated blocks of pending reactions. Returns (blocks learned too late: skipped, the
        reactions that changed)."""
        fresh = list(fresh)
        self.skipped &= {block.id for block in fresh}
        missed = self.blocks.replace(fresh, self.reacted | self.skipped)
        self.skipped.update(block.id for block in missed)
        changed = []
        for block_id, close_ms in invalid_close_ms.items():
            r = self.pending.get(block_id)
            if r is not None and (new := note_invalidation(r, close_ms)) is not r:
                self.pending[block_id] = new
                changed.append(new)
        return missed, changed

    def note_close(self, close_ts_ms: int, close: Decimal) -> list[Reaction]:
        """A closed 1h candle (close time, close price)."""
        self.blocks.note_close(close)
        changed = []
        for block_id, r in self.pending.items():
            if (new := note_close(r, close_ts_ms, close)) is not r:
                self.pending[block_id] = new
                changed.append(new)
        return changed

    def advance(
        self,
        now_ms: int,
        trades: Sequence[Trade],
        book: LevelSource | None,
        unavailable: str,
        zones: Callable[[], Iterable[ZoneLike]],
    ) -> list[Reaction]:
        """One publication cycle: ``trades`` since the last one (in order), the cycle's ``book``
        (None when it is not live; ``unavailable`` then says what it is) and a reader of the
        current zone set (called only while some reaction looks at zones). Reads the book before
        returning; returns the reactions that changed (new ones included), each once."""
        touches = self.blocks.touches(trades, self.last_price)
        if trades:
            self.last_price = trades[-1].price
        looking = bool(touches) or any(r.snapshots[-1] is None for r in self.pending.values())
        current = list(zones()) if looking else []
        measure = _measure(book)
        changed: dict[str, Reaction] = {}
        for block_id, r in list(self.pending.items()):
            new = advance(r, now_ms, trades, current, measure, unavailable, self.params)
            if new is not r:
                changed[block_id] = new
            self._keep(new)
        for block, trade in touches:
            r = self._touched(block, trade, now_ms, book, unavailable, current)
            r = follow_trades(r, trades)  # the cycle's trades from the touch on
            changed[block.id] = r
            self.reacted.add(block.id)
            self._keep(r)
        return list(changed.values())

    # -- internals -----------------------------------------------------------------------------
    def _keep(self, r: Reaction) -> None:
        if r.state is ReactionState.PENDING:
            self.pending[r.id] = r
        else:
            self.pending.pop(r.id, None)

    def _touched(
        self,
        block: BlockRef,
        trade: Trade,
        now_ms: int,
        book: LevelSource | None,
        unavailable: str,
        zones: Sequence[ZoneLike],
    ) -> Reaction:
        low, high = reaction_range(block, self.params)
        if book is None:
            liquidity = Liquidity(None, None, f"no live book at the touch ({unavailable})")
            zone_ids = confirmed_zones_in(zones, block.side, low, high)
            backing = Backing(
                backed_or_unknown(zone_ids, None, self.params.zone.wall_multiplier), zone_ids, None
            )
        else:
            liquidity = resting_liquidity(book, block.side, low, high)
            backing = backing_of(book, block.side, low, high, zones, self.params.confluence)
        r = touched_reaction(self.symbol, block, trade, now_ms, liquidity, backing, self.params)
        return observe_zones(r, zones, now_ms)


def _measure(book: LevelSource | None) -> Callable[[Side, Decimal, Decimal], Liquidity] | None:
    if book is None:
        return None

    def measure(side: Side, low: Decimal, high: Decimal) -> Liquidity:
        return resting_liquidity(book, side, low, high)

    return measure
