"""Wire benchmark: the cost of parsing what Binance sends, on the streamer's hot path.

    python -m bench.wire [--frames 20000] [--repeat 15]

- `classify_frame` on combined-stream depthUpdate frames shaped like the simulator's (1-10 levels
  per side, 8-decimal strings) and on aggTrade frames: microseconds per frame, with `json.loads`
  of the same frames alone as the floor (what any parser pays before it looks at a field);
- `parse_snapshot` of a decoded 5000-levels-per-side REST depth snapshot: milliseconds.
Figures are the best of --repeat runs in one process (as timeit reports: the box is shared and
the fastest run is the least disturbed one; results are not kept). Compare them across commits on
one machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from apps.book.domain.wire import classify_frame, parse_snapshot
from bench.figures import Figure, print_figures

SYMBOL = "BTCEUR"
MID_CENTS = 8_700_000


def _price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}000000"


def _qty(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return "0.00000000"
    steps = rng.randint(1, 500_000)
    return f"{steps // 100_000}.{steps % 100_000:05d}000"


def depth_frames(count: int, rng: random.Random) -> list[str]:
    frames = []
    update_id = 1_000_000
    for i in range(count):
        bids = [
            [_price(MID_CENTS - 1 - int(rng.expovariate(1 / 40))), _qty(rng)]
            for _ in range(rng.randint(1, 10))
        ]
        asks = [
            [_price(MID_CENTS + 1 + int(rng.expovariate(1 / 40))), _qty(rng)]
            for _ in range(rng.randint(1, 10))
        ]
        payload = {"e": "depthUpdate", "E": 1_700_000_000_000 + i * 100, "s": SYMBOL, "U": update_id + 1}
        update_id += rng.randint(1, 5)
        payload.update({"u": update_id, "b": bids, "a": asks})
        frames.append(json.dumps({"stream": "btceur@depth@100ms", "data": payload}, separators=(",", ":")))
    return frames


def trade_frames(count: int, rng: random.Random) -> list[str]:
    return [
        json.dumps(
            {
                "stream": "btceur@aggTrade",
                "data": {
                    "e": "aggTrade",
                    "E": 1_700_000_000_000 + i,
                    "s": SYMBOL,
                    "a": 5_000_000 + i,
                    "p": _price(MID_CENTS + rng.randint(-500, 500)),
                    "q": _qty(rng),
                    "f": 9_000_000 + i,
                    "l": 9_000_000 + i,
                    "T": 1_700_000_000_000 + i,
                    "m": rng.random() < 0.5,
                    "M": True,
                },
            },
            separators=(",", ":"),
        )
        for i in range(count)
    ]


def snapshot_payload(levels: int, rng: random.Random) -> dict[str, Any]:
    return {
        "lastUpdateId": 1_000_000,
        "bids": [[_price(MID_CENTS - 1 - i), _qty(rng)] for i in range(levels)],
        "asks": [[_price(MID_CENTS + 1 + i), _qty(rng)] for i in range(levels)],
    }


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return min(samples)


def run(frames_count: int, repeat: int) -> list[Figure]:
    rng = random.Random(11)
    depth = depth_frames(frames_count, rng)
    trades = trade_frames(frames_count, rng)
    snapshot = snapshot_payload(5000, rng)
    for frame in depth[:100] + trades[:100]:  # the frames are what the parser accepts
        assert type(classify_frame(frame, SYMBOL)).__name__ in ("DepthEvent", "Trade"), frame

    def classify(frames: list[str]) -> Callable[[], None]:
        def go() -> None:
            for frame in frames:
                classify_frame(frame, SYMBOL)

        return go

    def decode(frames: list[str]) -> Callable[[], None]:
        def go() -> None:
            for frame in frames:
                json.loads(frame)

        return go

    print("  depth frames...", file=sys.stderr)
    depth_us = timed(classify(depth), repeat) / frames_count * 1e6
    depth_floor_us = timed(decode(depth), repeat) / frames_count * 1e6
    print("  trade frames...", file=sys.stderr)
    trade_us = timed(classify(trades), repeat) / frames_count * 1e6
    trade_floor_us = timed(decode(trades), repeat) / frames_count * 1e6
    print("  5000-level snapshot...", file=sys.stderr)
    snapshot_ms = timed(lambda: parse_snapshot(snapshot), repeat) * 1e3
    return [
        Figure(
            "wire",
            "classify_frame, depthUpdate (us/frame)",
            depth_us,
            f"json.loads alone {depth_floor_us:.2f}",
            None,
            2,
        ),
        Figure(
            "wire",
            "classify_frame, aggTrade (us/frame)",
            trade_us,
            f"json.loads alone {trade_floor_us:.2f}",
            None,
            2,
        ),
        Figure(
            "wire", "parse_snapshot, 5000 levels/side (ms)", snapshot_ms, "decoded body, no JSON", None, 2
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    print_figures(run(args.frames, args.repeat), title=f"wire benchmark ({args.frames:,} frames)")


if __name__ == "__main__":
    main()
