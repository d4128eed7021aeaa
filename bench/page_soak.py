"""Page soak: the chart page kept open against a live `serve`, as a trader leaves it all day.

    python -m bench.page_soak --minutes 30                      the defaults: 1 s publication cycle
    python -m bench.page_soak --minutes 10 --publish-ms 100     10x the pushes: ~1.7 h of deltas in 10 min

Starts binance_sim + serve (demo candles and order blocks seeded) and opens the chart page in
Debian's headless chromium. Every `--sample-every` seconds it forces a JS garbage collection over
the DevTools protocol and samples the page: JS heap in use, DOM nodes, event listeners, the
renderer's RSS and CPU time, and the transport's counters. Every `--drop-every` seconds it drops
the page's WebSocket for 3 s (a laptop's Wi-Fi blip), so reconnects, the REST polling fallback and
fresh snapshots are part of the run. At the end the page's zones and order blocks (ids and states)
are compared with /api/overlays.

Fails (exit 1) when the JS heap grew more than `--max-heap-growth` percent after the warm-up, DOM
nodes or listeners grew, the page's state differs from the server's, the page threw an error, or
the page stopped receiving pushes. Progress on stderr, the report on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.chromium import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from bench.processes import proc_status_kb
from bench.soak import add_run_length, run_length_s
from bench.stack import ServiceStack, load_text, progress
from bench.trend import last_half_slope_per_hour

DROP_BLOCK_MS = 3000
CONVERGE_TRIES = 30

PAGE_PROBE = """() => {
  const d = window.__chartDebug;
  const s = d.state();
  return {counts: d.counts, pill: d.pill, zones: s.zones.length, blocks: s.orderblocks.length,
          painted: d.painted ? d.painted.boxes.length + d.painted.bands.length : 0};
}"""
PAGE_STATE = """() => {
  const s = window.__chartDebug.state();
  return {zones: Object.fromEntries(s.zones.map((z) => [z.id, z.status])),
          orderblocks: Object.fromEntries(s.orderblocks.map((b) => [b.id, b.status]))};
}"""


@dataclass
class PageSample:
    t_s: float
    heap_used: int  # bytes, after a forced collection
    nodes: int
    listeners: int
    renderer_rss_kb: int | None
    renderer_cpu_s: float | None
    task_s: float  # main-thread task time so far (Performance.getMetrics TaskDuration)
    deltas: int
    snapshots: int
    connects: int
    polls: int
    zones: int
    blocks: int
    pill: str


@dataclass
class PageSoakResult:
    publish_ms: int
    samples: list[PageSample] = field(default_factory=list)
    warmup_s: float = 0.0
    drops: int = 0
    page_errors: list[str] = field(default_factory=list)
    state_mismatch: str | None = None  # None: converged
    aborted: str = ""

    def start(self) -> PageSample | None:
        """The first sample at or after the warm-up."""
        return next((s for s in self.samples if s.t_s >= self.warmup_s), None)

    @property
    def end(self) -> PageSample | None:
        return self.samples[-1] if self.samples else None

    def heap_growth(self) -> float | None:
        start, end = self.start(), self.end
        if start is None or end is None or start is end or not start.heap_used:
            return None
        return (end.heap_used - start.heap_used) / start.heap_used

    def trend_per_hour(self, attribute: str, scale: float = 1.0) -> float | None:
        points = [(s.t_s, getattr(s, attribute)) for s in self.samples if getattr(s, attribute) is not None]
        slope = last_half_slope_per_hour(points)
        return None if slope is None else slope / scale

    def failures(self, max_heap_growth: float) -> list[str]:
        out: list[str] = []
        if self.aborted:
            out.append(f"aborted: {self.aborted}")
        start, end = self.start(), self.end
        if start is None or end is None or start is end:
            out.append("too few samples after the warm-up to judge")
            return out
        growth = self.heap_growth()
        if growth is not None and growth > max_heap_growth:
            out.append(f"JS heap grew {growth:.1%} after the warm-up (> {max_heap_growth:.0%})")
        # the DOM is fixed (canvas chart, legend, toggles): any steady growth is a leak
        if end.nodes > start.nodes + 50:
            out.append(f"DOM nodes grew {start.nodes} -> {end.nodes}")
        if end.listeners > start.listeners + 50:
            out.append(f"event listeners grew {start.listeners} -> {end.listeners}")
        if end.deltas <= start.deltas:
            out.append("the page received no deltas after the warm-up")
        if end.pill != "live":
            out.append(f"the page ended in mode {end.pill!r}, not live")
        if self.page_errors:
            out.append(f"{len(self.page_errors)} page error(s), first: {self.page_errors[0]}")
        if self.state_mismatch is not None:
            out.append(f"page state differs from /api/overlays: {self.state_mismatch}")
        return out


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value / 1e6:.2f}"


def _trend(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:+.2f} {unit}"


def render_report(result: PageSoakResult, max_heap_growth: float, command: str) -> str:
    start, end = result.start(), result.end
    rows: list[tuple[str, str]] = [("command", command), ("publication cycle (ms)", str(result.publish_ms))]
    if start is not None and end is not None:
        span = max(end.t_s - start.t_s, 1e-9)
        growth = result.heap_growth()
        cpu = (
            f"{(end.renderer_cpu_s - start.renderer_cpu_s) / span:.1%}"
            if end.renderer_cpu_s is not None and start.renderer_cpu_s is not None
            else "n/a"
        )
        heaps = [s.heap_used for s in result.samples if s.t_s >= result.warmup_s]
        rows += [
            (
                "duration (s) / warm-up (s) / samples",
                f"{end.t_s:.0f} / {result.warmup_s:.0f} / {len(result.samples)}",
            ),
            (
                "deltas received / per minute after warm-up",
                f"{end.deltas} / {(end.deltas - start.deltas) * 60 / span:.0f}",
            ),
            ("snapshots / connects / REST polls", f"{end.snapshots} / {end.connects} / {end.polls}"),
            ("socket drops injected", str(result.drops)),
            (
                "JS heap used after GC, MB (start / end / max)",
                f"{_mb(start.heap_used)} / {_mb(end.heap_used)} / {_mb(max(heaps))}",
            ),
            ("JS heap growth after warm-up", "n/a" if growth is None else f"{growth:+.1%}"),
            ("JS heap trend, last half", _trend(result.trend_per_hour("heap_used", 1e6), "MB/h")),
            ("DOM nodes (start / end)", f"{start.nodes} / {end.nodes}"),
            ("event listeners (start / end)", f"{start.listeners} / {end.listeners}"),
            ("renderer RSS kB (start / end)", f"{start.renderer_rss_kb} / {end.renderer_rss_kb}"),
            ("renderer RSS trend, last half", _trend(result.trend_per_hour("renderer_rss_kb", 1024), "MB/h")),
            ("renderer CPU, share of one core", cpu),
            ("main-thread task time, share of wall", f"{(end.task_s - start.task_s) / span:.1%}"),
            ("zones / order blocks held by the page at the end", f"{end.zones} / {end.blocks}"),
        ]
    rows += [
        (
            "page state vs /api/overlays",
            "same ids and states" if result.state_mismatch is None else result.state_mismatch,
        ),
        ("page errors", str(len(result.page_errors))),
    ]
    failures = result.failures(max_heap_growth)
    rows.append(("verdict", "PASS" if not failures else "FAIL: " + "; ".join(failures)))
    width = max(len(name) for name, _ in rows)
    lines = ["page soak report", "-" * 16] + [f"{name:<{width}}  {value}" for name, value in rows]
    return "\n".join(lines)


def render_samples(samples: Sequence[PageSample], rows: int = 12) -> str:
    """About `rows` evenly spaced samples (always the first and the last), one line each."""
    if not samples:
        return "no samples"
    step = max(1, len(samples) // rows)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    lines = [
        f"{'t s':>6} {'heap MB':>8} {'nodes':>6} {'listeners':>9} {'renderer kB':>11} {'deltas':>7} "
        f"{'snapshots':>9} {'zones':>5} {'blocks':>6} mode"
    ]
    for s in picked:
        lines.append(
            f"{s.t_s:>6.0f} {s.heap_used / 1e6:>8.2f} {s.nodes:>6} {s.listeners:>9} {s.renderer_rss_kb or 0:>11} "
            f"{s.deltas:>7} {s.snapshots:>9} {s.zones:>5} {s.blocks:>6} {s.pill}"
        )
    return "\n".join(lines)


def state_difference(page: dict[str, dict[str, str]], server: dict[str, Any]) -> str | None:
    """None when the page holds exactly the server's zones and order blocks, with the same states."""
    for kind in ("zones", "orderblocks"):
        want = {str(item["id"]): item["status"] for item in server.get(kind) or []}
        have = page.get(kind) or {}
        if want != have:
            missing = sorted(set(want) - set(have))[:3]
            extra = sorted(set(have) - set(want))[:3]
            changed = sorted(k for k in set(want) & set(have) if want[k] != have[k])[:3]
            return f"{kind}: missing {missing}, extra {extra}, other state {changed}"
    return None


