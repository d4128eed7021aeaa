"""Page frame time while panning a 7-day heatmap in Chromium.

    python -m bench.page_heatmap [--moves 300] [--rounds 3] [--hours 168] [--seed 7] [--viewport 1440x900]

Starts binance_sim + serve on a throw-away database holding the simulator's candles and
`--hours` of simulated heatmap columns at the defaults (60 s columns, 50 EUR bins, along those
candles: apps.live.demo_heatmap), opens the chart page in Debian's headless chromium, shows the
whole 7 days (the page picks its resolution from the zoom) and waits until the heatmap is
fetched and drawn. Then it pans the chart with the mouse (drags left and right, `--moves` mouse
events, the chart repaints every frame): once to warm up (not counted: the first pan pays for
compiling the page's code, 19 ms p99 where the next ones took 11), then `--rounds` alternating
rounds of: the heatmap as the page draws it (its picture cached, drawImage per frame), the heatmap
switched off, and Lightweight Charts alone (the baseline: the same script, candles, visible range
and size in a page of its own, no primitives, legend or transport); in the last round also the
heatmap drawn cell by cell with fillRect every frame (the naive way, for comparison).

Frame time = the main thread's work for one frame: every requestAnimationFrame callback of that
frame (the chart's whole repaint: grid, heatmap, bands, candles) timed in the page, plus, from a
Chromium trace of the same run, every main-thread task between two frames (input handling, paint,
commit). Also: the heatmap's own draw call per frame, and the build of its picture (once per data
or colour-scale change). Goal: p99 frame time < 16 ms with the heatmap on, as the median over the
rounds of each pan's p99. Progress on stderr, the
table on stdout; exit 1 when the goal is missed.

`--write-columns` is the child that writes the columns (Django set up on the stack's database).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.chromium import CHROMIUM, CHROMIUM_ARGS
from bench.percentiles import Distribution, number
from bench.processes import PYTHON, REPO
from bench.stack import ServiceStack, StackError, load_text, progress

GOAL_MS = 16.0
SYMBOL = "BTCEUR"

# every requestAnimationFrame callback timed, summed per frame (the frame's timestamp); installed
# before the page's scripts, so Lightweight Charts' own paint callback is wrapped too
FRAME_TIMER = """(() => {
  const raf = window.requestAnimationFrame.bind(window);
  const log = { on: false, stamps: [], work: [] };
  window.__frames = log;
  window.requestAnimationFrame = (callback) => raf((stamp) => {
    const started = performance.now();
    try {
      callback(stamp);
    } finally {
      if (log.on) {
        const spent = performance.now() - started;
        const last = log.stamps.length - 1;
        if (last >= 0 && log.stamps[last] === stamp) log.work[last] += spent;
        else { log.stamps.push(stamp); log.work.push(spent); }
      }
    }
  });
})();"""

SHOW_DAYS = """(hours) => {
  const d = __chartDebug;
  const n = d.series.data().length;
  const nowL = d.mapper.toLogical(Date.now() / 1000);
  d.chart.timeScale().setVisibleLogicalRange({from: nowL - hours - 2, to: nowL + 4});
}"""
HEATMAP_READY = """(since) => {
  const h = __chartDebug.heatmap;
  return h.inFlight === 0 && h.painted.drawn && h.first !== null && h.first <= since && h.scale !== null;
}"""


# -- the columns ---------------------------------------------------------------------------------


def write_columns(hours: int, seed: int) -> int:
    """Child process: simulated columns along the stored candles for the last `hours` (Django set up
    on the DATABASE_URL of the environment). Returns how many were written."""
    import random
    from decimal import Decimal

    import django

    django.setup()
    from django.conf import settings

    from apps.book.domain.events import Side
    from apps.heatmap.domain.grid import HeatmapParams, column_start
    from apps.heatmap.domain.packing import stored_row
    from apps.heatmap.services import store
    from apps.live.demo_heatmap import simulated_columns
    from apps.orderblocks.models import Candle as CandleRow
    from apps.simulator.klines import Candle
    from bench.zones import Market

    config = settings.CONFIG
    params = HeatmapParams.from_config(config)
    end_s = column_start(int(time.time() * 1000), params.column_s)
    start_s = end_s - hours * 3600
    ticks = lambda price: int(Decimal(price) * 100)  # noqa: E731
    candles = [
        Candle(
            row.open_time_ms,
            ticks(row.open),
            ticks(row.high),
            ticks(row.low),
            ticks(row.close),
            1,
            1,
            1,
            0,
            0,
            1,
            1,
            True,
        )
        for row in CandleRow.objects.filter(open_time_ms__gte=(start_s - 7200) * 1000).order_by(
            "open_time_ms"
        )
    ]
    if not candles:
        raise SystemExit("no candles stored: backfill_candles first")
    book = Market(random.Random(seed), None).book
    levels = (book.top(Side.BID, book.depth(Side.BID)), book.top(Side.ASK, book.depth(Side.ASK)))
    columns = simulated_columns(levels, candles, params, start_s, end_s, seed=seed)
    store.write_columns(config.symbol, params.bin_size, params.column_s, [stored_row(c) for c in columns])
    return len(columns)


class HeatmapStack(ServiceStack):
    """The bench stack with candles, order blocks and `hours` of heatmap columns before serve starts."""

    def __init__(self, hours: int, seed: int) -> None:
        super().__init__(seed_candles=True)
        self.hours = hours
        self.seed = seed

    def _seed_candles(self, env: dict[str, str]) -> None:
        super()._seed_candles(env)
        progress(f"writing {self.hours} h of simulated heatmap columns")
        done = subprocess.run(
            [
                PYTHON,
                "-m",
                "bench.page_heatmap",
                "--write-columns",
                "--hours",
                str(self.hours),
                "--seed",
                str(self.seed),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise StackError(f"writing heatmap columns failed: {done.stderr.strip()[-800:]}")
        progress(done.stdout.strip())


# -- the page ------------------------------------------------------------------------------------


@dataclass
class PanRun:
    name: str
    frames: Distribution  # ms of rAF work per frame
    trace_frames: Distribution  # wall ms of main-thread tasks per frame (Chromium trace)
    trace_cpu: Distribution  # CPU ms of the same
    heatmap_draw: Distribution  # ms of the heatmap's draw per frame
    frame_count: int
    seconds: float


TASKS = {"RunTask", "ThreadControllerImpl::RunTask"}
# top-level tasks and frame boundaries only: "devtools.timeline" would trace every JS call and
# inflate what it measures
TRACE_CATEGORIES = ["toplevel", "disabled-by-default-devtools.timeline.frame"]


def main_thread_per_frame(trace: Any) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) the renderer main thread spent in top-level tasks between consecutive frames
    (BeginMainThreadFrame), for the renderer that drew the most frames (the page's)."""
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    mains = {key for key, name in names.items() if name == "CrRendererMain"}
    frames: dict[tuple[int, int], list[float]] = {}
    tasks: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if key not in mains:
            continue
        if e.get("name") == "BeginMainThreadFrame":
            frames.setdefault(key, []).append(e["ts"])
        elif e.get("name") in TASKS and e.get("ph") == "X":
            tasks.setdefault(key, []).append((e["ts"], e.get("dur", 0), e.get("tdur", e.get("dur", 0))))
    if not frames:
        return [], []
    key = max(frames, key=lambda k: len(frames[k]))
    starts = sorted(frames[key])
    wall = [0.0] * (len(starts) - 1)
    cpu = [0.0] * (len(starts) - 1)
    at = 0
    for ts, dur, tdur in sorted(tasks.get(key, [])):
        if not starts[0] <= ts < starts[-1]:
            continue
        while ts >= starts[at + 1]:
            at += 1
        wall[at] += dur / 1000
        cpu[at] += tdur / 1000
    return wall, cpu


