"""Fan-out: 1, 100 and 1000 concurrent /ws/overlays clients on one `serve` process.

    python -m bench.fanout [--clients 1,100,1000] [--seconds 20] [--per-process 500]

One `binance_sim` and one `serve` (defaults: 100 ms depth, 1 s publish) for the whole run; for
each client count, separate client processes (bench.ws_clients, at most --per-process sockets
each, fd limit raised, Origin header set) connect, then record for --seconds. Figures:

- delivery latency of every "metrics" delta to every client: receive time - ts_ms (the publish
  stamp), p50/p99/max; "last client" = per message, the latency of the slowest client;
- streamer lag: publish lateness (gap between consecutive metrics ts_ms - interval), the book's
  age at publish (ts_ms - the simulator's event time E of the depth event whose final id is the
  published update_id, from a depth-stream client on the simulator in this process), and the max
  /api/health last_event_age_s polled every second;
- serve CPU: utime+stime of the serve process over the recording window, in % of one core;
- layer: the channel layer and the per-process fan-out alone, in this process with no sockets:
  median time for one group message to reach N no-op subscribers (the project's CHANNEL_LAYERS
  backend, in-memory by default) - the floor under the delivery latency that no socket work can
  beat.
The 1-client row is the baseline for the "x 1 cl" ratio. Goal: 1000 clients with p99 under
250 ms and no stall of the book (/api/health last_event_age_s stays under 1 s while the
simulator sends an event every 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from websockets.asyncio.client import connect

from bench.figures import Figure, print_figures
from bench.percentiles import Distribution, number
from bench.processes import PYTHON, REPO, cpu_seconds
from bench.stack import ServiceStack, StackError, load_text, progress

P99_GOAL_MS = 250.0
STALL_S = 1.0


@dataclass
class LevelResult:
    clients: int
    connected: int
    failed: int
    connect_s: float
    delivery: Distribution
    last_client: Distribution
    lateness: Distribution
    book_age: Distribution
    max_event_age_s: float
    serve_cpu_pct: float
    clients_cpu_pct: float
    layer_ms: float
    messages: int
    resnapshots: int
    closed: int
    expected_per_client: int
    notes: list[str] = field(default_factory=list)


class ClientProcess:
    """One bench.ws_clients child, spoken to over stdin/stdout lines."""

    def __init__(self, stack: ServiceStack, count: int, index: int) -> None:
        self.count = count
        assert stack.workdir is not None
        self.log_path = stack.workdir / f"ws_clients-{count}-{index}.log"
        with self.log_path.open("w") as log_file:
            self.popen = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "bench.ws_clients",
                    "--url",
                    stack.overlays_ws_url,
                    "--origin",
                    stack.origin,
                    "--count",
                    str(count),
                ],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
            )

    def read_json(self, timeout: float) -> dict[str, Any]:
        result: list[str] = []
        stdout: IO[str] | None = self.popen.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result or not result[0].strip():
            err = self.log_path.read_text(errors="replace")[-2000:]
            raise StackError(f"client process {self.popen.pid} gave no answer in {timeout:g}s {err}")
        data: dict[str, Any] = json.loads(result[0])
        return data

    def say(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def close(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                self.say("stop")
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


class DepthWatcher:
    """A thread recording u -> E of every simulator depth event for the whole run (so the book age
    of messages published before a level's window opened is known too)."""

    def __init__(self, stack: ServiceStack) -> None:
        self.url = f"{stack.sim_ws_url}/ws/{stack.symbol.lower()}@depth@100ms"
        self.events: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)

    def __enter__(self) -> DepthWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    async def _watch(self) -> None:
        async with connect(self.url, max_size=None) as ws:
            while not self._stop.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                payload = json.loads(frame)
                if payload.get("e") == "depthUpdate":
                    self.events[int(payload["u"])] = int(payload["E"])


