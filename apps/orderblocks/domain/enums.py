"""Order-block directions and statuses. Pure.

``StrEnum`` members are the very strings the API, the push messages and the ``direction`` /
``status`` columns of ``order_blocks_1h`` carry, so they compare, hash and serialise as those
strings.
"""

from __future__ import annotations

from enum import StrEnum


class Direction(StrEnum):
    BULLISH = "bullish"  # a demand zone below a break of a swing high
    BEARISH = "bearish"  # a supply zone above a break of a swing low


class BlockStatus(StrEnum):
    """Moves forward only: fresh -> touched -> invalid (``STATUS_RANK``)."""

    FRESH = "fresh"
    TOUCHED = "touched"
    INVALID = "invalid"


STATUS_RANK: dict[str, int] = {BlockStatus.FRESH: 0, BlockStatus.TOUCHED: 1, BlockStatus.INVALID: 2}
