"""Wire benchmark: the cost of parsing what Binance sends, on the streamer's hot path.

    python -m bench.wire [--frames 200] [--repeat 150] [--against REV]

- `classify_frame` on combined-stream depthUpdate frames shaped like the simulator's (1-10 levels
  per side, 8-decimal strings) and on aggTrade frames: microseconds per frame, with `json.loads`
  of the same frames alone as the floor (what any parser pays before it looks at a field);
- `parse_snapshot` of a decoded 5000-levels-per-side REST depth snapshot: milliseconds.
Figures are the best of --repeat short batches in one process, as timeit reports (the box is shared:
the fastest batch is the least disturbed one), every case once per round, interleaved. `--against
REV` also loads apps/book/domain/wire.py of that git revision and times it in the same rounds: the
time ratios it adds are the before/after figures, far steadier than two runs compared.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from apps.book.domain import wire as current_wire
from bench.figures import Figure, print_figures
from bench.processes import REPO

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


def wire_at(revision: str) -> ModuleType:
    """apps/book/domain/wire.py as it was at a git revision, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{revision}:apps/book/domain/wire.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = f"bench_wire_at_{revision.replace('~', '_').replace('^', '_')}"
    module = ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:apps/book/domain/wire.py", "exec"), module.__dict__)
    return module


Case = tuple[Callable[[], object], int]  # (run a batch, items in it)


def best_per_item(cases: dict[str, Case], rounds: int) -> dict[str, float]:
    """Seconds per item of each case: the best of `rounds` short batches, the cases interleaved
    round by round so a busy moment of the box hits them alike. GC runs between rounds only."""
    best = dict.fromkeys(cases, math.inf)
    gc.collect()
    gc.disable()
    try:
        for round_number in range(rounds):
            for name, (batch, items) in cases.items():
                start = time.perf_counter()
                batch()
                best[name] = min(best[name], (time.perf_counter() - start) / items)
            if round_number % 10 == 9:
                gc.collect()
    finally:
        gc.enable()
    return best


def wire_cases(
    wire: Any, label: str, depth: list[str], trades: list[str], snapshot: dict[str, Any]
) -> dict[str, Case]:
    classify, parse = wire.classify_frame, wire.parse_snapshot
    for frame in depth[:100] + trades[:100]:  # the frames are what the parser accepts
        assert type(classify(frame, SYMBOL)).__name__ in ("DepthEvent", "Trade"), (label, frame)

    def frames_of(frames: list[str]) -> Case:
        def batch() -> None:
            for frame in frames:
                classify(frame, SYMBOL)

        return batch, len(frames)

    return {
        f"{label} depth": frames_of(depth),
        f"{label} trade": frames_of(trades),
        f"{label} snapshot": (lambda: parse(snapshot), 1),
    }


def decode_case(frames: list[str]) -> Case:
    def batch() -> None:
        for frame in frames:
            json.loads(frame)

    return batch, len(frames)


def run(frames_count: int, repeat: int, against: str | None = None) -> list[Figure]:
    rng = random.Random(11)
    depth = depth_frames(frames_count, rng)
    trades = trade_frames(frames_count, rng)
    snapshot = snapshot_payload(5000, rng)
    cases = wire_cases(current_wire, "now", depth, trades, snapshot)
    cases.update({"json depth": decode_case(depth), "json trade": decode_case(trades)})
    if against is not None:
        cases.update(wire_cases(wire_at(against), against, depth, trades, snapshot))
    print(f"  {len(cases)} cases interleaved, {repeat} rounds...", file=sys.stderr)
    best = best_per_item(cases, repeat)
    figures = [
        Figure(
            "wire",
            "classify_frame, depthUpdate (us/frame)",
            best["now depth"] * 1e6,
            f"json.loads alone {best['json depth'] * 1e6:.2f}",
            None,
            2,
        ),
        Figure(
            "wire",
            "classify_frame, aggTrade (us/frame)",
            best["now trade"] * 1e6,
            f"json.loads alone {best['json trade'] * 1e6:.2f}",
            None,
            2,
        ),
        Figure(
            "wire",
            "parse_snapshot, 5000 levels/side (ms)",
            best["now snapshot"] * 1e3,
            "decoded body, no JSON",
            None,
            2,
        ),
    ]
    if against is not None:
        for what in ("depth", "trade", "snapshot"):
            figures.append(
                Figure(
                    "wire",
                    f"{what}: now / {against} (time ratio)",
                    best[f"now {what}"] / best[f"{against} {what}"],
                    "same process, interleaved",
                    None,
                    3,
                )
            )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=200, help="frames per batch")
    parser.add_argument("--repeat", type=int, default=150, help="rounds (each case once per round)")
    parser.add_argument(
        "--against", metavar="REV", help="also time wire.py of this git revision, interleaved"
    )
    args = parser.parse_args(argv)
    title = f"wire benchmark ({args.frames:,} frames a batch, best of {args.repeat})"
    print_figures(run(args.frames, args.repeat, args.against), title=title)


if __name__ == "__main__":
    main()