async def watch_health(stack: ServiceStack, ages: list[float], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            try:
                response = await client.get(f"{stack.base_url}/api/health")
                ages.append(float(response.json()["stream"]["last_event_age_s"]))
            except (httpx.HTTPError, ValueError, KeyError):
                ages.append(math.nan)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def record(
    stack: ServiceStack, procs: list[ClientProcess], seconds: float
) -> tuple[list[dict[str, Any]], list[float], float, float, float]:
    """Open the window on every client process, poll health, close it; returns (client results,
    health ages, serve CPU s, client processes' CPU s, window s)."""
    ages: list[float] = []
    stop = asyncio.Event()
    watchers = [asyncio.create_task(watch_health(stack, ages, stop))]
    assert stack.serve is not None
    cpu_before, wall_before = cpu_seconds(stack.serve.pid), time.monotonic()
    clients_before = sum(cpu_seconds(p.popen.pid) for p in procs)
    for proc in procs:
        proc.say("start")
    await asyncio.sleep(seconds)
    for proc in procs:
        proc.say("stop")
    cpu = cpu_seconds(stack.serve.pid) - cpu_before
    clients_cpu = sum(cpu_seconds(p.popen.pid) for p in procs) - clients_before
    wall = time.monotonic() - wall_before
    loop = asyncio.get_running_loop()
    results = [await loop.run_in_executor(None, proc.read_json, 60.0) for proc in procs]
    stop.set()
    await asyncio.gather(*watchers, return_exceptions=True)
    return results, ages, cpu, clients_cpu, wall


def layer_fanout_ms(count: int, repeat: int = 5) -> float:
    """Median ms for one group_send to reach ``count`` no-op subscribers through the project's
    channel layer and the per-process fan-out (apps.overlays.local_fanout): the floor under the
    delivery latency without any socket or consumer work."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ["REDIS_URL"] = ""  # as the benchmarked serve process runs
    from channels.layers import channel_layers

    from apps.overlays.broadcast import GROUP_MESSAGE_TYPE
    from apps.overlays.local_fanout import LocalFanout

    message = {
        "type": GROUP_MESSAGE_TYPE,
        "epoch": "bench",
        "seq": 1,
        "kind": "metrics",
        "data": {
            "ts_ms": 1,
            "symbol": "BTCEUR",
            "best_bid": "86997.62",
            "best_ask": "86997.64",
            "spread": "0.02",
            "mid": "86997.63",
            "imbalance_topn": 0.5,
            "update_id": 7000000635,
        },
    }

    async def measure() -> float:
        layer = channel_layers.make_backend("default")
        fanout = LocalFanout(layer, "bench")
        received = 0
        everyone = asyncio.Event()

        async def subscriber(message: dict[str, Any]) -> None:
            nonlocal received
            received += 1
            if received == count:
                everyone.set()

        for index in range(count):
            await fanout.subscribe(f"c{index}", subscriber)
        samples = []
        for _ in range(repeat):
            received = 0
            everyone.clear()
            started = time.perf_counter()
            await layer.group_send("bench", message)
            await asyncio.wait_for(everyone.wait(), 60)
            samples.append((time.perf_counter() - started) * 1000)
        for index in range(count):
            await fanout.unsubscribe(f"c{index}")
        return statistics.median(samples)

    return asyncio.run(measure())


def split(count: int, per_process: int) -> list[int]:
    procs = max(1, math.ceil(count / per_process))
    base, extra = divmod(count, procs)
    return [base + (1 if i < extra else 0) for i in range(procs)]


def run_level(
    stack: ServiceStack,
    watcher: DepthWatcher,
    clients: int,
    seconds: float,
    per_process: int,
    samples_dir: Path | None = None,
) -> LevelResult:
    progress(f"fanout: connecting {clients} client(s)")
    procs = [ClientProcess(stack, n, i) for i, n in enumerate(split(clients, per_process))]
    try:
        ready = [p.read_json(180.0) for p in procs]
        connected = sum(r["ready"] for r in ready)
        failed = sum(r["failed"] for r in ready)
        connect_s = max(r["connect_s"] for r in ready)
        notes = [f"connect failure: {r['first_failure']}" for r in ready if r.get("first_failure")]
        progress(
            f"fanout: {connected} connected ({failed} failed) in {connect_s:.1f}s; recording {seconds:g}s"
        )
        time.sleep(2.0)  # let the connect snapshots drain before the window opens
        results, ages, cpu, clients_cpu, wall = asyncio.run(record(stack, procs, seconds))
    finally:
        for proc in procs:
            proc.close()

    samples = [tuple(s) for r in results for s in r["samples"]]
    if samples_dir is not None:
        path = samples_dir / f"fanout-{clients}.json"
        path.write_text(json.dumps(samples))
        progress(f"fanout: {len(samples)} samples [ts_ms, latency_ms, update_id] written to {path}")
    latencies = [s[1] for s in samples]
    per_message: dict[int, float] = defaultdict(float)
    update_ids: dict[int, int] = {}
    for ts_ms, latency, update_id in samples:
        per_message[ts_ms] = max(per_message[ts_ms], latency)
        update_ids[ts_ms] = update_id
    stamps = sorted(update_ids)
    interval = int(stack.env().get("PUBLISH_INTERVAL_MS", "1000"))
    lateness = [b - a - interval for a, b in itertools.pairwise(stamps)]
    events = watcher.events
    book_age = [ts - events[uid] for ts, uid in update_ids.items() if uid in events]
    unmatched = len(update_ids) - len(book_age)
    if unmatched:
        notes.append(f"{unmatched} published update ids not seen on the depth stream (book age not known)")
    valid_ages = [a for a in ages if not math.isnan(a)]
    if len(valid_ages) < len(ages):
        notes.append(f"{len(ages) - len(valid_ages)} of {len(ages)} /api/health polls unanswered within 5 s")
    return LevelResult(
        clients=clients,
        connected=connected,
        failed=failed,
        connect_s=connect_s,
        delivery=Distribution.of(latencies),
        last_client=Distribution.of(per_message.values()),
        lateness=Distribution.of(lateness),
        book_age=Distribution.of(book_age),
        max_event_age_s=math.nan if len(valid_ages) < len(ages) or not ages else max(valid_ages),
        serve_cpu_pct=100 * cpu / wall,
        clients_cpu_pct=100 * clients_cpu / wall,
        layer_ms=layer_fanout_ms(clients),
        messages=sum(r["messages"] for r in results),
        resnapshots=sum(r["resnapshots"] for r in results),
        closed=sum(r["closed"] for r in results),
        expected_per_client=len(stamps),
        notes=notes,
    )


def print_levels(levels: list[LevelResult], seconds: float, load: str) -> None:
    print(
        f"\nfan-out: 'metrics' delivery to N /ws/overlays clients on one serve process ({seconds:g} s each; "
        f"load average {load})"
    )
    header = (
        f"{'clients':>7} {'conn':>5} {'conn s':>6} {'deliveries':>10} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'last p50':>8} {'last p99':>8} {'x 1 cl':>6} {'late p99':>8} {'book age p99':>12} {'ev age max':>10} "
        f"{'serve CPU':>9} {'client CPU':>10} {'resnap':>6} {'layer ms':>8}"
    )
    print(header)
    print("-" * len(header))
    base = levels[0].delivery.p99 if levels else math.nan
    for r in levels:
        ratio = r.delivery.p99 / base if base and not math.isnan(base) else math.nan
        print(
            f"{r.clients:>7} {r.connected:>5} {r.connect_s:>6.1f} {r.delivery.count:>10} {number(r.delivery.p50):>7} "
            f"{number(r.delivery.p99):>7} {number(r.delivery.max):>7} {number(r.last_client.p50):>8} "
            f"{number(r.last_client.p99):>8} {number(ratio, 2):>6} {number(r.lateness.p99):>8} "
            f"{number(r.book_age.p99):>12} {number(r.max_event_age_s, 3):>10} {number(r.serve_cpu_pct):>8}% "
            f"{number(r.clients_cpu_pct):>9}% {r.resnapshots:>6} {number(r.layer_ms):>8}"
        )
    print(
        "latencies in ms: deliveries = every metrics delta at every client; 'last' = per message, the slowest "
        "client;\n'late' = publish-cycle lateness; 'book age' = publish ts - sim event time of the published "
        "update id;\n'ev age max' = max /api/health last_event_age_s (s); resnap = snapshots after connect "
        "(holes, pauses);\nCPU in % of one core over the window (client CPU = all client processes, on the same "
        "machine);\n'layer ms' = channel layer + per-process fan-out alone, in-process: one group message to N "
        "no-op subscribers (median)"
    )
    for r in levels:
        if r.failed or r.closed:
            print(f"{r.clients} clients: {r.failed} failed to connect, {r.closed} closed while recording")
        for note in r.notes:
            print(f"{r.clients} clients: {note}")


def figures(levels: list[LevelResult]) -> list[Figure]:
    out: list[Figure] = []
    for r in levels:
        goal = r.clients >= 1000
        out.append(
            Figure(
                "fanout",
                f"{r.clients} clients: delivery p99 (ms)",
                r.delivery.p99,
                f"< {P99_GOAL_MS:g} ms" if goal else "",
                (r.delivery.p99 < P99_GOAL_MS) if goal else None,
            )
        )
        if goal:
            # A stall: the book seen at a publication was more than STALL_S behind the simulator, or
            # /api/health saw no depth event for STALL_S (an unanswered poll counts as a stall).
            ok = (
                r.book_age.count > 0
                and r.book_age.max < STALL_S * 1000
                and r.max_event_age_s < STALL_S
                and r.connected == r.clients
            )
            out.append(
                Figure(
                    "fanout",
                    f"{r.clients} clients: book age at publish max (ms)",
                    r.book_age.max,
                    f"no stall (< {STALL_S * 1000:g} ms), all connected",
                    ok,
                )
            )
        out.append(
            Figure(
                "fanout", f"{r.clients} clients: layer + fan-out alone (ms)", r.layer_ms, "in-process floor"
            )
        )
    return out


def run(
    clients: list[int], seconds: float = 20.0, per_process: int = 500, samples_dir: Path | None = None
) -> list[Figure]:
    levels: list[LevelResult] = []
    before = load_text()
    with ServiceStack() as stack, DepthWatcher(stack) as watcher:
        for count in clients:
            levels.append(run_level(stack, watcher, count, seconds, per_process, samples_dir))
            time.sleep(1.0)
    print_levels(levels, seconds, f"{before} before, {load_text()} after")
    return figures(levels)


def client_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not counts or any(c <= 0 for c in counts):
        raise argparse.ArgumentTypeError("client counts must be positive")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=client_counts, default=[1, 100, 1000], help="default 1,100,1000")
    parser.add_argument("--seconds", type=float, default=20.0, help="recording time per level (default 20)")
    parser.add_argument(
        "--per-process", type=int, default=500, help="sockets per client process (default 500)"
    )
    parser.add_argument(
        "--samples-dir",
        type=Path,
        default=None,
        help="also write every delivery as JSON [ts_ms, latency_ms, update_id] to DIR/fanout-N.json",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.per_process <= 0:
        parser.error("--seconds and --per-process must be positive")
    if args.samples_dir is not None:
        args.samples_dir.mkdir(parents=True, exist_ok=True)
    print_figures(run(args.clients, args.seconds, args.per_process, args.samples_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