def pan(page: Any, browser: Any, name: str, moves: int) -> PanRun:
    """Drag the chart left and right `moves` mouse events long; frame times from the page and a trace."""
    box = page.locator("#chart").bounding_box()
    y = box["y"] + box["height"] * 0.55
    x0 = box["x"] + box["width"] * 0.5
    page.mouse.move(x0, y)
    page.evaluate("() => { __frames.on = true; __frames.stamps = []; __frames.work = []; }")
    draws_before = page.evaluate("__chartDebug.heatmap.drawCount")
    view = page.evaluate("__chartDebug.chart.timeScale().getVisibleLogicalRange()")
    browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
    started = time.monotonic()
    page.mouse.down()
    step, offset = 6, 0
    for _ in range(moves):
        if abs(offset + step) > 240:  # back and forth: the 7 days stay in view
            step = -step
        offset += step
        page.mouse.move(x0 + offset, y)
    page.mouse.up()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    seconds = time.monotonic() - started
    trace = json.loads(browser.stop_tracing())
    log = page.evaluate(
        "() => { __frames.on = false; return {stamps: __frames.stamps, work: __frames.work}; }"
    )
    # the pan's draws: the newest of the (bounded) list, as many as were drawn meanwhile
    drawn = page.evaluate("__chartDebug.heatmap.drawCount") - draws_before
    draws = page.evaluate("__chartDebug.heatmap.drawMs")[-drawn:] if drawn > 0 else []
    draws = draws if page.evaluate("__chartDebug.heatmap.visible") else []
    # the pan ends off-centre: back to the view it started from, so every pan sees the same 7 days
    page.evaluate("(view) => __chartDebug.chart.timeScale().setVisibleLogicalRange(view)", view)
    stamps = log["stamps"]
    wall, cpu = main_thread_per_frame(trace)
    return PanRun(
        name=name,
        frames=Distribution.of(log["work"]),
        trace_frames=Distribution.of(wall),
        trace_cpu=Distribution.of(cpu),
        heatmap_draw=Distribution.of(draws),
        frame_count=len(stamps),
        seconds=seconds,
    )


