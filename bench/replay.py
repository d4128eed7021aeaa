"""Replay at full speed, and what recording costs a live service.

    python -m bench.replay [--record-seconds 120] [--repeat 3] [--cpu-minutes 2] [--cpu-pairs 1]

1. Throughput: a session recorded from the simulator (a depth event every 20 ms, each the size of its
   100 ms events: five times the events per recorded second; --record-seconds) is
   replayed at ``--speed max`` to the whole service as `serve --replay` builds it (the streamer with
   its zone, order-block, heatmap and intraday listeners, the database publisher, the broadcaster;
   SQLite), and, as the baseline in the same process, to the book alone (the streamer without
   listeners or publisher). Depth events (and all frames) applied per second of wall time, from the
   first frame sent until the book holds the recording's last update id; median of --repeat runs each.
2. Record overhead: two stacks at once (binance_sim + `serve`, as bench/cpu_hour.py starts them), one
   with RECORD_DIR; the CPU of each `serve` over the same --cpu-minutes after a 15 s warm-up (the
   same load for both: this machine is shared), --cpu-pairs times. Goal: < 10 % more. The recorder's
   writer thread also counts its own CPU time (/api/health `stream.recording.writer_cpu_s`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.django_setup import setup_django
from bench.figures import Figure, print_figures
from bench.stack import load_text, progress

GOAL_RECORD_OVERHEAD = 0.10


@dataclass
class Throughput:
    seconds: float
    depth_events: int
    frames: int
    cpu_s: float

    @property
    def events_per_s(self) -> float:
        return self.depth_events / self.seconds

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds


async def record_session(out: Path, seconds: float) -> None:
    """The real streamer on the simulator with a recorder, as with RECORD_DIR."""
    from apps.book.services.streamer import OrderBookStreamer, StreamerSettings
    from apps.recording.services.recorder import FileRecorder
    from apps.simulator.server import BinanceSimulator

    async with BinanceSimulator(depth_interval_s=0.02, seed=1) as sim:
        recorder = FileRecorder(out, symbol="BTCEUR", snapshot_limit=5000, directory=True)
        settings = StreamerSettings(ws_url=sim.ws_url, rest_url=sim.rest_url, symbol="BTCEUR")
        streamer = OrderBookStreamer(settings, tap=recorder)
        task = asyncio.create_task(streamer.run())
        await asyncio.sleep(seconds)
        streamer.stop()
        await task


async def replay_once(recording: Any, whole_service: bool) -> Throughput:
    from django.conf import settings

    from apps.book.services.streamer import OrderBookStreamer, StreamerSettings
    from apps.live.runtime import build_streamer
    from apps.simulator.replay.server import ReplayServer

    last_id = recording.depth["BTCEUR"][-1].final_id
    async with ReplayServer(recording, speed=None) as replay:
        overrides = {"ws_url": replay.ws_url, "rest_url": replay.rest_url}
        if whole_service:
            streamer = build_streamer(settings.CONFIG, **overrides)
        else:
            streamer = OrderBookStreamer(StreamerSettings.from_config(settings.CONFIG, **overrides))
        task = asyncio.create_task(streamer.run())
        await replay.feed.started.wait()
        started, cpu = time.perf_counter(), time.process_time()
        while streamer.sync.book.update_id < last_id:
            await asyncio.sleep(0.002)  # the book's id moves with every event: polled finely
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        frames = sum(streamer.frames.values())
        events = streamer.sync.events_applied
        streamer.stop()
        await task
    return Throughput(seconds, events, frames, cpu_s)


def throughput(record_seconds: float, repeat: int, workdir: Path) -> dict[str, list[Throughput]]:
    from apps.recording.services.files import load_recording

    out = workdir / "recording"
    progress(f"replay: recording {record_seconds:g} s of the simulator")
    asyncio.run(record_session(out, record_seconds))
    recording = load_recording([out])
    runs: dict[str, list[Throughput]] = {"book alone": [], "whole service": []}
    for round_ in range(repeat):
        for name in runs:
            progress(f"replay: {name} at max speed, run {round_ + 1}/{repeat}")
            runs[name].append(asyncio.run(replay_once(recording, name == "whole service")))
    return runs


@dataclass
class Overhead:
    """serve with and without RECORD_DIR, side by side over the same minutes (the same load)."""

    seconds: float
    without_cpu_s: float
    with_cpu_s: float
    writer_cpu_s: float  # the recorder's writer thread, as it reports itself
    recording: dict[str, Any]

    def per_hour(self, cpu_s: float) -> float:
        return cpu_s / self.seconds * 3600

    @property
    def more(self) -> float:
        return self.with_cpu_s / self.without_cpu_s - 1


def record_overhead(minutes: float, workdir: Path) -> Overhead:
    """Two stacks at once (binance_sim + serve each), one with RECORD_DIR; their serve CPU over the
    same window after a warm-up."""
    from bench.processes import cpu_seconds
    from bench.stack import ServiceStack

    with ServiceStack() as plain, ServiceStack(env={"RECORD_DIR": str(workdir / "live")}) as recording:
        assert plain.serve is not None and recording.serve is not None
        progress(f"replay: live CPU with and without RECORD_DIR, side by side, {minutes:g} min")
        time.sleep(15)
        writer_start = recording.health()["stream"]["recording"]["writer_cpu_s"]
        start = (cpu_seconds(plain.serve.pid), cpu_seconds(recording.serve.pid), time.monotonic())
        time.sleep(minutes * 60)
        end = (cpu_seconds(plain.serve.pid), cpu_seconds(recording.serve.pid), time.monotonic())
        section = recording.health()["stream"]["recording"]
    return Overhead(
        end[2] - start[2],
        end[0] - start[0],
        end[1] - start[1],
        section["writer_cpu_s"] - writer_start,
        section,
    )


def print_throughput(runs: dict[str, list[Throughput]]) -> None:
    print(f"\nreplay at max speed (median of {len(runs['book alone'])}; load average {load_text()})")
    header = (
        f"{'consumer':<16} {'depth events/s':>15} {'per CPU-s':>10} {'frames/s':>10} {'wall s':>8} "
        f"{'CPU s':>7} {'events':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, results in runs.items():
        median = sorted(results, key=lambda r: r.events_per_s)[len(results) // 2]
        print(
            f"{name:<16} {median.events_per_s:>15,.0f} {median.depth_events / median.cpu_s:>10,.0f} "
            f"{median.frames_per_s:>10,.0f} {median.seconds:>8.2f} {median.cpu_s:>7.2f} {median.depth_events:>8,}"
        )


def figures(runs: dict[str, list[Throughput]], overheads: list[Overhead]) -> list[Figure]:
    book = statistics.median(r.events_per_s for r in runs["book alone"])
    whole = statistics.median(r.events_per_s for r in runs["whole service"])
    whole_cpu = statistics.median(r.depth_events / r.cpu_s for r in runs["whole service"])
    result = [
        Figure(
            "replay", "max speed, whole service: depth events/s", whole, f"book alone {book:,.0f}/s", None, 0
        ),
        Figure("replay", "max speed, whole service / book alone", whole / book, "same run", None, 2),
        Figure(
            "replay",
            "max speed, whole service: depth events per CPU-s",
            whole_cpu,
            "load-independent",
            None,
            0,
        ),
    ]
    if overheads:
        more = statistics.median(o.more for o in overheads)
        without = statistics.median(o.per_hour(o.without_cpu_s) for o in overheads)
        writer = statistics.median(o.writer_cpu_s / o.without_cpu_s for o in overheads)
        result += [
            Figure(
                "replay",
                "RECORD_DIR: live CPU-s/hour more than without (%)",
                100 * more,
                f"goal < {100 * GOAL_RECORD_OVERHEAD:g} % (without {without:.1f})",
                more < GOAL_RECORD_OVERHEAD,
                1,
            ),
            Figure(
                "replay",
                "RECORD_DIR: the writer thread's CPU (% of serve)",
                100 * writer,
                "its own count",
                None,
                1,
            ),
        ]
    return result


def run(record_seconds: float, repeat: int, cpu_minutes: float, cpu_pairs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="lm-bench-replay-") as workdir:
        setup_django(workdir)
        runs = throughput(record_seconds, repeat, Path(workdir))
        print_throughput(runs)
        overheads = [record_overhead(cpu_minutes, Path(workdir) / f"pair-{i}") for i in range(cpu_pairs)]
    if overheads:
        print(f"\nlive CPU of serve with and without RECORD_DIR, side by side (load average {load_text()})")
        header = f"{'window':>7} {'without CPU-s/h':>16} {'with CPU-s/h':>13} {'more':>7} {'writer thread CPU-s/h':>22}"
        print(header)
        print("-" * len(header))
        for o in overheads:
            print(
                f"{o.seconds:>6.0f}s {o.per_hour(o.without_cpu_s):>16.1f} {o.per_hour(o.with_cpu_s):>13.1f} "
                f"{100 * o.more:>6.1f}% {o.per_hour(o.writer_cpu_s):>22.1f}"
            )
        last = overheads[-1].recording
        print(
            f"recording: {last['lines_written']:,} lines, {last['bytes_written']:,} bytes before gzip, "
            f"{last['lines_dropped']} dropped, {last['write_errors']} write errors"
        )
    return figures(runs, overheads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record-seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpu-minutes", type=float, default=2.0)
    parser.add_argument(
        "--cpu-pairs", type=int, default=1, help="side-by-side windows (0: no record overhead measurement)"
    )
    args = parser.parse_args(argv)
    print_figures(run(args.record_seconds, args.repeat, args.cpu_minutes, args.cpu_pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
