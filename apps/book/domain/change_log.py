"""The level writes an order book has applied since a reader last looked. Pure.

A reader that keeps something derived from the whole book (the heatmap's quantity per price bin)
would otherwise re-read every level each publication cycle; with the log it reads the book once,
then only what changed: the diff events applied since its cursor, in order, as the very tuples the
book applied (absolute quantities, zero = the level is gone).

- Bounded: the last ``max_events`` events are kept (references to the events' own tuples, no copy).
  A reader that fell further behind gets None and reads the whole book again.
- A snapshot load or a clear replaces the whole book: the log starts a new ``epoch`` and every
  cursor from before it gets None.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import islice

from apps.book.domain.events import Level

# (epoch, number of events applied in that epoch): where a reader has read up to
ChangeCursor = tuple[int, int]
# one applied event: (bid levels, ask levels) with absolute quantities
LevelWrites = tuple[Sequence[Level], Sequence[Level]]

MAX_EVENTS = 256  # ~25 s of Binance's 100 ms diff stream; a reader reads it once a cycle (1 s)


class ChangeLog:
    __slots__ = ("_events", "_start", "epoch")

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self._events: deque[LevelWrites] = deque(maxlen=max_events)
        self._start = 0  # number of the oldest event kept
        self.epoch = 0

    def record(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        if len(self._events) == self._events.maxlen:
            self._start += 1  # the append drops the oldest
        self._events.append((bids, asks))

    def restart(self) -> None:
        """The whole book was replaced: every reader must read it again."""
        self.epoch += 1
        self._events.clear()
        self._start = 0

    def cursor(self) -> ChangeCursor:
        """Where a reader that has just read the whole book stands."""
        return (self.epoch, self._start + len(self._events))

    def since(self, cursor: ChangeCursor) -> list[LevelWrites] | None:
        """The events applied after ``cursor``, oldest first; None when they are no longer all
        here (another epoch, or more than ``max_events`` ago): read the whole book instead."""
        epoch, position = cursor
        if epoch != self.epoch or position < self._start or position > self._start + len(self._events):
            return None
        return list(islice(self._events, position - self._start, None))