# the baseline: Lightweight Charts alone (same script, candles, visible range, size and theme as the
# page; no primitives, no legend, no transport), in a page of its own in the same browser
BARE_CHART = """([candles, range, box]) => {
  const el = document.createElement("div");
  el.id = "chart";
  Object.assign(el.style, {position: "absolute", left: box.x + "px", top: box.y + "px",
    width: box.width + "px", height: box.height + "px"});
  document.body.style.margin = "0";
  document.body.style.background = "#0d1117";
  document.body.appendChild(el);
  const chart = LightweightCharts.createChart(el, {
    autoSize: true,
    layout: {background: {type: "solid", color: "#0d1117"}, textColor: "#c9d1d9", fontSize: 12},
    grid: {vertLines: {color: "#161b22"}, horzLines: {color: "#161b22"}},
    timeScale: {timeVisible: true, secondsVisible: false, rightOffset: 12, barSpacing: 9},
    crosshair: {mode: LightweightCharts.CrosshairMode.Normal},
  });
  const series = chart.addCandlestickSeries({borderVisible: false});
  series.setData(candles);
  chart.timeScale().setVisibleLogicalRange(range);
  window.__chartDebug = {chart, heatmap: {drawMs: [], drawCount: 0, visible: false}};
  return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""
LWC_SCRIPT = "/static/vendor/lightweight-charts/lightweight-charts.standalone.production.js"


def bare_chart_pan(browser: Any, page: Any, base_url: str, viewport: Any, moves: int) -> PanRun:
    """The same pan on Lightweight Charts alone: what the chart library costs on this machine."""
    candles = page.evaluate("__chartDebug.series.data()")
    visible = page.evaluate("__chartDebug.chart.timeScale().getVisibleLogicalRange()")
    box = page.locator("#chart").bounding_box()
    bare = browser.new_page(viewport=viewport)
    try:
        bare.set_content("<!doctype html><html><body></body></html>")
        bare.evaluate(FRAME_TIMER)  # before the chart asks for its first frame
        bare.add_script_tag(url=base_url + LWC_SCRIPT)
        bare.evaluate(BARE_CHART, [candles, visible, box])
        bare.wait_for_timeout(300)
        return pan(bare, browser, "Lightweight Charts alone", moves)
    finally:
        bare.close()


def settle(page: Any) -> None:
    """After a pan the page may ask for the part of the heatmap that came into view: wait for it."""
    page.wait_for_timeout(400)
    page.wait_for_function("() => __chartDebug.heatmap.inFlight === 0", timeout=60_000)
    page.wait_for_timeout(200)


ON, CELLS, OFF = "heatmap on (cached picture)", "heatmap on, per-cell fillRect", "heatmap off"
BARE = "Lightweight Charts alone"
SETUPS = {
    ON: "() => { __chartDebug.setHeatmapVisible(true); __chartDebug.setHeatmapMode('image'); }",
    CELLS: "() => { __chartDebug.setHeatmapVisible(true); __chartDebug.setHeatmapMode('cells'); }",
    OFF: "() => { __chartDebug.setHeatmapMode('image'); __chartDebug.setHeatmapVisible(false); }",
}


def run(moves: int, hours: int, seed: int, viewport: Any, rounds: int) -> tuple[list[PanRun], dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    with HeatmapStack(hours, seed) as stack, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)[:200]))
            page.add_init_script(FRAME_TIMER)
            page.goto(stack.base_url + "/")
            page.wait_for_function(
                "() => window.__chartDebug && __chartDebug.ready && __chartDebug.pill === 'live'",
                timeout=60_000,
            )
            page.wait_for_function(
                "() => __chartDebug.mapper.lastTime >= Math.floor(Date.now() / 3600000) * 3600",
                timeout=30_000,
            )
            page.evaluate(SHOW_DAYS, hours)
            since = time.time() - hours * 3600 + 3 * 3600
            page.wait_for_function(HEATMAP_READY, arg=since, timeout=120_000)
            settle(page)
            info = page.evaluate("""() => { const h = __chartDebug.heatmap;
              return {resolution: h.resolution, columns: h.columns, first: h.first, last: h.last, scale: h.scale,
                      build: h.buildMs, fetches: h.counts.heatmapFetches + h.counts.tailFetches,
                      painted: h.painted, width: __chartDebug.painted.width}; }""")
            runs = []
            page.evaluate(SETUPS[ON])
            settle(page)
            progress(f"warm-up pan, not counted (load {load_text()})")
            pan(page, browser, "warm-up", moves)  # the first pan pays for compiling the page's code
            settle(page)
            for round_no in range(1, rounds + 1):
                for name in (ON, OFF, CELLS) if round_no == rounds else (ON, OFF):
                    page.evaluate(SETUPS[name])
                    settle(page)
                    progress(f"round {round_no}/{rounds}: {name} (load {load_text()})")
                    runs.append(pan(page, browser, name, moves))
                    settle(page)
                progress(f"round {round_no}/{rounds}: {BARE} (load {load_text()})")
                runs.append(bare_chart_pan(browser, page, stack.base_url, viewport, moves))
            info["errors"] = errors
            return runs, info
        finally:
            browser.close()


def _triple(d: Distribution) -> str:
    return f"{number(d.p50, 2)} / {number(d.p99, 2)} / {number(d.max, 1)}" if d.count else "-"


def frame_p99(run: PanRun) -> float:
    """The verdict's figure: p99 of the main thread's CPU time per frame (the trace), what the page
    costs regardless of what else this shared machine runs; the in-page rAF work without a trace."""
    return run.trace_cpu.p99 if run.trace_cpu.count else run.frames.p99


def by_name(runs: Sequence[PanRun], name: str) -> list[PanRun]:
    return [r for r in runs if r.name == name]


def median_frame_p99(runs: Sequence[PanRun], name: str) -> float:
    """The verdict's figure: the median over rounds of each pan's frame p99 (one pan's p99 swings
    with whatever else this shared machine runs: medians of alternating rounds, as the other benches)."""
    values = [frame_p99(r) for r in by_name(runs, name)]
    return statistics.median(values) if values else float("nan")


def render(runs: Sequence[PanRun], info: dict[str, Any], command: str) -> str:
    bins = info["painted"].get("bins", [0, 0])
    days = (info["last"] - info["first"]) / 86400
    head = (
        f"{'run':<30} {'frames':>6} {'fps':>4}  {'rAF work ms p50/p99/max':>24}  "
        f"{'main thread wall ms':>22}  {'main thread CPU ms':>22}  {'heatmap draw ms':>16}"
    )
    lines = [
        f"command: {command}",
        f"machine: {os.cpu_count()} cores, load {load_text()} at the end",
        f"heatmap: {info['columns']} cells of {info['resolution']} s from "
        f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(info['first']))} UTC ({days:.1f} days), "
        f"{bins[1] - bins[0]} bins in view, pane {info['width']} px, {info['fetches']} requests; "
        "picture builds (ms, one per data or colour-scale change): "
        + ", ".join(f"{ms:.1f}" for ms in info["build"][-6:]),
        "frame = one frame of the pan: rAF work = every requestAnimationFrame callback (the chart's repaint),",
        "timed in the page; main thread = every top-level task between two frames (Chromium trace), wall and CPU",
        "",
        head,
        "-" * len(head),
    ]
    for r in runs:
        fps = r.frame_count / r.seconds if r.seconds else float("nan")
        draw = (
            f"{number(r.heatmap_draw.p50, 2)} / {number(r.heatmap_draw.p99, 2)}"
            if r.heatmap_draw.count
            else "-"
        )
        lines.append(
            f"{r.name:<30} {r.frame_count:>6} {fps:>4.0f}  {_triple(r.frames):>24}  "
            f"{_triple(r.trace_frames):>22}  {_triple(r.trace_cpu):>22}  {draw:>16}"
        )
    verdict = median_frame_p99(runs, ON)
    lines += [
        "",
        "median over rounds of each run's frame p99 (main thread CPU ms): "
        + ", ".join(f"{name} {median_frame_p99(runs, name):.2f}" for name in (ON, OFF, BARE, CELLS)),
        f"page-heatmap: frame p99 {verdict:.2f} ms CPU (median of {len(by_name(runs, ON))} rounds) panning a "
        f"{days:.1f}-day heatmap (goal < {GOAL_MS:g} ms): {'OK' if verdict < GOAL_MS else 'MISSED'}; "
        f"heatmap off {median_frame_p99(runs, OFF):.2f} ms; Lightweight Charts alone "
        f"{median_frame_p99(runs, BARE):.2f} ms",
    ]
    if info["errors"]:
        lines.append(f"page errors: {info['errors'][:3]}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.page_heatmap", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--moves", type=int, default=300, help="mouse moves per pan (default 300)")
    parser.add_argument("--hours", type=int, default=168, help="hours of heatmap columns (default 168)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of pans (default 3)")
    parser.add_argument("--viewport", default="1440x900", help="WIDTHxHEIGHT (default 1440x900)")
    parser.add_argument("--write-columns", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.moves <= 0 or args.hours <= 0 or args.rounds <= 0:
        parser.error("--moves, --hours and --rounds must be positive")
    try:
        width, height = (int(v) for v in args.viewport.lower().split("x"))
    except ValueError:
        parser.error(f"--viewport must be WIDTHxHEIGHT, got {args.viewport!r}")
    args.viewport_size = {"width": width, "height": height}
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.write_columns:
        print(f"{write_columns(args.hours, args.seed)} columns written")
        return 0
    if not Path(CHROMIUM).exists():
        progress(f"{CHROMIUM} is not installed (make system-packages)")
        return 2
    command = "python -m bench.page_heatmap " + " ".join(sys.argv[1:] if argv is None else argv)
    runs, info = run(args.moves, args.hours, args.seed, args.viewport_size, args.rounds)
    print(render(runs, info, command.strip()))
    return 0 if median_frame_p99(runs, ON) < GOAL_MS and not info["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
