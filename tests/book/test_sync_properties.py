"""Property test of the synchroniser: whatever a hostile stream does (drops, duplicates, overlaps,
old replays, stale or fresh snapshots, reconnects), whenever the book claims to be live it equals the
exchange's book at its update id."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.book.domain.events import DepthEvent, DepthSnapshot, Side
from apps.book.domain.sync import DepthSynchronizer, Outcome


class Exchange:
    """A tiny truthful exchange: one level change per update id, history of every book."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bids = {Decimal(100 - i): Decimal(1) for i in range(1, 6)}
        self.asks = {Decimal(100 + i): Decimal(1) for i in range(1, 6)}
        self.update_id = 1000
        self.history = {self.update_id: (dict(self.bids), dict(self.asks))}
        self.changes: dict[int, tuple[str, Decimal, Decimal]] = {}

    def step(self) -> None:
        self.update_id += 1
        is_bid = self.rng.random() < 0.5
        side = self.bids if is_bid else self.asks
        price = Decimal(100 - self.rng.randint(1, 10)) if is_bid else Decimal(100 + self.rng.randint(1, 10))
        qty = Decimal(0) if self.rng.random() < 0.3 else Decimal(self.rng.randint(1, 9))
        if qty == 0:
            side.pop(price, None)
        else:
            side[price] = qty
        self.changes[self.update_id] = ("b" if is_bid else "a", price, qty)
        self.history[self.update_id] = (dict(self.bids), dict(self.asks))

    def event(self, first: int, final: int) -> DepthEvent:
        latest: dict[tuple[str, Decimal], Decimal] = {}
        for uid in range(first, final + 1):
            s, p, q = self.changes[uid]
            latest[(s, p)] = q
        bids = tuple((p, q) for (s, p), q in latest.items() if s == "b")
        asks = tuple((p, q) for (s, p), q in latest.items() if s == "a")
        return DepthEvent(first, final, 0, bids, asks)

    def snapshot(self, at: int) -> DepthSnapshot:
        bids, asks = self.history[at]
        return DepthSnapshot(at, tuple(bids.items()), tuple(asks.items()))


def assert_truthful(sync: DepthSynchronizer, exchange: Exchange) -> int:
    """Checks the invariant; returns 1 when a live book was checked."""
    if not sync.ready:
        return 0
    bids, asks = exchange.history[sync.book.update_id]
    book = sync.book
    assert dict(book.top(Side.BID, 1000)) == bids
    assert dict(book.top(Side.ASK, 1000)) == asks
    return 1


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(20, 200))
def test_live_book_always_equals_the_exchange(seed, steps):
    run_hostile_stream(seed, steps)


def test_the_property_is_not_vacuous():
    """The hostile streams above still leave the book live most of the time."""
    checks = [run_hostile_stream(seed, 200) for seed in range(20)]
    assert sum(checks) > 20 * 200 * 0.3


def run_hostile_stream(seed: int, steps: int) -> int:
    rng = random.Random(seed)
    exchange = Exchange(rng)
    sync = DepthSynchronizer(max_buffer=rng.choice([3, 50]))
    sync.connected()
    sent_upto = exchange.update_id
    sent: list[DepthEvent] = []
    live_checks = 0
    for _ in range(steps):
        for _ in range(rng.randint(1, 3)):
            exchange.step()
        first, final = sent_upto + 1, exchange.update_id
        sent_upto = final
        action = rng.random()
        if action < 0.08:
            continue  # dropped on the wire: a gap
        event = exchange.event(first, final)
        if action < 0.14 and sent:
            previous = sent[-1]
            event = exchange.event(previous.first_update_id, final)  # overlap
        outcomes = [sync.on_event(event)]
        sent.append(event)
        if 0.14 <= action < 0.2:
            outcomes.append(sync.on_event(event))  # duplicate
        if 0.2 <= action < 0.25 and len(sent) > 3:
            outcomes.append(sync.on_event(sent[-4]))  # old replay
        if 0.25 <= action < 0.28:
            sync.disconnected()
            sync.connecting()
            sync.connected()
        live_checks += assert_truthful(sync, exchange)
        if sync.needs_snapshot and rng.random() < 0.5:
            lag = rng.choice([0, 0, 1, 5, 30])  # sometimes older than the first buffered event
            at = max(1000, exchange.update_id - lag)
            if rng.random() < 0.3:
                for _ in range(rng.randint(1, 4)):
                    exchange.step()  # the snapshot is newer than everything buffered
                at = exchange.update_id
            result = sync.on_snapshot(exchange.snapshot(at))
            assert result.outcome in (Outcome.LIVE, Outcome.SNAPSHOT_TOO_OLD, Outcome.RESYNC)
        live_checks += assert_truthful(sync, exchange)
    return live_checks
