"""Which fresh order blocks price enters, from the trade stream. Pure.

- A trade touches a zone (``is_touched_by_trade``) when the price path from the previous trade to
  it overlaps the zone: the seed's candle rule (``is_touched``: low <= zone high and high >= zone
  low) applied to that path instead of a bar, so a touch is seen the moment it prints, and a jump
  over the zone between two trades still counts. With no previous trade, the trade's price alone.
- Only blocks known at the trade count (valid_from_ts_ms <= its time: no look-ahead), each once.
- ``WatchedBlocks`` holds the fresh blocks still to watch. A block it learns of late (the hourly run
  stores a block a few seconds after the candle that made it closed) is checked against the prices
  traded since it became valid; one price already entered is dropped as a touch missed, since its
  touch time and the book then are unknown.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from apps.book.domain.events import Side, Trade
from apps.confluence.domain.liquidity import block_side
from apps.orderblocks.domain.engine import is_invalidated, is_touched
from apps.orderblocks.domain.enums import Direction

PATH_MEMORY_CYCLES = 900  # cycles of traded ranges kept for blocks learned late (15 min at 1 s)


@dataclass(frozen=True, slots=True)
class BlockRef:
    """What a reaction needs of an order block (apps.orderblocks' BlockRecord, reduced)."""

    id: str  # symbol:direction:created_ts_ms, as the API names blocks
    direction: Direction
    price_low: Decimal
    price_high: Decimal
    atr14: Decimal
    valid_from_ts_ms: int

    @property
    def side(self) -> Side:
        return block_side(self.direction)


def is_touched_by_trade(
    previous: Decimal | None, price: Decimal, zone_low: Decimal, zone_high: Decimal
) -> bool:
    low, high = (price, price) if previous is None else (min(previous, price), max(previous, price))
    return bool(is_touched(high, low, zone_low, zone_high))


def first_touch(block: BlockRef, trades: Sequence[Trade], previous: Decimal | None) -> Trade | None:
    """The first trade of ``trades`` (in order) that touches the block once it is known."""
    for trade in trades:
        if trade.ts_ms >= block.valid_from_ts_ms and is_touched_by_trade(
            previous, trade.price, block.price_low, block.price_high
        ):
            return trade
        previous = trade.price
    return None


@dataclass(frozen=True, slots=True)
class TradedRange:
    """The prices one cycle's trades covered (with the path from the trade before them)."""

    first_ts_ms: int
    last_ts_ms: int
    low: Decimal
    high: Decimal


class WatchedBlocks:
    """The fresh blocks to watch for a first touch, and the recent traded ranges."""

    def __init__(self, memory_cycles: int = PATH_MEMORY_CYCLES) -> None:
        self._blocks: dict[str, BlockRef] = {}
        self._path: deque[TradedRange] = deque(maxlen=memory_cycles)
        self._invalid: set[str] = set()  # closed beyond by a candle the store may not know yet

    def __len__(self) -> int:
        return len(self._blocks)

    def __contains__(self, block_id: object) -> bool:
        return block_id in self._blocks

    def replace(self, blocks: Iterable[BlockRef], skip: set[str]) -> list[BlockRef]:
        """Watch exactly ``blocks`` (less those in ``skip``: blocks with a reaction already). Returns
        the newly learned blocks that price already entered since they became valid (dropped)."""
        listed = list(blocks)
        fresh: dict[str, BlockRef] = {}
        missed: list[BlockRef] = []
        for block in listed:
            if block.id in skip or block.id in self._invalid:
                continue
            if block.id not in self._blocks and self._entered_since(block):
                missed.append(block)
                continue
            fresh[block.id] = block
        self._blocks = fresh
        self._invalid &= {block.id for block in listed}  # forget those the store no longer lists
        return missed

    def discard(self, block_id: str) -> None:
        self._blocks.pop(block_id, None)

    def note_close(self, close: Decimal) -> None:
        """A closed 1h candle: blocks it closed beyond are invalid, no longer watched."""
        for block in list(self._blocks.values()):
            if is_invalidated(close, block.price_low, block.price_high, block.direction):
                del self._blocks[block.id]
                self._invalid.add(block.id)

    def touches(self, trades: Sequence[Trade], previous: Decimal | None) -> list[tuple[BlockRef, Trade]]:
        """Blocks these trades touch, each with its first touching trade, in trade order; they stop
        being watched. Records the traded range for blocks learned later."""
        if not trades:
            return []
        prices = [trade.price for trade in trades]
        low, high = min(prices), max(prices)
        if previous is not None:
            low, high = min(low, previous), max(high, previous)
        self._path.append(TradedRange(trades[0].ts_ms, trades[-1].ts_ms, low, high))
        found = []
        for block in list(self._blocks.values()):
            if not is_touched(high, low, block.price_low, block.price_high):
                continue  # the cycle's whole path missed it: no trade can touch it
            trade = first_touch(block, trades, previous)
            if trade is not None:
                found.append((block, trade))
                del self._blocks[block.id]
        found.sort(key=lambda pair: (pair[1].ts_ms, pair[1].trade_id, pair[0].id))
        return found

    def _entered_since(self, block: BlockRef) -> bool:
        return any(
            span.last_ts_ms >= block.valid_from_ts_ms
            and is_touched(span.high, span.low, block.price_low, block.price_high)
            for span in self._path
        )
