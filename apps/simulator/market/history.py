"""The retained truth: checkpoints of the full book plus every depth event since the oldest one, so the
book as of any retained update id can be rebuilt. Old checkpoints (and their events) age out."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from apps.simulator.market.book import TrueBook
from apps.simulator.market.events import MarketDepthEvent
from apps.simulator.market.units import Change, IntLevel


class TruthUnavailable(LookupError):
    """The requested update id is outside the retained history."""


@dataclass(slots=True)
class _Checkpoint:
    update_id: int
    time_ms: int
    bids: dict[int, int]
    asks: dict[int, int]


class TruthHistory:
    """Checkpoints every ``checkpoint_every`` events; keeps ``history_ms`` of them (at least one)."""

    def __init__(self, *, history_ms: int, checkpoint_every: int) -> None:
        self.history_ms = history_ms
        self.checkpoint_every = checkpoint_every
        self._events: list[MarketDepthEvent] = []
        self._event_final_ids: list[int] = []
        self._checkpoints: list[_Checkpoint] = []
        self._events_since_checkpoint = 0

    @property
    def oldest_update_id(self) -> int:
        return self._checkpoints[0].update_id

    def record(self, event: MarketDepthEvent, book: TrueBook, now_ms: int) -> None:
        """Keep an event just applied to ``book``; checkpoint the book when it is time."""
        self._events.append(event)
        self._event_final_ids.append(event.final_id)
        self._events_since_checkpoint += 1
        if self._events_since_checkpoint >= self.checkpoint_every:
            self.checkpoint(event.final_id, book, now_ms)

    def checkpoint(self, update_id: int, book: TrueBook, now_ms: int) -> None:
        self._checkpoints.append(_Checkpoint(update_id, now_ms, dict(book.bids), dict(book.asks)))
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

    def book_at(
        self, update_id: int, latest_id: int, limit: int | None
    ) -> tuple[list[IntLevel], list[IntLevel]]:
        """The book as of ``update_id`` (best first, at most ``limit`` levels per side)."""
        if update_id > latest_id or update_id < self.oldest_update_id:
            raise TruthUnavailable(
                f"update id {update_id} is outside the retained history [{self.oldest_update_id}, {latest_id}]"
            )
        cp_index = bisect.bisect_right([c.update_id for c in self._checkpoints], update_id) - 1
        checkpoint = self._checkpoints[cp_index]
        bids, asks = dict(checkpoint.bids), dict(checkpoint.asks)
        self._replay(bids, asks, checkpoint.update_id, update_id)
        bid_levels = sorted(bids.items(), reverse=True)
        ask_levels = sorted(asks.items())
        if limit is not None:
            bid_levels, ask_levels = bid_levels[:limit], ask_levels[:limit]
        return bid_levels, ask_levels

    def _replay(self, bids: dict[int, int], asks: dict[int, int], after_id: int, until_id: int) -> None:
        """Apply the retained changes with ids after_id+1..until_id to plain dict books."""
        ev_index = bisect.bisect_right(self._event_final_ids, after_id)
        while ev_index < len(self._events):
            event = self._events[ev_index]
            if event.first_id > until_id:
                break
            for offset, (is_bid, price, qty) in enumerate(event.changes):
                if event.first_id + offset > until_id:
                    break
                book = bids if is_bid else asks
                if qty:
                    book[price] = qty
                else:
                    book.pop(price, None)
            ev_index += 1

    def events_between(self, first_id: int, final_id: int) -> list[MarketDepthEvent]:
        """Retained events overlapping ids first_id..final_id, in order."""
        start = bisect.bisect_left(self._event_final_ids, first_id)
        out = []
        for event in self._events[start:]:
            if event.first_id > final_id:
                break
            out.append(event)
        return out


def apply_changes(bids: dict[int, int], asks: dict[int, int], changes: Iterable[Change]) -> None:
    """Apply id-ordered changes to plain dict books (used for replay checks)."""
    for is_bid, price, qty in changes:
        book = bids if is_bid else asks
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)
