"""A read-only view of the live order book for one publication cycle. Pure.

The streamer hands each listener a `BookSnapshotView` of its `OrderBook`, never the book itself.

- Cost: O(1) to capture. No level is copied up front: copying a 5000-level book every second for
  listeners that read a few hundred levels around the touch would cost more than their reads.
- Guarantee: every answer is the book at `update_id`, or an error. The update id, the trusted
  window and the best bid/ask are captured with the view. Level reads (`levels_between`, `top`,
  `depth`) are answered from the live book only while it is still at the captured `version`, each
  as a new list the caller keeps; once the book has changed they raise `BookChangedError`. So a
  listener reads the levels it needs synchronously, before its first await (the book mutates while
  it awaits), and works on its copies; a late read fails loudly instead of mixing two books.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.book.domain.change_log import ChangeCursor, LevelWrites
from apps.book.domain.events import Level, Side
from apps.book.domain.order_book import OrderBook


class BookChangedError(RuntimeError):
    """A level read through a view whose book has changed since the view was captured."""


@dataclass(frozen=True, slots=True)
class BookSnapshotView:
    update_id: int
    trusted_window: tuple[Decimal, Decimal] | None
    bid: Level | None  # best bid at capture
    ask: Level | None  # best ask at capture
    _book: OrderBook
    _version: int

    @classmethod
    def capture(cls, book: OrderBook) -> BookSnapshotView:
        return cls(book.update_id, book.trusted_window, book.best_bid(), book.best_ask(), book, book.version)

    @property
    def current(self) -> bool:
        """True while level reads still answer (the book has not changed since the capture)."""
        return self._book.version == self._version

    def best_bid(self) -> Level | None:
        return self.bid

    def best_ask(self) -> Level | None:
        return self.ask

    def levels_between(self, side: Side, low: Decimal, high: Decimal) -> list[Level]:
        """Levels with low <= price <= high, ascending by price (a copy)."""
        return self._live().levels_between(side, low, high)

    def top(self, side: Side, n: int) -> list[Level]:
        """The best `n` levels of a side, best first (a copy)."""
        return self._live().top(side, n)

    def depth(self, side: Side) -> int:
        return self._live().depth(side)

    def change_cursor(self) -> ChangeCursor:
        """Where the book's change log stands at this view (read the whole book with it)."""
        return self._live().changes.cursor()

    def changes_since(self, cursor: ChangeCursor) -> list[LevelWrites] | None:
        """The diff events applied after ``cursor`` up to this view, oldest first; None when the
        log no longer has them all (a snapshot replaced the book, or the reader fell behind)."""
        return self._live().changes.since(cursor)

    def _live(self) -> OrderBook:
        if self._book.version != self._version:
            raise BookChangedError(
                f"the book changed since this view was captured at update_id={self.update_id}: "
                "read the levels you need before the first await"
            )
        return self._book
