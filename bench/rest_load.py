"""REST load: GET /api/overlays from 50 concurrent pollers; requests/s at p99 under 20 ms.

    python -m bench.rest_load [--pollers 50] [--rates 10,25,50,100,200,400,800] [--step-seconds 5]
    python -m bench.rest_load --path /api/book        (another endpoint; "/api/book?limit=100" is the
                                                      same document through Django, for comparison)

Starts `binance_sim` + `serve` (live book, candles and order blocks seeded from the simulator so
the answer carries real boxes, ~25 KB) and runs the load generator as its own process
(`python -m bench.rest_load --worker ...`): plain asyncio HTTP/1.1 keep-alive connections, one
per poller, no HTTP library in the hot path, so the generator costs the server as little CPU as
possible on this 2-core machine.

Steps:
- open loop at each --rates value: every poller sends on a fixed schedule (rate / pollers per
  second each, staggered); latency runs from the *scheduled* send time, so a slow answer that
  delays the next request is charged to that request too (no coordinated omission). Escalation
  stops once the service cannot keep up (achieved < 90 % of offered, or p99 > 1 s);
- closed loop: every poller sends its next request as soon as the answer is in (max throughput);
- closed loop with If-None-Match (a poller that keeps its ETag: mostly 304s).
Headline: the highest offered rate whose p99 stayed under 20 ms (and was achieved), and the
closed-loop requests/s; the unloaded single-poller p50 is the baseline in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from bench.figures import Figure, print_figures
from bench.percentiles import Distribution, number
from bench.processes import PYTHON, REPO
from bench.stack import ServiceStack, StackError, load_text, progress

P99_GOAL_MS = 20.0
DEFAULT_PATH = "/api/overlays"


# -- the worker (its own process) -------------------------------------------------------------
class HttpConnection:
    """A minimal HTTP/1.1 keep-alive GET client over asyncio streams (Content-Length or chunked)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], int]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{extra}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        size = 0
        if "content-length" in fields:
            size = int(fields["content-length"])
            await self.reader.readexactly(size)
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            while True:
                chunk = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(chunk + 2)
                size += chunk
                if chunk == 0:
                    break
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, fields, size

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = None