class PageSoak:
    def __init__(self, stack: ServiceStack, page: Any, browser: Any, result: PageSoakResult) -> None:
        self.stack = stack
        self.page = page
        self.result = result
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        self.browser_cdp = browser.new_browser_cdp_session()
        page.on("pageerror", lambda error: result.page_errors.append(str(error)[:200]))

    def renderer(self) -> tuple[int | None, float | None]:
        """(RSS kB, CPU seconds) of the page's renderer: the one renderer process of this browser."""
        info = self.browser_cdp.send("SystemInfo.getProcessInfo")["processInfo"]
        renderers = [p for p in info if p.get("type") == "renderer"]
        if not renderers:
            return None, None
        busiest = max(renderers, key=lambda p: p.get("cpuTime", 0.0))
        return proc_status_kb(int(busiest["id"]), "VmRSS"), float(busiest.get("cpuTime", 0.0))

    def sample(self, t_s: float) -> PageSample:
        self.cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        probe = self.page.evaluate(PAGE_PROBE)
        rss, cpu = self.renderer()
        counts = probe["counts"]
        return PageSample(
            t_s=t_s,
            heap_used=int(metrics.get("JSHeapUsedSize", 0)),
            nodes=int(metrics.get("Nodes", 0)),
            listeners=int(metrics.get("JSEventListeners", 0)),
            renderer_rss_kb=rss,
            renderer_cpu_s=cpu,
            task_s=float(metrics.get("TaskDuration", 0.0)),
            deltas=int(counts.get("deltas", 0)),
            snapshots=int(counts.get("snapshots", 0)),
            connects=int(counts.get("connects", 0)),
            polls=int(counts.get("polls", 0)),
            zones=int(probe["zones"]),
            blocks=int(probe["blocks"]),
            pill=str(probe["pill"]),
        )

    def converge(self) -> str | None:
        """Compare the page with the server, bracketing the page read between two identical server
        reads (zones change every cycle; the page is at most one push behind)."""
        difference: str | None = "never compared"
        for _ in range(CONVERGE_TRIES):
            before = self.stack.get_json("/api/overlays")
            page = self.page.evaluate(PAGE_STATE)
            after = self.stack.get_json("/api/overlays")
            if state_difference(page, before) is None or state_difference(page, after) is None:
                return None
            difference = state_difference(page, after)
            self.page.wait_for_timeout(200)
        return difference

    def run(self, duration_s: float, sample_every_s: float, drop_every_s: float) -> None:
        t0 = time.monotonic()
        next_sample = next_drop = 0.0
        if drop_every_s > 0:
            next_drop = drop_every_s
        while True:
            now = time.monotonic() - t0
            if not self.stack.serve or not self.stack.serve.alive:
                self.result.aborted = "serve exited"
                return
            if now >= next_sample:
                sample = self.sample(now)
                self.result.samples.append(sample)
                next_sample = now + sample_every_s
                progress(
                    f"+{now:5.0f}s mode={sample.pill} deltas={sample.deltas} snapshots={sample.snapshots} "
                    f"heap={sample.heap_used / 1e6:.2f}MB nodes={sample.nodes} listeners={sample.listeners} "
                    f"renderer={sample.renderer_rss_kb}kB zones={sample.zones} blocks={sample.blocks} "
                    f"load {load_text()}"
                )
                if now >= duration_s:
                    break
            if drop_every_s > 0 and now >= next_drop and now + DROP_BLOCK_MS / 1000 * 3 < duration_s:
                self.page.evaluate(f"window.__chartDebug.dropSocket({DROP_BLOCK_MS})")
                self.result.drops += 1
                next_drop = now + drop_every_s
                progress(f"+{now:5.0f}s dropped the page's socket for {DROP_BLOCK_MS} ms")
            wait_s = min(next_sample, next_drop if drop_every_s > 0 else next_sample) - (
                time.monotonic() - t0
            )
            self.page.wait_for_timeout(max(50.0, wait_s * 1000))
        self.page.wait_for_function("window.__chartDebug.pill === 'live'", timeout=30_000)
        self.result.state_mismatch = self.converge()


