"""Run the benchmarks and print one summary table.

    python -m bench                      every benchmark, modest durations (about 10 min)
    python -m bench fanout rest          a subset, in the order given
    python -m bench --list               the names
    python -m bench cpu --cpu-minutes 10 longer runs where it matters

Each benchmark prints its own detailed table as it finishes (stdout; progress on stderr); the
summary table at the end holds every headline figure with its goal or baseline and a verdict.
A benchmark that fails is reported in the summary and the others still run. Exit status 1 if a
goal was missed or a benchmark failed. The machine line (cores, CPU model, Python, load
average) is printed first and last: this box is shared, so read the figures with the load.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.figures import Figure, print_figures
from bench.processes import PYTHON, REPO
from bench.stack import load_text, progress

ORDER = (
    "book",
    "wire",
    "zones",
    "heatmap",
    "confluence",
    "page-heatmap",
    "orderblocks",
    "e2e",
    "fanout",
    "rest",
    "cpu",
    "replay",
)


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
        f"load average {load_text()}"
    )


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_child(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a bench module as a child process (it sets up Django on its own temp database, or drives
    its own stack) from the repo root; its table goes to our stdout as well, after a blank line."""
    done = subprocess.run([*argv], cwd=REPO, stdout=subprocess.PIPE, text=True)
    print()
    print(done.stdout, end="")
    return done


def run_book(args: argparse.Namespace) -> list[Figure]:
    from bench.book import print_table
    from bench.book import run as book_run

    rows = book_run(args.book_events, args.book_repeat)
    print(f"\nbook benchmark ({args.book_events:,} events, median of {args.book_repeat})")
    print_table(rows)
    figures = []
    for name, ours, naive, note in rows:
        if not naive:
            continue
        higher_is_better = "higher" in note
        speedup = ours / naive if higher_is_better else naive / ours
        figures.append(
            Figure(
                "book", f"{name}: speed-up vs naive", speedup, "naive dict-and-sort book, same run", None, 2
            )
        )
    return figures


def run_wire(args: argparse.Namespace) -> list[Figure]:
    from bench.wire import run as wire_run

    figures: list[Figure] = wire_run(args.wire_frames, args.wire_repeat, args.wire_against)
    return figures


def run_zones(args: argparse.Namespace) -> list[Figure]:
    """bench.zones sets up Django with its own temp DB, so it runs as a child process."""
    done = run_child(PYTHON, "-m", "bench.zones", "--cycles", str(args.zones_cycles))
    match = re.search(r"event-loop time at defaults: median ([\d.]+) ms.*?budget ([\d.]+) ms", done.stdout)
    if match is None:
        raise RuntimeError(f"bench.zones exited {done.returncode} without its verdict line")
    held, budget = float(match.group(1)), float(match.group(2))
    return [
        Figure(
            "zones",
            "event loop held per cycle, defaults, median (ms)",
            held,
            f"budget < {budget:g} ms",
            held < budget,
            2,
        )
    ]


def run_heatmap(args: argparse.Namespace) -> list[Figure]:
    """bench.heatmap sets up Django with its own temp DB (and starts a serve on it): a child process."""
    done = run_child(
        PYTHON,
        "-m",
        "bench.heatmap",
        "--cycles",
        str(args.heatmap_cycles),
        "--requests",
        str(args.heatmap_requests),
    )
    loop = re.search(
        r"event-loop time at defaults: median ([\d.]+) ms, max ([\d.]+) ms \(budget ([\d.]+) ms", done.stdout
    )
    database = re.search(r"database: ([\d,]+) bytes per day", done.stdout)
    answers = re.findall(r"/api/heatmap (.+?): p99 ([\d.]+) ms, ([\d,]+) bytes gzip", done.stdout)
    if loop is None or database is None or len(answers) != 2:
        raise RuntimeError(f"bench.heatmap exited {done.returncode} without its verdict lines")
    held, worst, budget = (float(x) for x in loop.groups())
    per_day = int(database.group(1).replace(",", ""))
    figures = [
        Figure(
            "heatmap",
            "event loop per cycle, defaults, median (ms)",
            held,
            f"budget < {budget:g} ms",
            held < budget,
            3,
        ),
        Figure("heatmap", "event loop per cycle, defaults, max (ms)", worst, "worst cycle", None, 3),
        Figure(
            "heatmap",
            "database bytes per day (MB)",
            per_day / 1e6,
            "<= 20 MB for 7 days",
            per_day * 7 <= 20 * 1024 * 1024,
            2,
        ),
    ]
    for name, p99, size in answers:
        figures.append(
            Figure(
                "heatmap", f"/api/heatmap {name}: p99 (ms)", float(p99), "goal < 50 ms", float(p99) < 50, 1
            )
        )
        figures.append(
            Figure("heatmap", f"/api/heatmap {name}: bytes (gzip)", float(size.replace(",", "")), "", None, 0)
        )
    return figures


