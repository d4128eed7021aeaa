"""Reaction states, outcomes and zone events. Pure.

``StrEnum`` members are the very strings the API, the push messages and the table's columns carry.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What a block did by a horizon after its touch (``outcome_at``)."""

    HELD = "held"  # not invalidated, and price moved at least 1 ATR14 away in the block's direction
    INVALIDATED = "invalidated"  # a 1h candle closed beyond the zone (the seed's rule)
    UNDECIDED = "undecided"  # neither
    UNKNOWN = "unknown"  # the service was not running when it was due: never guessed


class ReactionState(StrEnum):
    PENDING = "pending"  # snapshots or outcomes still to come
    DONE = "done"  # every snapshot taken (or missed) and every outcome decided
    UNKNOWN = "unknown"  # closed early: a step fell due while the service was not running


class ZoneEvent(StrEnum):
    """What a liquidity zone inside the block's range did in the window after the touch."""

    HELD = "held"  # still there at the end of the window
    PULLED = "pulled"  # withdrawn without trades there (the spoofing signal)
    BROKEN = "broken"  # traded through


DECIDED: tuple[Outcome, ...] = (Outcome.HELD, Outcome.INVALIDATED, Outcome.UNDECIDED)
