"""Reaction tracker benchmark: the event-loop time the reaction listener's synchronous part takes per
publication cycle (``ReactionTracker.advance``: touches, pending reactions, snapshots, zones).

    python -m bench.reactions [--cycles 400] [--seed 7]

Pure domain on a real OrderBook (~5000 levels per side at tick 0.01 around 87,000, thinning out over
~10 %), 100 fresh blocks watched (50 below, 50 above the price, none touched unless said), 50 trades a
cycle on a random walk near mid. Scenarios:

- watching           100 blocks, no touch;
- 20 pending         20 reactions in their 15-min window (the zone set of 40 zones read each cycle,
                     a snapshot due every cycle);
- touch              a cycle whose trades enter a block (its liquidity, the zones and the window score
                     over the side's 1 % band: ~3,500 levels read).

Baseline (same run): "watching" checking every trade against every block (no per-cycle range
test), and "touch" scoring the windows by scanning the levels once per window. Figures are medians
over the cycles, and the worst cycle (max). Budget: 1 ms median while watching.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

BUDGET_MS = 1.0
MID = Decimal(87000)


@dataclass(frozen=True)
class Zone:
    id: str
    side: Any
    price_low: Decimal
    price_high: Decimal
    status: str
    ts_ms: int


def realistic_book(rng: random.Random) -> Any:
    from apps.book.domain.order_book import OrderBook

    sides = []
    for sign in (-1, 1):
        offsets: set[int] = set()
        while len(offsets) < 5000:
            offsets.add(int(rng.expovariate(1 / 120_000)) + 1)  # cents from mid, dense near the touch
        sides.append(
            [(MID + sign * Decimal(o) / 100, Decimal(rng.randint(1, 200_000)) / 100_000) for o in offsets]
        )
    book = OrderBook()
    book.load_snapshot(1, sides[0], sides[1], limit=5000)
    return book


def blocks() -> list[Any]:
    from apps.orderblocks.domain.enums import Direction
    from apps.reactions.domain.touches import BlockRef

    found = []
    for i in range(50):
        low = MID - 400 - 60 * i
        found.append(BlockRef(f"B:bull:{i}", Direction.BULLISH, low, low + 45, Decimal(150), 0))
        high = MID + 400 + 60 * i
        found.append(BlockRef(f"B:bear:{i}", Direction.BEARISH, high - 45, high, Decimal(150), 0))
    return found


class Tape:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids = 0

    def cycle(self, now_ms: int, centre: Decimal, n: int = 50) -> list[Any]:
        """``n`` trades within 30 EUR of ``centre``."""
        trades = []
        for k in range(n):
            trades.append(self.at(now_ms - n + k, centre + Decimal(self.rng.randint(-3000, 3000)) / 100))
        return trades

    def at(self, ts_ms: int, price: Decimal) -> Any:
        from apps.book.domain.events import Trade

        self.ids += 1
        return Trade(self.ids, price, Decimal("0.01"), ts_ms, False)


def timed(run: Callable[..., Any], *args: Any) -> float:
    started = time.perf_counter()
    run(*args)
    return (time.perf_counter() - started) * 1000


def watching(cycles: int, rng: random.Random, book: Any) -> tuple[list[float], list[float]]:
    from apps.book.domain.snapshot_view import BookSnapshotView
    from apps.reactions.domain.touches import first_touch
    from apps.reactions.domain.tracker import ReactionTracker

    tracker = ReactionTracker("BTCEUR")
    tracker.watch(blocks(), {})
    tape, ours, naive = Tape(rng), [], []
    watched = blocks()
    for c in range(cycles):
        trades = tape.cycle(1_000_000 + c * 1000, MID)
        view = BookSnapshotView.capture(book)
        ours.append(timed(tracker.advance, 1_000_000 + c * 1000, trades, view, "", tuple))
        naive.append(timed(every_block, watched, trades, first_touch))
    return ours, naive


def pending(cycles: int, rng: random.Random, book: Any) -> list[float]:
    from apps.book.domain.events import Side
    from apps.book.domain.snapshot_view import BookSnapshotView
    from apps.reactions.domain.reaction import ReactionParams
    from apps.reactions.domain.tracker import ReactionTracker

    offsets = (1_000, 2_000, 10**9)  # a snapshot due early on, then the window stays open
    tracker = ReactionTracker("BTCEUR", ReactionParams(snapshot_offsets_ms=offsets))
    watched = blocks()[:40:2]  # 20 bullish blocks
    tracker.watch(watched, {})
    zones = [Zone(f"z{i}", Side.BID, MID - 50 * (i + 1), MID - 50 * i, "confirmed", 0) for i in range(40)]
    tape = Tape(rng)
    for block in watched:  # touch each once
        trade = tape.at(500_000, block.price_high)
        tracker.advance(500_001, [trade], BookSnapshotView.capture(book), "", lambda: zones)
    assert len(tracker.pending) == 20
    out = []
    for c in range(cycles):
        now = 1_000_000 + c * 1000
        trades = tape.cycle(now, MID - 500)
        view = BookSnapshotView.capture(book)
        out.append(timed(tracker.advance, now, trades, view, "", zones.copy))
    return out


def touch(cycles: int, rng: random.Random, book: Any) -> tuple[list[float], list[float]]:
    from apps.book.domain.events import Side
    from apps.book.domain.snapshot_view import BookSnapshotView
    from apps.reactions.domain.tracker import ReactionTracker
    from apps.zones.domain.detection import ZoneParams, analysis_bounds

    tape, ours, naive = Tape(rng), [], []
    block = blocks()[0]
    for c in range(cycles):
        tracker = ReactionTracker("BTCEUR")
        tracker.watch([block], {})
        trades = [tape.at(1_000_000 + c, block.price_high)]
        view = BookSnapshotView.capture(book)
        ours.append(timed(tracker.advance, 1_000_000 + c, trades, view, "", tuple))
        bounds = analysis_bounds(view.best_bid()[0], view.best_ask()[0], view.trusted_window, ZoneParams())
        naive.append(timed(naive_score, view, Side.BID, block, bounds.bid_low, view.best_bid()[0]))
    return ours, naive


def every_block(watched: list[Any], trades: list[Any], first_touch: Callable[..., Any]) -> list[Any]:
    """The plain way: every trade of the cycle against every block."""
    return [first_touch(block, trades, None) for block in watched]


def naive_score(view: Any, side: Any, block: Any, band_low: Decimal, band_high: Decimal) -> float:
    """The window score the plain way: each window sums the levels it contains by a scan."""
    levels = view.levels_between(side, band_low, band_high)
    low, high = block.price_low - 50, block.price_high + 50
    width = high - low
    totals = []
    k = 0
    while low - k * width >= band_low:
        start = low - k * width
        totals.append(sum((q for p, q in levels if start <= p < start + width), Decimal(0)))
        k += 1
    return float(totals[0]) / max(float(statistics.median(totals)), 1e-8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    book = realistic_book(rng)
    rows = []
    ours, naive = watching(args.cycles, rng, book)
    rows.append(("watching, 100 blocks", ours, naive, "every trade x every block"))
    rows.append(("20 pending in their window", pending(args.cycles, rng, book), None, ""))
    ours, naive = touch(max(20, args.cycles // 10), rng, book)
    rows.append(("a touch (window score)", ours, naive, "a scan per window"))
    print("reaction tracker, event-loop ms per cycle (median / max over cycles)")
    header = f"{'scenario':30} {'ours':>16} {'baseline':>16} {'ratio':>7}  baseline is"
    print(header)
    print("-" * len(header))
    for name, mine, base, what in rows:
        ours_text = f"{statistics.median(mine):.3f} / {max(mine):.2f}"
        if base is None:
            print(f"{name:30} {ours_text:>16}")
            continue
        ratio = statistics.median(base) / statistics.median(mine)
        base_text = f"{statistics.median(base):.3f} / {max(base):.2f}"
        print(f"{name:30} {ours_text:>16} {base_text:>16} {ratio:>6.1f}x  {what}")
    watching_median = statistics.median(rows[0][1])
    verdict = "met" if watching_median <= BUDGET_MS else "MISSED"
    print(f"budget: {BUDGET_MS} ms median while watching: {verdict} ({watching_median:.3f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