def run_confluence(args: argparse.Namespace) -> list[Figure]:
    """bench.confluence sets up Django with its own temp DB: a child process."""
    done = run_child(PYTHON, "-m", "bench.confluence", "--cycles", str(args.confluence_cycles))
    loop = re.search(
        r"event-loop time at defaults: median ([\d.]+) ms, max ([\d.]+) ms \(budget ([\d.]+) ms", done.stdout
    )
    baseline = re.search(r"baseline: re-read the band \+ measure\s+([\d.]+)", done.stdout)
    if loop is None or baseline is None:
        raise RuntimeError(f"bench.confluence exited {done.returncode} without its verdict line")
    held, worst, budget = (float(x) for x in loop.groups())
    reread = float(baseline.group(1))
    return [
        Figure(
            "confluence",
            "event loop per cycle, 100 blocks, median (ms)",
            held,
            f"budget < {budget:g} ms",
            held < budget,
            3,
        ),
        Figure("confluence", "event loop per cycle, 100 blocks, max (ms)", worst, "worst cycle", None, 3),
        Figure(
            "confluence",
            "re-reading the band each cycle instead, median (ms)",
            reread,
            "baseline, same run",
            None,
            3,
        ),
    ]


def run_page_heatmap(args: argparse.Namespace) -> list[Figure]:
    """bench.page_heatmap drives Debian's chromium against its own stack: a child process."""
    done = run_child(PYTHON, "-m", "bench.page_heatmap", "--moves", str(args.page_heatmap_moves))
    verdict = re.search(
        r"page-heatmap: frame p99 ([\d.]+) ms CPU \(median of (\d+) rounds\).*?heatmap off ([\d.]+) ms; "
        r"Lightweight Charts alone ([\d.]+) ms",
        done.stdout,
    )
    cells = re.search(r"heatmap on, per-cell fillRect ([\d.]+)", done.stdout)
    if verdict is None or cells is None:
        raise RuntimeError(f"bench.page_heatmap exited {done.returncode} without its verdict line")
    cpu, off, bare = float(verdict[1]), float(verdict[3]), float(verdict[4])
    rounds = f"median of {verdict[2]} rounds"
    return [
        Figure("page", "frame p99 panning 7 days of heatmap, CPU (ms)", cpu, "goal < 16 ms", cpu < 16, 1),
        Figure("page", "frame p99, heatmap off (ms)", off, rounds, None, 1),
        Figure("page", "frame p99, Lightweight Charts alone (ms)", bare, "baseline, " + rounds, None, 1),
        Figure(
            "page", "frame p99, heatmap drawn per cell (ms)", float(cells[1]), "fillRect per cell", None, 1
        ),
    ]


def run_orderblocks(args: argparse.Namespace) -> list[Figure]:
    from bench.orderblocks import run as orderblocks_run

    figures: list[Figure] = orderblocks_run(args.ob_bars, args.ob_repeat, args.ob_smc_repeat)
    return figures


def run_e2e(args: argparse.Namespace) -> list[Figure]:
    from bench.e2e import run as e2e_run

    return e2e_run(args.e2e_seconds, args.e2e_wall_every)


def run_fanout(args: argparse.Namespace) -> list[Figure]:
    from bench.fanout import run as fanout_run

    return fanout_run(args.fanout_clients, args.fanout_seconds)


def run_rest(args: argparse.Namespace) -> list[Figure]:
    from bench.rest_load import run as rest_run

    return rest_run(args.rest_pollers, None, args.rest_step_seconds)


def run_cpu(args: argparse.Namespace) -> list[Figure]:
    from bench.cpu_hour import run as cpu_run

    return cpu_run(args.cpu_minutes, args.cpu_warmup, args.cpu_profile)


def run_replay(args: argparse.Namespace) -> list[Figure]:
    """bench.replay sets up Django with its own temp DB (and starts stacks): a child process."""
    done = run_child(
        PYTHON,
        "-m",
        "bench.replay",
        "--record-seconds",
        str(args.replay_record_seconds),
        "--repeat",
        str(args.replay_repeat),
        "--cpu-minutes",
        str(args.replay_cpu_minutes),
        "--cpu-pairs",
        str(args.replay_cpu_pairs),
    )
    whole = re.search(
        r"max speed, whole service: depth events/s\s+([\d,]+)\s+book alone ([\d,]+)/s", done.stdout
    )
    overhead = re.search(r"RECORD_DIR: live CPU-s/hour more than without \(%\)\s+(-?[\d.]+)", done.stdout)
    if whole is None or overhead is None:
        raise RuntimeError(f"bench.replay exited {done.returncode} without its figures")
    events, book = (float(x.replace(",", "")) for x in whole.groups())
    more = float(overhead.group(1))
    return [
        Figure(
            "replay", "max speed, whole service: depth events/s", events, f"book alone {book:,.0f}/s", None, 0
        ),
        Figure("replay", "RECORD_DIR: live CPU more than without (%)", more, "goal < 10 %", more < 10, 1),
    ]


