"""Heatmap benchmark: cost per publication cycle, /api/heatmap answers, database bytes per day.

    python -m bench.heatmap [--cycles 180] [--requests 40] [--seed 7] [--cycle-only]

Runs in its own process with a throw-away SQLite database (migrated first):

- cycle: the real ``HeatmapListener`` on a realistic book (bench.zones' ``Market``: ~5000 levels a
  side at tick 0.01 around 87,000, ~2,700 of them within +-2 %), cycles 1 s apart, the defaults
  (bin 50, +-2 %, 60 s columns); "defaults": ~110 level writes between cycles (the simulator's rate,
  an upper bound for BTC/EUR), "busy book": ~200 (the zones bench's), "falling": the defaults' rate
  while the mid falls 8.70 a second (the band keeps leaving the binned book's window: the cycles that
  widen it, and those that bin the book afresh around the band, are counted and timed apart); the
  depth push, its row and the column writes are real (the in-memory channel layer with one
  subscriber, the SQLite database). "loop held" is the time the event loop was not free (the
  listener's ``timings.loop_ms``: all its synchronous work; database writes, finishing a column and
  binning the book afresh run on worker threads). Baseline in the same run: re-reading and binning the +-2 % band of the book every cycle
  (``levels_between`` + ``heatmap_bin_of`` per level), what a listener without the book's change log
  would do. Budget: median loop held < 0.5 ms at the defaults.
- database: one day of columns at the defaults (1,440 rows, ~36 bins a side) written into the
  database; bytes = growth of the SQLite file (page_count x page_size) after VACUUM, per day and for
  HEATMAP_RETENTION_H (168 h). Budget: <= 20 MB for 7 days.
- zone history: the two ways to answer /api/zones/history over a day, timed on the same rows: a
  query deriving it from orderbook_zones_history (every state change) vs orderbook_zones_ended
  (one row per ended zone, what the service does).
- api: 7 days of columns (10,080 rows; simulated, moving along a random walk), then a real
  ``manage.py serve --no-stream`` on the database answers GET /api/heatmap for 24 h at 60 s and for
  7 days at 1 h, ``--requests`` times each over one keep-alive connection with
  ``Accept-Encoding: gzip`` (time to the last byte, bench.rest_load's raw HTTP/1.1 client: nothing
  decoded): the first request (cold: nothing formatted yet in that process) and p50/p99/max of the
  others (warm), bytes sent (gzip) and of the JSON. "cold in-process" builds the answer with
  nothing formatted (the per-process fragment cache cleared each time). Goal: p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.django_setup import setup_django
from bench.percentiles import Distribution
from bench.processes import ServiceProcess, free_port, manage_argv

BUDGET_MS = 0.5
API_GOAL_MS = 50.0
DB_BUDGET_7D = 20 * 1024 * 1024
SYMBOL = "BTCEUR"


# -- cycle cost ----------------------------------------------------------------------------------


def reread_cycle(view: Any, params: Any) -> int:
    """The baseline: bin the +-2 % band by reading every level of it this cycle."""
    from apps.book.domain.events import Side
    from apps.heatmap.domain.grid import heatmap_bin_of, trusted_bins

    bid, ask = view.best_bid()[0], view.best_ask()[0]
    spans = trusted_bins(bid, ask, view.trusted_window, params)
    size = params.bin_size
    sums: dict[tuple[Side, int], Decimal] = {}
    for side, span in ((Side.BID, spans.bid), (Side.ASK, spans.ask)):
        for price, qty in view.levels_between(side, span.first * size, (span.last + 1) * size):
            key = (side, heatmap_bin_of(price, size))
            sums[key] = sums.get(key, Decimal(0)) + qty
    return len(sums)


SCENARIOS = {
    # (level changes a side, cents the mid falls a cycle). ~110 level writes a cycle: the
    # simulator's rate (~10.7 changes per 100 ms event), an upper bound for BTC/EUR
    # (docs/benchmarks.md); "busy": the zones bench's ~200 a cycle; "falling": the defaults' rate
    # while the price falls 8.70 a second (0.6 % a minute, a fast move): the band keeps leaving the
    # binned book's window (widened, and now and then binned afresh around the band)
    "defaults": (55, 0),
    "busy book": (100, 0),
    "falling": (55, 870),
}


def falling_market(rng: random.Random, cents_per_step: int) -> Any:
    """bench.zones' Market whose mid falls ``cents_per_step`` each step: bids at or above the new mid
    are taken, new levels come around it."""
    from bench.zones import MID_CENTS, Market, quantity

    class FallingMarket(Market):
        mid_cents = MID_CENTS

        def step(self, changes: int) -> None:
            if not cents_per_step:
                super().step(changes)
                return
            self.mid_cents -= cents_per_step
            mid = Decimal(self.mid_cents) / 100
            swept = [p for p in self.prices[0] if p >= mid]
            self.prices[0] = [p for p in self.prices[0] if p < mid]
            updates: list[list[Any]] = [[(p, Decimal(0)) for p in swept], []]
            for s, sign in ((0, -1), (1, 1)):
                prices = self.prices[s]
                for _ in range(changes):
                    roll = self.rng.random()
                    if roll < 0.5:
                        updates[s].append((self.rng.choice(prices), quantity(self.rng)))
                    elif roll < 0.75 and len(prices) > 100:
                        updates[s].append((prices.pop(self.rng.randrange(len(prices))), Decimal(0)))
                    else:
                        price = Decimal(self.mid_cents + sign * self.offset()) / 100
                        prices.append(price)
                        updates[s].append((price, quantity(self.rng)))
            bids, asks = list(dict(updates[0]).items()), list(dict(updates[1]).items())
            self.prices = [list(dict.fromkeys(p)) for p in self.prices]
            self.book.apply(self.book.update_id + 1, bids, asks)

    return FallingMarket(rng, None)


async def cycle_cost(cycles: int, seed: int, changes_per_side: int, fall_cents: int = 0) -> dict[str, Any]:
    from apps.book.domain.snapshot_view import BookSnapshotView
    from apps.book.services.cycle import PublishCycle
    from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
    from apps.heatmap.services.live import HeatmapListener
    from apps.overlays.broadcast import OverlayBroadcaster
    from apps.zones.services.live import ZoneCycleListener
    from project.config import load_config

    market = falling_market(random.Random(seed), fall_cents)
    layer = ThrottledInMemoryChannelLayer()  # the service's in-memory layer
    broadcaster = OverlayBroadcaster(SYMBOL, layer=layer)
    channel = await layer.new_channel()
    await layer.group_add(broadcaster.group, channel)
    listener = HeatmapListener(load_config({}), broadcaster)
    zones = ZoneCycleListener(load_config({"SYMBOL": "BENCHZ"}), None)  # the same-run reference
    stop = asyncio.Event()

    async def client() -> None:  # a subscriber, so every push really is delivered
        while not stop.is_set():
            await layer.receive(channel)

    client_task = asyncio.create_task(client())
    loop, cpu, follow, writes, reread, finishing, accumulate, push, zone_loop = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    widened: list[float] = []  # loop held in cycles that widened the binned book's window
    recentred: list[float] = []  # ... that binned the book afresh around the band (not the first)
    first, window = None, None
    start_ms = 1_796_162_400_000 + 30_000  # half-way through a column
    for i in range(cycles + 3):
        market.step(changes_per_side)
        view = BookSnapshotView.capture(market.book)
        cycle = PublishCycle(start_ms + i * 1000, SYMBOL, "live", view, market.book.update_id)
        await zones.on_cycle(cycle)  # as in the service: zones first, the heatmap after
        cycle = PublishCycle(
            cycle.now_ms, SYMBOL, "live", BookSnapshotView.capture(market.book), market.book.update_id
        )
        written, binned = listener.columns_written, listener.binned
        cpu_started = time.thread_time()
        await listener.on_cycle(cycle)
        cpu_ms = (time.thread_time() - cpu_started) * 1000
        t = listener.timings
        if i == 0:
            first = t
        elif t.rebuilt:
            recentred.append(t.loop_ms)
        elif listener.binned is binned and binned is not None and binned.window != window:
            widened.append(t.loop_ms)
        window = listener.binned.window if listener.binned is not None else None
        started = time.perf_counter()
        reread_cycle(BookSnapshotView.capture(market.book), listener.params)
        reread_ms = (time.perf_counter() - started) * 1000
        if i < 3:
            continue
        loop.append(t.loop_ms)
        zone_loop.append(zones.timings.loop_ms)
        cpu.append(cpu_ms)
        follow.append(t.follow_ms)
        accumulate.append(t.accumulate_ms)
        push.append(t.push_ms)
        writes.append(t.writes)
        reread.append(reread_ms)
        if listener.columns_written > written:
            finishing.append(t.loop_ms)
    stop.set()
    client_task.cancel()
    assert first is not None
    return {
        "levels": sum(1 for _ in market.book.levels_between(*_band(market.book))),
        "loop": loop,
        "cpu": cpu,
        "zones": zone_loop,
        "follow": follow,
        "accumulate": accumulate,
        "push": push,
        "writes": writes,
        "reread": reread,
        "finishing": finishing,
        "first_loop": first.loop_ms,
        "columns": listener.columns_written,
        "widened": widened,
        "recentred": recentred,
    }


def _band(book: Any) -> tuple[Any, Decimal, Decimal]:
    from apps.book.domain.events import Side

    best = book.best_bid()[0]
    return Side.BID, best * Decimal("0.98"), best


# -- stored columns, database bytes, zone history ------------------------------------------------


def synthetic_columns(start_s: int, end_s: int, seed: int) -> list[Any]:
    """Columns at the defaults from the bench book, along a random walk of hourly candles."""
    from apps.heatmap.domain.grid import HeatmapParams
    from apps.live.demo_heatmap import simulated_columns
    from apps.simulator.klines import HOUR_MS, Candle
    from bench.zones import Market

    rng = random.Random(seed)
    book = Market(rng, None).book
    from apps.book.domain.events import Side

    bids = book.top(Side.BID, book.depth(Side.BID))
    asks = book.top(Side.ASK, book.depth(Side.ASK))
    candles, price = [], 8_700_000
    for open_ms in range((start_s * 1000) - (start_s * 1000) % HOUR_MS, end_s * 1000 + HOUR_MS, HOUR_MS):
        close = max(100_000, int(price * (1 + rng.gauss(0, 0.004))))
        high, low = max(price, close) + rng.randint(0, 20_000), min(price, close) - rng.randint(0, 20_000)
        candles.append(Candle(open_ms, price, high, low, close, 1, 1, 1, 0, 0, 1, 1, True))
        price = close
    return simulated_columns((bids, asks), candles, HeatmapParams(), start_s, end_s, seed=seed)


def sqlite_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM")
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute("PRAGMA page_size")
        return int(pages * cursor.fetchone()[0])


def write_columns(columns: list[Any]) -> None:
    from apps.heatmap.domain.packing import stored_row
    from apps.heatmap.services import store

    store.write_columns(SYMBOL, Decimal(50), 60, [stored_row(c) for c in columns])


def database_bytes(now_s: int, seed: int) -> dict[str, Any]:
    """Bytes of one day of columns; then the other six days are added (for the API part)."""
    day_end = now_s - now_s % 60
    before = sqlite_bytes()
    columns = synthetic_columns(day_end - 86_400, day_end, seed)
    write_columns(columns)
    per_day = sqlite_bytes() - before
    bins = statistics.median(c.bid.count + c.ask.count for c in columns)
    write_columns(synthetic_columns(day_end - 7 * 86_400, day_end - 86_400, seed + 1))
    return {"per_day": per_day, "bins_per_column": bins, "columns_per_day": len(columns)}


def zone_history_queries(now_ms: int, seed: int) -> dict[str, float]:
    """Median ms of answering a day of zone history: derived from the state changes vs the table."""
    from django.db.models import Max, Min

    from apps.zones.models import ZoneEnded, ZoneHistory

    rng = random.Random(seed)
    history, ended = [], []
    for z in range(2000):  # 2,000 zones ended in the day, ~150 stored states each (300,000 rows)
        first = now_ms - 86_400_000 + z * 40_000
        zone_id = f"{SYMBOL}:bid:{80000 + z}-{80050 + z}"
        base = dict(symbol=SYMBOL, side="bid", price_low=Decimal(80000 + z), price_high=Decimal(80050 + z))
        for k in range(150):
            status = "pulled" if k == 149 else "candidate"
            history.append(
                ZoneHistory(
                    zone_id=zone_id,
                    ts_ms=first + k * 1000,
                    notional=Decimal(rng.randint(10**5, 10**6)),
                    strength=rng.uniform(4, 12),
                    persistence_s=k,
                    status=status,
                    first_seen_ts_ms=first,
                    last_seen_ts_ms=first + k * 1000,
                    book_update_id=k,
                    **base,
                )
            )
        ended.append(
            ZoneEnded(
                zone_id=zone_id,
                status="pulled",
                end_reason="pulled",
                peak_notional=Decimal(10**6),
                peak_strength=12.0,
                first_seen_ts_ms=first,
                last_seen_ts_ms=first + 148_000,
                ended_ts_ms=first + 149_000,
                **base,
            )
        )
    ZoneHistory.objects.bulk_create(history, batch_size=5000)
    ZoneEnded.objects.bulk_create(ended, batch_size=5000)
    since = now_ms - 86_400_000

    def derived() -> int:
        ended_ids = ZoneHistory.objects.filter(
            symbol=SYMBOL, ts_ms__gte=since, status__in=["broken", "pulled", "merged"]
        ).values("zone_id")
        rows = (
            ZoneHistory.objects.filter(zone_id__in=ended_ids)
            .values("zone_id", "first_seen_ts_ms")
            .annotate(
                peak=Max("notional"),
                strength=Max("strength"),
                last=Max("last_seen_ts_ms"),
                low=Min("price_low"),
            )
        )
        return len(list(rows))

    def table() -> int:
        return len(
            list(ZoneEnded.objects.filter(symbol=SYMBOL, ended_ts_ms__gte=since).order_by("ended_ts_ms"))
        )

    timings = {}
    for name, query in (("derived", derived), ("table", table)):
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            count = query()
            samples.append((time.perf_counter() - started) * 1000)
        assert count == 2000, (name, count)
        timings[name] = statistics.median(samples)
    return timings


# -- the API through a real server ---------------------------------------------------------------


def api_answers(url: str, directory: str, now_s: int, requests: int) -> dict[str, dict[str, Any]]:
    import httpx

    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    serve = ServiceProcess(
        "serve", manage_argv("serve", "--no-stream", "--port", str(port)), env, Path(directory)
    )
    serve.start()
    results = {}
    try:
        base = f"http://127.0.0.1:{port}"
        serve.wait_http(f"{base}/api/schema", timeout=120)
        end = now_s - now_s % 60 - 60
        cases = {
            "24 h at 60 s": {"from": end - 86_400 + 60, "to": end, "resolution": 60},
            "7 days at 1 h": {"from": end - 7 * 86_400 + 60, "to": end, "resolution": 3600},
        }
        for name, params in cases.items():
            path = "/api/heatmap?" + "&".join(f"{k}={v}" for k, v in params.items())
            samples, sent = asyncio.run(timed_gets(port, path, requests))
            answer = httpx.get(base + path, timeout=60)  # identity: the JSON itself
            results[name] = {
                "cold": samples[0],
                "warm": Distribution.of(samples[1:]),
                "gzip_bytes": sent,
                "json_bytes": len(answer.content),
                "columns": len(answer.json()["columns"]),
                "in_process_cold": cold_in_process(params),
            }
    finally:
        serve.stop()
    return results


async def timed_gets(port: int, path: str, requests: int) -> tuple[list[float], int]:
    """Time to the last byte of each GET (gzip accepted, not decoded) over one keep-alive connection
    (bench.rest_load's raw HTTP/1.1 client: no HTTP library's decoding in the figure)."""
    from bench.rest_load import HttpConnection

    connection = HttpConnection("127.0.0.1", port)
    samples, size = [], 0
    try:
        for _ in range(requests):
            started = time.perf_counter()
            status, _, size = await connection.get(path, {"Accept-Encoding": "gzip"})
            samples.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
    finally:
        await connection.close()
    return samples, size


def cold_in_process(params: dict[str, int]) -> float:
    """Median ms of building the answer with nothing formatted yet (cache cleared each time)."""
    from apps.heatmap.answer import HeatmapQuery, fragments, heatmap_answer

    query = HeatmapQuery(SYMBOL, Decimal(50), 60, params["from"], params["to"], params["resolution"])
    samples = []
    for _ in range(3):
        fragments.clear()
        started = time.perf_counter()
        heatmap_answer(query)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


# -- report --------------------------------------------------------------------------------------


def print_cycles(costs: dict[str, dict[str, Any]]) -> None:
    med = statistics.median
    print("heatmap cycle, milliseconds (median over cycles; max = worst cycle)")
    header = (
        f"{'scenario':<10} {'levels':>6} {'writes':>6} {'follow':>7} {'accum':>6} {'push':>6} {'loop':>6} "
        f"{'max':>6} {'CPU':>6} {'column':>7} {'first':>6} {'re-read':>8} {'x':>5} {'zones':>6} {'/zones':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, c in costs.items():
        loop = med(c["loop"])
        print(
            f"{name:<10} {c['levels']:>6} {med(c['writes']):>6.0f} {med(c['follow']):>7.3f} "
            f"{med(c['accumulate']):>6.3f} {med(c['push']):>6.3f} {loop:>6.3f} {max(c['loop']):>6.3f} "
            f"{med(c['cpu']):>6.3f} {max(c['finishing'], default=float('nan')):>7.3f} {c['first_loop']:>6.3f} "
            f"{med(c['reread']):>8.3f} {med(c['reread']) / max(loop, 1e-9):>5.1f} {med(c['zones']):>6.3f} "
            f"{loop / max(med(c['zones']), 1e-9):>6.2f}"
        )
    for name, c in costs.items():
        if c["widened"] or c["recentred"]:
            print(
                f"{name}: window widened in {len(c['widened'])} cycles (loop held median "
                f"{med(c['widened'] or [math.nan]):.3f}, max {max(c['widened'], default=math.nan):.3f} ms), "
                f"book binned afresh around the band in {len(c['recentred'])} (loop held max "
                f"{max(c['recentred'], default=math.nan):.3f} ms)"
            )
    print(
        "levels = bid levels within +-2 %; writes = level writes logged per cycle (the ones near the band\n"
        "followed); follow = the writes applied + the observed bins read; push = the depth push (and the\n"
        "column's when one ends); loop = event loop held; CPU = CPU time of the loop's thread in on_cycle;\n"
        "column = loop held in a cycle that ends a column (max; the column is finished on a worker thread);\n"
        "first = the first cycle (the book around the band binned on a worker thread);\n"
        "re-read = baseline, the +-2 % band read and binned every cycle; x = re-read / loop;\n"
        "zones = the zone listener's loop held on the same cycles (same-run reference: 1.23 ms at the\n"
        "defaults on a quiet machine in docs/benchmarks.md run 3); /zones = loop / zones."
    )


def report(
    costs: dict[str, dict[str, Any]], db: dict[str, Any], zones: dict[str, float], api: dict[str, Any]
) -> bool:
    print_cycles(costs)
    per_day = db["per_day"]
    print(
        f"\ndatabase: {per_day / 1e6:.2f} MB per day ({db['columns_per_day']} columns, median "
        f"{db['bins_per_column']:.0f} bins each), {per_day * 7 / 1e6:.1f} MB for 168 h (budget 20 MB)"
    )
    print(
        f"zone history over a day (2,000 ended zones, 300,000 stored states): derived from "
        f"orderbook_zones_history {zones['derived']:.1f} ms, orderbook_zones_ended {zones['table']:.1f} ms"
    )
    print(
        f"\n{'GET /api/heatmap':<16} {'columns':>7} {'cold':>7} {'p50':>7} {'p99':>7} {'max':>7} "
        f"{'gzip B':>9} {'JSON B':>10} {'cold in-proc':>12}"
    )
    for name, r in api.items():
        w = r["warm"]
        print(
            f"{name:<16} {r['columns']:>7} {r['cold']:>7.1f} {w.p50:>7.1f} {w.p99:>7.1f} {w.max:>7.1f} "
            f"{r['gzip_bytes']:>9,} {r['json_bytes']:>10,} {r['in_process_cold']:>12.1f}"
        )
    loops = costs["defaults"]["loop"]
    loop = statistics.median(loops)
    verdicts = [
        (
            "event-loop time at defaults",
            loop < BUDGET_MS,
            f"median {loop:.3f} ms, max {max(loops):.3f} ms (budget {BUDGET_MS} ms)",
        ),
        (
            "database",
            per_day * 7 <= DB_BUDGET_7D,
            f"{per_day:,} bytes per day, {per_day * 7 / 1e6:.1f} MB per 7 days (budget 20 MB)",
        ),
    ]
    for name, r in api.items():
        verdicts.append(
            (
                f"/api/heatmap {name}",
                r["warm"].p99 < API_GOAL_MS,
                f"p99 {r['warm'].p99:.1f} ms, {r['gzip_bytes']:,} bytes gzip (goal p99 < {API_GOAL_MS:g} ms)",
            )
        )
    print()
    for name, ok, text in verdicts:
        print(f"{name}: {text}: {'OK' if ok else 'OVER BUDGET'}")
    return all(ok for _, ok, _ in verdicts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=180)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cycle-only", action="store_true", help="only the cost per cycle (~20 s)")
    args = parser.parse_args(argv)
    if args.cycles <= 0 or args.requests < 2:
        parser.error("--cycles must be positive and --requests at least 2")
    with tempfile.TemporaryDirectory() as directory:
        url = setup_django(directory, settle_gc=True)
        sys.stderr.write(f"cycle cost ({args.cycles} cycles)...\n")
        costs = {
            name: asyncio.run(cycle_cost(args.cycles, args.seed, changes, fall))
            for name, (changes, fall) in SCENARIOS.items()
        }
        if args.cycle_only:
            print_cycles(costs)
            loops = costs["defaults"]["loop"]
            print(
                f"\nevent-loop time at defaults: median {statistics.median(loops):.3f} ms, max {max(loops):.3f} ms"
            )
            return 0
        now_s = int(time.time())
        sys.stderr.write("database bytes (1 day, then 7 days of columns)...\n")
        db = database_bytes(now_s, args.seed)
        sys.stderr.write("zone history queries...\n")
        zones = zone_history_queries(now_s * 1000, args.seed)
        sys.stderr.write(f"GET /api/heatmap through serve ({args.requests} requests each)...\n")
        api = api_answers(url, directory, now_s, args.requests)
    return 0 if report(costs, db, zones, api) else 1


if __name__ == "__main__":
    raise SystemExit(main())
