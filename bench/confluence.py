"""Confluence benchmark: the event-loop cost of the liquidity inside 100 active order blocks per cycle.

    python -m bench.confluence [--cycles 120] [--blocks 100] [--seed 7]

Runs in its own process with a throw-away SQLite database (migrated first), as the service runs it:
the real ``ZoneCycleListener``, ``HeatmapListener`` and ``ConfluenceListener`` (last, reading the zone
listener's zones) on a realistic book (bench.zones' ``Market``: ~5000 levels a side at tick 0.01 around
87,000, ~1,700 of them within the 1 % band), cycles 1 s apart in simulated time, run back to back;
~110 level writes between cycles (the simulator's rate, an upper bound for BTC/EUR; a wall now and
then); the defaults (range 1 %, bin 50, CONFLUENCE_PAD_BINS 1). ``--blocks`` order blocks are stored,
all active and near the price (the worst case: a real history has most of its active blocks far away,
where they cost a comparison): bullish ones below the price, bearish ones above, 0.05-0.5 % tall,
centred within 1.2 % of mid (``--within-pct``), so ~75 % are inside the band and measured every cycle.

"loop held" is the listener's ``timings.loop_ms``: everything it did on the event loop (following the
logged writes, measuring every block, working out what changed and pushing it); reading the blocks,
the heatmap hour, converting a fresh copy of the book and the database write run on worker threads.
The first cycle (the book read afresh) is reported apart. Baselines in the same run, on the same views:
"re-read" = what a listener without the book's change log would do each cycle: copy the band and a
margin out of the view and convert it (``Reread.build``, here inline), then the same measurement;
"plain rules" = ``measure_block`` (Decimal arithmetic, the reference) for every block, timed on a few
cycles only (it takes seconds). Budget: median loop held < 1 ms at the defaults with 100 blocks.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.django_setup import setup_django

BUDGET_MS = 1.0
SYMBOL = "BTCEUR"
PLAIN_CYCLES = 3


def store_blocks(count: int, mid: Decimal, rng: random.Random, within_bp: int = 120) -> None:
    from apps.orderblocks.models import OrderBlock

    rows = []
    for i in range(count):
        bullish = i % 2 == 0
        offset = Decimal(rng.randint(5, within_bp)) / 10_000 * (-1 if bullish else 1)
        half = mid * Decimal(rng.randint(5, 50)) / 20_000
        centre = mid * (1 + offset)
        low, high = (centre - half).quantize(Decimal("0.01")), (centre + half).quantize(Decimal("0.01"))
        created = 1_700_000_000_000 + i * 3_600_000
        rows.append(
            OrderBlock(
                symbol=SYMBOL,
                direction="bullish" if bullish else "bearish",
                created_ts_ms=created,
                valid_from_ts_ms=created + 3 * 3_600_000,
                valid_to_ts_ms=None,
                price_low=low,
                price_high=high,
                atr14=Decimal("300"),
                bos_level=high,
                bos_ts_ms=created + 2 * 3_600_000,
                touched_ts_ms=None,
                status="fresh",
            )
        )
    OrderBlock.objects.bulk_create(rows)


@dataclass
class Samples:
    loop: list[float] = field(default_factory=list)
    follow: list[float] = field(default_factory=list)
    measure: list[float] = field(default_factory=list)
    publish: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    pushed: list[int] = field(default_factory=list)
    measured: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    reread: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    first_loop: float = 0.0
    levels: int = 0


def reread_cycle(view: Any, listener: Any) -> float:
    """The baseline: copy and convert the band every cycle (no change log), then measure."""
    from apps.confluence.services.following import BookFollower

    started = time.perf_counter()
    follower = BookFollower(listener.params.zone)
    followed = follower.follow(view)
    assert followed.reread is not None and followed.bounds is not None
    follower.built(followed.reread.build())
    assert follower.book is not None
    listener.tracked.measure(follower.book, followed.bounds, listener.zones() or ())
    return (time.perf_counter() - started) * 1000


def plain_cycle(view: Any, listener: Any, blocks: list[Any]) -> float:
    """The reference rules for every block, on the band copied out of the view."""
    from apps.book.domain.events import Side
    from apps.confluence.domain.liquidity import measure_block
    from apps.zones.domain.detection import analysis_bounds

    started = time.perf_counter()
    bounds = analysis_bounds(
        view.best_bid()[0], view.best_ask()[0], view.trusted_window, listener.params.zone
    )
    levels = {
        Side.BID: view.levels_between(Side.BID, bounds.bid_low, bounds.best_bid),
        Side.ASK: view.levels_between(Side.ASK, bounds.best_ask, bounds.ask_high),
    }
    zones = listener.zones() or ()
    for block in blocks:
        measure_block(block, levels[block.side], bounds, zones, listener.params)
    return (time.perf_counter() - started) * 1000


async def run(cycles: int, block_count: int, seed: int, within_pct: float = 1.2) -> Samples:
    from asgiref.sync import sync_to_async

    from apps.book.domain.snapshot_view import BookSnapshotView
    from apps.book.services.cycle import PublishCycle
    from apps.confluence.services.live import ConfluenceListener
    from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
    from apps.heatmap.services.live import HeatmapListener
    from apps.overlays.broadcast import OverlayBroadcaster
    from apps.zones.services.live import ZoneCycleListener
    from bench.zones import MID_CENTS, Market
    from project.config import load_config

    rng = random.Random(seed)
    market = Market(rng, None)
    await sync_to_async(store_blocks)(block_count, Decimal(MID_CENTS) / 100, rng, round(within_pct * 100))
    config = load_config({})
    layer = ThrottledInMemoryChannelLayer()  # the service's in-memory layer, one subscriber
    broadcaster = OverlayBroadcaster(SYMBOL, layer=layer)
    channel = await layer.new_channel()
    await layer.group_add(broadcaster.group, channel)
    zones = ZoneCycleListener(config, broadcaster)
    heatmap = HeatmapListener(config, broadcaster)
    listener = ConfluenceListener(config, broadcaster, zones=zones.live_zones)
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            await layer.receive(channel)

    client_task = asyncio.create_task(client())
    samples = Samples()
    start_ms = 1_796_162_400_000
    for i in range(cycles + 1):
        market.step(55)
        for other in (zones, heatmap):
            view = BookSnapshotView.capture(market.book)
            await other.on_cycle(
                PublishCycle(start_ms + i * 1000, SYMBOL, "live", view, market.book.update_id)
            )
        view = BookSnapshotView.capture(market.book)
        cycle = PublishCycle(start_ms + i * 1000, SYMBOL, "live", view, market.book.update_id)
        cpu_started = time.thread_time()
        await listener.on_cycle(cycle)
        cpu = (time.thread_time() - cpu_started) * 1000
        t = listener.timings
        if i == 0:
            samples.first_loop = t.loop_ms
            continue
        samples.loop.append(t.loop_ms)
        samples.follow.append(t.follow_ms)
        samples.measure.append(t.measure_ms)
        samples.publish.append(t.publish_ms)
        samples.cpu.append(cpu)
        samples.pushed.append(t.pushed)
        samples.measured.append(t.measured)
        samples.writes.append(t.writes)
        samples.reread.append(reread_cycle(view, listener))
        if i <= PLAIN_CYCLES:
            samples.plain.append(plain_cycle(view, listener, listener.blocks.blocks or []))
        samples.levels = listener.follower.book.level_count if listener.follower.book else 0
    stop.set()
    client_task.cancel()
    return samples


def med(values: list[Any]) -> float:
    return statistics.median(values) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=120)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--within-pct",
        type=float,
        default=1.2,
        help="block centres within this percent of mid (1.2: crowded)",
    )
    args = parser.parse_args(argv)
    if args.cycles <= 0 or args.blocks <= 0:
        parser.error("--cycles and --blocks must be positive")
    with tempfile.TemporaryDirectory() as directory:
        setup_django(directory, settle_gc=True)
        sys.stderr.write(f"confluence: {args.cycles} cycles, {args.blocks} blocks...\n")
        s = asyncio.run(run(args.cycles, args.blocks, args.seed, args.within_pct))
    held = med(s.loop)
    print(
        f"confluence cycle, milliseconds ({args.blocks} active blocks centred within {args.within_pct:g} % of "
        f"mid, defaults; median over {args.cycles} cycles)"
    )
    rows = [
        ("loop held", med(s.loop), max(s.loop)),
        ("  following the logged writes", med(s.follow), max(s.follow)),
        ("  measuring every block", med(s.measure), max(s.measure)),
        ("  what changed, JSON, push", med(s.publish), max(s.publish)),
        ("CPU of on_cycle (incl. worker threads' share seen here)", med(s.cpu), max(s.cpu)),
        ("baseline: re-read the band + measure", med(s.reread), max(s.reread)),
        (f"baseline: plain Decimal rules ({len(s.plain)} cycles)", med(s.plain), max(s.plain, default=0.0)),
    ]
    print(f"{'':<58} {'median':>8} {'max':>8}")
    for name, median, worst in rows:
        print(f"{name:<58} {median:>8.3f} {worst:>8.3f}")
    print(
        f"\nblocks measured per cycle: median {med(s.measured):.0f}; pushed per cycle: median "
        f"{med(s.pushed):.0f}, max {max(s.pushed)}, total {sum(s.pushed)} over {len(s.pushed)} cycles; "
        f"level writes per cycle: median {med(s.writes):.0f}; levels followed: {s.levels}"
    )
    print(
        f"first cycle (the band copied out of the view; converted on a worker thread): loop held {s.first_loop:.2f} ms"
    )
    print(
        f"x faster than re-reading: {med(s.reread) / max(held, 1e-9):.1f}; "
        f"than the plain rules: {med(s.plain) / max(held, 1e-9):.0f}"
    )
    verdict = "OK" if held < BUDGET_MS else "OVER BUDGET"
    print(
        f"\nevent-loop time at defaults: median {held:.3f} ms, max {max(s.loop):.3f} ms "
        f"(budget {BUDGET_MS:g} ms): {verdict}"
    )
    return 0 if held < BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
