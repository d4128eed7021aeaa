"""Book benchmark: apply throughput and 5000-level snapshot load vs a naive dict-and-sort book.

    python -m bench.book [--events 20000] [--repeat 5]

Both books see the same pre-parsed workload in the same process. A "naive" book keeps each side
in a plain dict and sorts (or scans) when it needs an order: the obvious first implementation.
Each event is ~10 absolute level updates near the touch followed by the crossed-book check the
sync machine performs after every event (best bid vs best ask), which is where the naive book
pays. Figures are medians of --repeat runs; the ratio column is what to compare across machines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal

from apps.book.domain.events import Level, Side
from apps.book.domain.order_book import OrderBook


class NaiveBook:
    """dict per side; best/top by scanning/sorting on demand."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def load_snapshot(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = {p: q for p, q in bids if q}
        self.asks = {p: q for p, q in asks if q}

    def apply(self, bids: list[Level], asks: list[Level]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, qty in levels:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)

    def is_crossed(self) -> bool:
        return bool(self.bids and self.asks) and max(self.bids) >= min(self.asks)

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks


def make_book(levels: int, rng: random.Random) -> tuple[list[Level], list[Level]]:
    mid = 8_700_000  # cents
    bids = [(Decimal(mid - 1 - i) / 100, Decimal(rng.randint(1, 500_000)) / 100_000) for i in range(levels)]
    asks = [(Decimal(mid + 1 + i) / 100, Decimal(rng.randint(1, 500_000)) / 100_000) for i in range(levels)]
    return bids, asks


def make_events(count: int, rng: random.Random) -> list[tuple[list[Level], list[Level]]]:
    mid = 8_700_000
    events = []
    for _ in range(count):
        bids, asks = [], []
        for _ in range(10):
            offset = int(rng.expovariate(1 / 40)) + 1
            qty = Decimal(0) if rng.random() < 0.3 else Decimal(rng.randint(1, 500_000)) / 100_000
            if rng.random() < 0.5:
                bids.append((Decimal(mid - offset) / 100, qty))
            else:
                asks.append((Decimal(mid + offset) / 100, qty))
        events.append((bids, asks))
    return events


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(events_count: int, repeat: int) -> list[tuple[str, float, float, str]]:
    rng = random.Random(7)
    snap_bids, snap_asks = make_book(5000, rng)
    events = make_events(events_count, rng)
    updates = sum(len(b) + len(a) for b, a in events)
    rows: list[tuple[str, float, float, str]] = []

    def ours_snapshot() -> None:
        OrderBook().load_snapshot(1, snap_bids, snap_asks, 5000)

    def naive_snapshot() -> None:
        NaiveBook().load_snapshot(snap_bids, snap_asks)

    print("  snapshot load (5000 levels/side)...", file=sys.stderr)
    rows.append(
        (
            "snapshot load 5000/side (ms)",
            timed(ours_snapshot, repeat) * 1e3,
            timed(naive_snapshot, repeat) * 1e3,
            "lower is better",
        )
    )

    def ours_apply(check: bool) -> Callable[[], None]:
        def go() -> None:
            book = OrderBook()
            book.load_snapshot(1, snap_bids, snap_asks, 5000)
            uid = 1
            for bids, asks in events:
                uid += 1
                book.apply(uid, bids, asks)
                if check:
                    book.is_crossed()

        return go

    def naive_apply(check: bool) -> Callable[[], None]:
        def go() -> None:
            book = NaiveBook()
            book.load_snapshot(snap_bids, snap_asks)
            for bids, asks in events:
                book.apply(bids, asks)
                if check:
                    book.is_crossed()

        return go

    snap_ours = timed(ours_snapshot, repeat)
    snap_naive = timed(naive_snapshot, repeat)
    print("  apply only...", file=sys.stderr)
    ours = timed(ours_apply(False), repeat) - snap_ours
    naive = timed(naive_apply(False), repeat) - snap_naive
    rows.append(("apply only (level updates/s)", updates / ours, updates / naive, "higher is better"))
    print("  apply + crossed check per event...", file=sys.stderr)
    ours = timed(ours_apply(True), repeat) - snap_ours
    naive = timed(naive_apply(True), repeat) - snap_naive
    rows.append(
        ("apply + crossed check (level updates/s)", updates / ours, updates / naive, "higher is better")
    )

    book = OrderBook()
    book.load_snapshot(1, snap_bids, snap_asks, 5000)
    naive_book = NaiveBook()
    naive_book.load_snapshot(snap_bids, snap_asks)
    print("  top-100 reads...", file=sys.stderr)
    ours = (
        timed(lambda: [book.top(Side.BID, 100) and book.top(Side.ASK, 100) for _ in range(200)], repeat) / 200
    )
    naive = timed(lambda: [naive_book.top(100) for _ in range(200)], repeat) / 200
    rows.append(("top-100 both sides (us)", ours * 1e6, naive * 1e6, "lower is better"))
    return rows


def print_table(rows: list[tuple[str, float, float, str]]) -> None:
    print(f"{'book benchmark':<42} {'ours':>14} {'naive dict':>14} {'ours/naive':>11}")
    for name, ours, naive, note in rows:
        ratio = ours / naive if naive else float("nan")
        print(f"{name:<42} {ours:>14,.1f} {naive:>14,.1f} {ratio:>10.2f}x  ({note})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print_table(run(args.events, args.repeat))


if __name__ == "__main__":
    main()
