"""Order-block engine benchmark: a full computation over 100,000 hourly bars.

    python -m bench.orderblocks [--bars 100000] [--repeat 7] [--smc-repeat 3] [--seed 7]

Compares, on the same bars in the same run:

- engine            apps.orderblocks.domain.engine.detect_order_blocks on float64 arrays: ATR(14),
                    fractal swings, BOS, displacement, OB selection and every block's status;
- engine + records  the same from Decimal Bars to stored-row records (float conversion, exact
                    decimal prices picked back from the bars) - what a full run does after loading;
- hourly window     the incremental run's computation: the engine on OB_WARMUP_BARS + 1 bars;
- smc (baseline)    smartmoneyconcepts 0.0.27: smc.swing_highs_lows(swing_length=3) + smc.ob() on a
                    pandas DataFrame of the same bars (its rules differ: the block counts are context).

Bars: a seeded random walk around 30,000 with 0.01 ticks, bodies and wicks of realistic size and
occasional impulsive candles. Figures are medians of the repeats; "x faster" is smc's median over
the row's median. Goals: engine at least 50x faster than smc and under 200 ms. Progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

GOAL_RATIO = 50.0
GOAL_MS = 200.0
HOUR_MS = 3_600_000


def progress(message: str) -> None:
    sys.stderr.write(f"bench.orderblocks: {message}\n")
    sys.stderr.flush()


def make_bars(count: int, seed: int) -> dict[str, np.ndarray]:
    """Hourly OHLCV as float64 arrays on a 0.01 grid (exact decimals with two places)."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.normal(0, 0.0015, count // 50 + 1), 50)[:count]
    moves = rng.normal(drift, 0.005)
    impulses = rng.random(count) < 0.03
    moves[impulses] += rng.choice([-1, 1], impulses.sum()) * rng.uniform(0.01, 0.025, impulses.sum())
    close = 30_000 * np.exp(np.cumsum(moves))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0025, count)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0025, count)))

    def cents(x: np.ndarray) -> np.ndarray:
        return np.round(x * 100) / 100

    o, c = cents(open_), cents(close)
    return {
        "open": o,
        "high": np.maximum(cents(high), np.maximum(o, c)),
        "low": np.minimum(cents(low), np.minimum(o, c)),
        "close": c,
        "volume": np.round(rng.lognormal(3, 1, count), 5),
    }


def timed(fn: Callable[[], Any], repeat: int, label: str) -> tuple[list[float], Any]:
    times: list[float] = []
    result: Any = None
    for i in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
        progress(f"{label}: run {i + 1}/{repeat} {times[-1] * 1000:.1f} ms")
    return times, result


def run(bars: int = 100_000, repeat: int = 7, smc_repeat: int = 3, seed: int = 7) -> list[Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from apps.orderblocks.domain.blocks import order_blocks_for_bars
    from apps.orderblocks.domain.candles import Bar
    from apps.orderblocks.domain.engine import EngineParams, detect_order_blocks
    from bench.figures import Figure

    params = EngineParams()
    progress(f"generating {bars} hourly bars (seed {seed})")
    data = make_bars(bars, seed)
    o, h, lo, c = data["open"], data["high"], data["low"], data["close"]
    decimal_bars = [
        Bar(
            i * HOUR_MS,
            Decimal(f"{o[i]:.2f}"),
            Decimal(f"{h[i]:.2f}"),
            Decimal(f"{lo[i]:.2f}"),
            Decimal(f"{c[i]:.2f}"),
            Decimal(f"{data['volume'][i]:.5f}"),
        )
        for i in range(bars)
    ]
    window = 1001

    rows: list[tuple[str, list[float], int]] = []
    engine_times, detected = timed(lambda: detect_order_blocks(o, h, lo, c, params), repeat, "engine")
    rows.append(("engine", engine_times, len(detected)))
    record_times, records = timed(
        lambda: order_blocks_for_bars(decimal_bars, "BTCEUR", params), repeat, "engine + records"
    )
    rows.append(("engine + records", record_times, len(records)))
    window_times, window_blocks = timed(
        lambda: detect_order_blocks(o[-window:], h[-window:], lo[-window:], c[-window:], params),
        repeat * 5,
        "hourly window",
    )
    rows.append((f"hourly window ({window} bars)", window_times, len(window_blocks)))

    progress("importing smartmoneyconcepts (its banner goes to stderr)")
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        from smartmoneyconcepts.smc import smc

        frame = pd.DataFrame(data)

        def smc_ob() -> Any:
            swings = smc.swing_highs_lows(frame, swing_length=params.fractal_n)
            return smc.ob(frame, swings)

        progress(f"smc.swing_highs_lows + smc.ob on {bars} bars: each run takes seconds")
        smc_times, smc_result = timed(smc_ob, smc_repeat, "smc")
    smc_blocks = int(smc_result["OB"].notna().sum())
    rows.append(("smc (baseline)", smc_times, smc_blocks))

    smc_median = statistics.median(smc_times)
    print(
        f"\nOrder blocks: full computation on {bars:,} hourly bars (medians; smc = smartmoneyconcepts 0.0.27)"
    )
    header = (
        f"{'what':<26} {'median ms':>11} {'min ms':>10} {'runs':>5} {'blocks':>7} {'x faster than smc':>18}"
    )
    print(header)
    print("-" * len(header))
    for name, times, blocks in rows:
        median = statistics.median(times)
        ratio = smc_median / median
        print(
            f"{name:<26} {median * 1000:>11.1f} {min(times) * 1000:>10.1f} {len(times):>5} {blocks:>7} {ratio:>18.1f}"
        )

    engine_ms = statistics.median(engine_times) * 1000
    ratio = smc_median / statistics.median(engine_times)
    figures = [
        Figure(
            "orderblocks",
            f"engine, {bars} bars, median (ms)",
            engine_ms,
            f"goal < {GOAL_MS:.0f} ms",
            engine_ms < GOAL_MS,
        ),
        Figure(
            "orderblocks",
            "engine vs smc.ob (x faster)",
            ratio,
            f"goal >= {GOAL_RATIO:.0f}x",
            ratio >= GOAL_RATIO,
        ),
        Figure(
            "orderblocks", "smc swing_highs_lows + ob median (ms)", smc_median * 1000, "baseline, same run"
        ),
        Figure(
            "orderblocks",
            "engine + records median (ms)",
            statistics.median(record_times) * 1000,
            "Decimal bars -> rows",
        ),
        Figure(
            "orderblocks",
            f"hourly window ({window} bars) median (ms)",
            statistics.median(window_times) * 1000,
            "incremental run",
        ),
    ]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7, help="runs of each engine row (median reported)")
    parser.add_argument("--smc-repeat", type=int, default=3, help="runs of the smc baseline (seconds each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.bars < 100 or args.repeat < 1 or args.smc_repeat < 1:
        parser.error("--bars must be >= 100 and the repeats >= 1")
    from bench.figures import print_figures

    figures = run(args.bars, args.repeat, args.smc_repeat, args.seed)
    print_figures(figures)
    return 0 if all(f.ok is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