async def poll(url: str, pollers: int, rate: float, seconds: float, etag: bool) -> dict[str, Any]:
    parsed = urlparse(url)
    host, port, path = parsed.hostname or "127.0.0.1", parsed.port or 80, parsed.path or "/"
    if parsed.query:
        path = f"{path}?{parsed.query}"
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    sizes: list[int] = []
    start = time.perf_counter() + 0.2
    end = start + seconds

    async def poller(index: int) -> None:
        conn = HttpConnection(host, port)
        tag: str | None = None
        period = pollers / rate if rate > 0 else 0.0
        due = start + (index / pollers) * period
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        while True:
            now = time.perf_counter()
            if rate > 0:
                if due >= end:
                    break
                if due > now:
                    await asyncio.sleep(due - now)
                sent_at = due
                due += period
            else:
                if now >= end:
                    break
                sent_at = now
            headers = {"Accept": "application/json"}
            if etag and tag:
                headers["If-None-Match"] = tag
            try:
                status, fields, size = await conn.get(path, headers)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await conn.close()
                continue
            latencies.append((time.perf_counter() - sent_at) * 1000)
            statuses[str(status)] += 1
            sizes.append(size)
            if etag and "etag" in fields:
                tag = fields["etag"]
        await conn.close()

    await asyncio.gather(*(poller(i) for i in range(pollers)))
    elapsed = max(time.perf_counter() - start, 1e-9)
    return {
        "latencies": latencies,
        "statuses": dict(statuses),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "elapsed_s": elapsed,
        "bytes_median": sorted(sizes)[len(sizes) // 2] if sizes else 0,
    }


def worker_main(args: argparse.Namespace) -> int:
    result = asyncio.run(poll(args.url, args.pollers, args.rate, args.seconds, args.etag))
    print(json.dumps(result))
    return 0


# -- the orchestrator -------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    offered: float  # requests/s; 0 = closed loop
    pollers: int
    latency: Distribution
    achieved: float
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    first_error: str | None = None
    bytes_median: int = 0

    @property
    def kept_up(self) -> bool:
        return self.offered == 0 or self.achieved >= 0.9 * self.offered

    @property
    def within_goal(self) -> bool:
        return (
            self.latency.count > 0 and self.latency.p99 < P99_GOAL_MS and self.achieved >= 0.95 * self.offered
        )


def run_step(
    stack: ServiceStack, path: str, name: str, pollers: int, rate: float, seconds: float, etag: bool = False
) -> Step:
    progress(f"rest: {name} ({pollers} pollers, {seconds:g}s)")
    args = [
        PYTHON,
        "-m",
        "bench.rest_load",
        "--worker",
        "--url",
        f"{stack.base_url}{path}",
        "--pollers",
        str(pollers),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
    ]
    if etag:
        args.append("--etag")
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise StackError(f"load generator failed: {done.stderr[-2000:]}")
    data = json.loads(done.stdout)
    latencies = data["latencies"]
    return Step(
        name,
        rate,
        pollers,
        Distribution.of(latencies),
        len(latencies) / data["elapsed_s"],
        data["statuses"],
        data["errors"],
        data["first_error"],
        data["bytes_median"],
    )


def measure(stack: ServiceStack, path: str, pollers: int, rates: list[float], seconds: float) -> list[Step]:
    steps = [run_step(stack, path, "baseline: 1 poller, 5 req/s", 1, 5.0, seconds)]
    for rate in rates:
        step = run_step(stack, path, f"open loop {rate:g} req/s", pollers, rate, seconds)
        steps.append(step)
        if not step.kept_up or step.latency.p99 > 1000:
            progress(
                f"rest: stopping the ramp at {rate:g} req/s (achieved {step.achieved:.0f}, p99 "
                f"{step.latency.p99:.0f} ms)"
            )
            break
    steps.append(run_step(stack, path, "closed loop (max throughput)", pollers, 0, seconds))
    steps.append(run_step(stack, path, "closed loop, If-None-Match", pollers, 0, seconds, etag=True))
    return steps


def print_steps(steps: list[Step], path: str, load_before: str, load_after: str) -> None:
    print(f"\nREST GET {path}: latency in ms (load average before {load_before}, after {load_after})")
    header = (
        f"{'step':<32} {'pollers':>7} {'offered/s':>9} {'achieved/s':>10} {'p50':>7} {'p90':>7} {'p99':>7} "
        f"{'max':>8} {'statuses':<18} {'errors':>6} {'p99<20ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for s in steps:
        statuses = ",".join(f"{k}:{v}" for k, v in sorted(s.statuses.items()))
        goal = "yes" if s.within_goal else ("-" if s.offered == 0 else "no")
        print(
            f"{s.name:<32} {s.pollers:>7} {(number(s.offered, 0) if s.offered else 'max'):>9} "
            f"{number(s.achieved, 0):>10} {number(s.latency.p50):>7} {number(s.latency.p90):>7} "
            f"{number(s.latency.p99):>7} {number(s.latency.max):>8} {statuses:<18} {s.errors:>6} {goal:>8}"
        )
        if s.first_error:
            print(f"    first error: {s.first_error}")
    sizes = {s.bytes_median for s in steps if s.statuses.get("200")}
    if sizes:
        print(f"answer size (median body bytes of 200s): {max(sizes):,}")


def figures(steps: list[Step], pollers: int, path: str = DEFAULT_PATH) -> list[Figure]:
    open_steps = [s for s in steps if s.offered and s.pollers == pollers]
    best = max((s.offered for s in open_steps if s.within_goal), default=0.0)
    closed = next((s for s in steps if s.name.startswith("closed loop (")), None)
    baseline = steps[0]
    group = "rest" if path == DEFAULT_PATH else f"rest {path}"
    out = [
        Figure(group, "1 poller baseline p50 (ms)", baseline.latency.p50, "unloaded"),
        Figure(
            group,
            f"req/s with p99 < {P99_GOAL_MS:g} ms, {pollers} pollers",
            best,
            f"highest open-loop step within p99 {P99_GOAL_MS:g} ms",
            best > 0,
            digits=0,
        ),
    ]
    if closed is not None:
        out.append(
            Figure(
                group,
                f"closed loop req/s, {pollers} pollers",
                closed.achieved,
                f"p50 {number(closed.latency.p50)} / p99 {number(closed.latency.p99)} ms",
                None,
                digits=0,
            )
        )
    return out


def parse_rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not rates or any(r <= 0 or math.isnan(r) for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return sorted(rates)


def run(
    pollers: int = 50, rates: list[float] | None = None, seconds: float = 5.0, path: str = DEFAULT_PATH
) -> list[Figure]:
    rates = rates or [10, 25, 50, 100, 200, 400, 800]
    with ServiceStack(seed_candles=True) as stack:
        before = load_text()
        steps = measure(stack, path, pollers, rates, seconds)
        after = load_text()
    print_steps(steps, path, before, after)
    return figures(steps, pollers, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pollers", type=int, default=50, help="concurrent pollers (default 50)")
    parser.add_argument(
        "--rates",
        type=parse_rates,
        default=None,
        help="open-loop req/s steps, default 10,25,50,100,200,400,800",
    )
    parser.add_argument("--step-seconds", type=float, default=5.0, help="seconds per step (default 5)")
    parser.add_argument(
        "--path", default=DEFAULT_PATH, help=f"path and query to GET (default {DEFAULT_PATH})"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    parser.add_argument("--etag", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pollers <= 0 or args.step_seconds <= 0:
        parser.error("--pollers and --step-seconds must be positive")
    if not args.path.startswith("/"):
        parser.error(f"--path must start with /, got {args.path!r}")
    if args.worker:
        if not args.url:
            parser.error("--worker needs --url")
        return worker_main(args)
    print_figures(run(args.pollers, args.rates, args.step_seconds, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