RUNNERS: dict[str, tuple[str, Callable[[argparse.Namespace], list[Figure]]]] = {
    "book": ("bench.book", run_book),
    "wire": ("bench.wire", run_wire),
    "zones": ("bench.zones", run_zones),
    "heatmap": ("bench.heatmap", run_heatmap),
    "confluence": ("bench.confluence", run_confluence),
    "page-heatmap": ("bench.page_heatmap", run_page_heatmap),
    "orderblocks": ("bench.orderblocks", run_orderblocks),
    "e2e": ("bench.e2e", run_e2e),
    "fanout": ("bench.fanout", run_fanout),
    "rest": ("bench.rest_load", run_rest),
    "cpu": ("bench.cpu_hour", run_cpu),
    "replay": ("bench.replay", run_replay),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from bench.fanout import client_counts

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run (default all): {', '.join(ORDER)}"
    )
    parser.add_argument("--list", action="store_true", help="print the benchmark names and exit")
    group = parser.add_argument_group("durations and sizes")
    group.add_argument("--book-events", type=int, default=5000)
    group.add_argument("--book-repeat", type=int, default=3)
    group.add_argument("--wire-frames", type=int, default=200)
    group.add_argument("--wire-repeat", type=int, default=150)
    group.add_argument("--wire-against", metavar="REV", help="time wire.py of this git revision too")
    group.add_argument("--zones-cycles", type=int, default=20)
    group.add_argument("--heatmap-cycles", type=int, default=120)
    group.add_argument("--heatmap-requests", type=int, default=40)
    group.add_argument("--confluence-cycles", type=int, default=120)
    group.add_argument("--page-heatmap-moves", type=int, default=300)
    group.add_argument("--ob-bars", type=int, default=100_000)
    group.add_argument("--ob-repeat", type=int, default=5)
    group.add_argument("--ob-smc-repeat", type=int, default=1)
    group.add_argument("--e2e-seconds", type=float, default=30.0)
    group.add_argument("--e2e-wall-every", type=float, default=6.0)
    group.add_argument("--fanout-clients", type=client_counts, default=[1, 100, 1000])
    group.add_argument("--fanout-seconds", type=float, default=15.0)
    group.add_argument("--rest-pollers", type=int, default=50)
    group.add_argument("--rest-step-seconds", type=float, default=5.0)
    group.add_argument("--cpu-minutes", type=float, default=2.0)
    group.add_argument("--cpu-warmup", type=float, default=15.0)
    group.add_argument("--cpu-profile", action="store_true", help="py-spy the serve process in the cpu bench")
    group.add_argument("--replay-record-seconds", type=float, default=60.0)
    group.add_argument("--replay-repeat", type=int, default=3)
    group.add_argument("--replay-cpu-minutes", type=float, default=1.5)
    group.add_argument("--replay-cpu-pairs", type=int, default=1)
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in RUNNERS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(ORDER)}")
    numbers = {k: v for k, v in vars(args).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    bad = [k for k, v in numbers.items() if v <= 0]
    if bad:
        parser.error(f"--{bad[0].replace('_', '-')} must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name in ORDER:
            module, _ = RUNNERS[name]
            print(f"{name:<12} {module}{'' if available(module) else '  (not there yet)'}")
        return 0
    names = args.names or list(ORDER)
    print(machine_line())
    figures: list[Figure] = []
    notes: list[str] = []
    started = time.monotonic()
    for name in names:
        module, runner = RUNNERS[name]
        if not available(module):
            notes.append(f"{name}: skipped, {module} is not there yet")
            progress(notes[-1])
            continue
        progress(f"=== {name} ({time.monotonic() - started:.0f}s into the run)")
        bench_started = time.monotonic()
        try:
            figures.extend(runner(args))
        except Exception as exc:
            traceback.print_exc()
            figures.append(
                Figure(
                    name,
                    f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:60]}",
                    float("nan"),
                    "see the traceback above",
                    False,
                )
            )
        sys.stdout.flush()
        progress(f"=== {name} done in {time.monotonic() - bench_started:.0f}s")
    print_figures(figures, title=f"summary ({', '.join(names)}; {(time.monotonic() - started) / 60:.1f} min)")
    for note in notes:
        print(note)
    print(machine_line())
    return 1 if any(f.ok is False for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
