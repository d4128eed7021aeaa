"""CPU cost of a live hour: CPU seconds per hour of `serve` following the simulator at 100 ms.

    python -m bench.cpu_hour [--minutes 5] [--warmup 20] [--profile]

Starts `binance_sim` (its own process, so its work is not counted) and `serve` (defaults: 100 ms
depth stream, 1 s publish cycle, zones, order blocks, SQLite), plus, as the baseline in the same
run, an idle web-only `serve --no-stream` on the same database. After --warmup seconds of live
streaming, reads utime+stime of each process from /proc/PID/stat every 10 s for --minutes and
extrapolates to an hour. No client is connected (the fan-out bench covers clients).
Goal: under 2 % of one core = 72 CPU-s per hour. With --profile, py-spy (pip install py-spy)
samples `serve` during the window and the functions that dominate are printed.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.figures import Figure, print_figures
from bench.percentiles import number
from bench.processes import MANAGE, PYTHON, ServiceProcess, cpu_seconds, free_port
from bench.stack import ServiceStack, load_text, progress

GOAL_CPU_S_PER_HOUR = 72.0
SAMPLE_EVERY_S = 10.0


@dataclass
class CpuResult:
    seconds: float
    serve_cpu_s: float
    idle_cpu_s: float
    sim_cpu_s: float
    windows: list[float]  # serve CPU-s/hour of each 10 s window
    load_before: str
    load_after: str
    published: int
    events_applied: int
    profile: list[str] = field(default_factory=list)

    def per_hour(self, cpu_s: float) -> float:
        return cpu_s / self.seconds * 3600


IDLE_FRAMES = (
    "select (selectors.py",
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "_wait_for_tstate_lock (threading.py",
    "_worker (concurrent/futures/thread.py:81)",  # a pool thread waiting for work
)


def summarize_profile(raw: Path, top: int = 15) -> list[str]:
    """What the busy samples of py-spy's raw (collapsed) output were doing.

    Idle samples (a thread waiting in select/wait) are dropped. Each busy sample is charged to the
    deepest frame of the project's own code on its stack (so library work done on behalf of, say,
    the zone cycle counts there), or, with no project frame, to the library function on top.
    """
    charged: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    busy = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(frames[-1].startswith(f) or f in frames[-1] for f in IDLE_FRAMES):
            idle += n
            continue
        busy += n
        leaves[frames[-1]] += n
        own = [f for f in frames if "apps/" in f or "project/" in f]
        charged[own[-1] if own else f"(library) {frames[-1]}"] += n
    if not busy:
        return ["(no busy samples)"]
    lines = [f"py-spy: {busy} busy samples of serve ({idle} idle dropped); by the deepest project frame:"]
    lines += [f"  {100 * n / busy:5.1f}%  {frame}" for frame, n in charged.most_common(top)]
    lines.append("by the frame on top of the stack (self time):")
    lines += [f"  {100 * n / busy:5.1f}%  {frame}" for frame, n in leaves.most_common(top)]
    return lines


def measure(minutes: float, warmup: float, profile: bool) -> CpuResult:
    with ServiceStack() as stack:
        assert stack.serve is not None and stack.sim is not None and stack.workdir is not None
        idle_port = free_port()
        idle = ServiceProcess(
            "serve --no-stream",
            [PYTHON, MANAGE, "serve", "--host", "127.0.0.1", "--port", str(idle_port), "--no-stream"],
            stack.env(),
            stack.workdir,
            log_name="idle.log",
        ).start()
        try:
            idle.wait_http(f"http://127.0.0.1:{idle_port}/api/health", 60, ok=lambda status: status < 500)
            progress(f"cpu: warming up {warmup:g}s")
            time.sleep(warmup)
            seconds = minutes * 60
            spy: subprocess.Popen[bytes] | None = None
            raw = stack.workdir / "profile.raw"
            if profile:
                exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
                if Path(exe).exists():
                    spy = subprocess.Popen(
                        [
                            exe,
                            "record",
                            "-p",
                            str(stack.serve.pid),
                            "-d",
                            str(int(seconds)),
                            "-r",
                            "100",
                            "--format",
                            "raw",
                            "-o",
                            str(raw),
                            "--nonblocking",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                else:
                    progress("cpu: --profile needs py-spy (pip install py-spy); measuring without it")
            load_before = load_text()
            pids = {"serve": stack.serve.pid, "idle": idle.pid, "sim": stack.sim.pid}
            start = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.monotonic()
            windows: list[float] = []
            last_cpu, last_t = start["serve"], started
            progress(f"cpu: measuring {minutes:g} min (a sample every {SAMPLE_EVERY_S:g}s)")
            while (now := time.monotonic()) < started + seconds:
                time.sleep(min(SAMPLE_EVERY_S, started + seconds - now))
                cpu, t = cpu_seconds(stack.serve.pid), time.monotonic()
                windows.append((cpu - last_cpu) / (t - last_t) * 3600)
                last_cpu, last_t = cpu, t
                elapsed = t - started
                if int(elapsed) % 60 < SAMPLE_EVERY_S:
                    progress(
                        f"cpu: {elapsed:.0f}s, serve so far {(cpu - start['serve']) / elapsed * 3600:.1f} CPU-s/h"
                    )
            elapsed = time.monotonic() - started
            used = {name: cpu_seconds(pid) - start[name] for name, pid in pids.items()}
            health = stack.health()["stream"]
            load_after = load_text()
            lines: list[str] = []
            if spy is not None:
                spy.wait(60)
                lines = summarize_profile(raw) if raw.exists() else ["(py-spy wrote no profile)"]
        finally:
            idle.stop()
    return CpuResult(
        elapsed,
        used["serve"],
        used["idle"],
        used["sim"],
        windows,
        load_before,
        load_after,
        int(health.get("published", 0)),
        int(health.get("events_applied", 0)),
        lines,
    )


def print_result(r: CpuResult) -> None:
    print(
        f"\nCPU of a live hour ({r.seconds / 60:.1f} min measured, extrapolated; load average before "
        f"{r.load_before}, after {r.load_after})"
    )
    header = f"{'process':<34} {'CPU s':>8} {'CPU-s/hour':>11} {'% of a core':>11} {'x idle web':>10}"
    print(header)
    print("-" * len(header))
    idle_h = r.per_hour(r.idle_cpu_s)
    for name, cpu in (
        ("serve (streaming, no clients)", r.serve_cpu_s),
        ("baseline: serve --no-stream (idle)", r.idle_cpu_s),
        ("binance_sim (not counted)", r.sim_cpu_s),
    ):
        per_hour = r.per_hour(cpu)
        ratio = per_hour / idle_h if idle_h else float("nan")
        print(f"{name:<34} {cpu:>8.2f} {per_hour:>11.1f} {per_hour / 36:>10.2f}% {number(ratio):>10}")
    if r.windows:
        print(
            f"serve per {SAMPLE_EVERY_S:g} s window, CPU-s/hour: median {statistics.median(r.windows):.1f}, "
            f"min {min(r.windows):.1f}, max {max(r.windows):.1f} (n={len(r.windows)})"
        )
    print(f"stream: {r.events_applied:,} depth events applied, {r.published:,} publications since start")
    for line in r.profile:
        print(line)


def figures(r: CpuResult) -> list[Figure]:
    serve_h = r.per_hour(r.serve_cpu_s)
    return [
        Figure(
            "cpu",
            "serve CPU-s per live hour",
            serve_h,
            f"< {GOAL_CPU_S_PER_HOUR:g} (2 % of a core)",
            serve_h < GOAL_CPU_S_PER_HOUR,
        ),
        Figure("cpu", "idle web process CPU-s per hour", r.per_hour(r.idle_cpu_s), "baseline"),
    ]


def run(minutes: float = 5.0, warmup: float = 20.0, profile: bool = False) -> list[Figure]:
    result = measure(minutes, warmup, profile)
    print_result(result)
    return figures(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="measurement time (default 5)")
    parser.add_argument(
        "--warmup", type=float, default=20.0, help="seconds of live streaming first (default 20)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="sample serve with py-spy and print what dominates"
    )
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.warmup < 0:
        parser.error("--minutes must be positive and --warmup >= 0")
    print_figures(run(args.minutes, args.warmup, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