def default_warmup(duration_s: float) -> float:
    """The page's heap fills with the first snapshot, candles and the chart's caches within a
    minute; a quarter of the run, 30 s to 5 min."""
    return min(300.0, max(30.0, duration_s / 4))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.page_soak", description=__doc__.split("\n\n")[0])
    add_run_length(parser)
    parser.add_argument(
        "--publish-ms", type=int, default=1000, help="serve's PUBLISH_INTERVAL_MS (default 1000)"
    )
    parser.add_argument(
        "--sample-every", type=float, default=30.0, help="seconds between samples (default 30)"
    )
    parser.add_argument(
        "--drop-every", type=float, default=300.0, help="seconds between socket drops, 0 = none (default 300)"
    )
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the start sample")
    parser.add_argument(
        "--max-heap-growth", type=float, default=20.0, help="percent JS heap growth that fails (default 20)"
    )
    args = parser.parse_args(argv)
    args.duration_s = run_length_s(args)
    for name, value in (
        ("--minutes/--seconds", args.duration_s),
        ("--publish-ms", args.publish_ms),
        ("--sample-every", args.sample_every),
    ):
        if not value > 0:
            parser.error(f"{name} must be positive, got {value}")
    if args.drop_every < 0:
        parser.error("--drop-every must be 0 or positive")
    if args.warmup is None:
        args.warmup = default_warmup(args.duration_s)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python -m bench.page_soak " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        progress("playwright is not installed (make install)")
        return 2
    result = PageSoakResult(publish_ms=args.publish_ms, warmup_s=args.warmup)
    env = {"PUBLISH_INTERVAL_MS": str(args.publish_ms)}
    with ServiceStack(env=env, seed_candles=True) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(stack.base_url + "/")
            page.wait_for_function("window.__chartDebug && window.__chartDebug.ready", timeout=60_000)
            progress(f"page open; running {args.duration_s:g}s, warm-up {args.warmup:g}s")
            PageSoak(stack, page, browser, result).run(args.duration_s, args.sample_every, args.drop_every)
        finally:
            browser.close()
    print(render_samples(result.samples))
    print()
    print(render_report(result, args.max_heap_growth / 100, command))
    return 1 if result.failures(args.max_heap_growth / 100) else 0


if __name__ == "__main__":
    sys.exit(main())
