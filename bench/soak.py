"""Soak: `manage.py serve` against the simulator for N minutes, a fault every minute, truth-checked.

    python -m bench.soak --minutes 10          (make soak; MINUTES=2 make soak)
    python -m bench.soak --seconds 90 --fault-every 20

Starts `manage.py binance_sim` as its own process and `manage.py serve` pointed at it through
BINANCE_WS_URL / BINANCE_REST_URL with a temp SQLite database (migrated first), then:
- polls GET /api/book every --poll-ms and, whenever the status is "live" and the update id is new,
  compares (update_id, bids, asks) with GET /sim/truth?update_id=..&limit=100 on the simulator;
- fires one fault every --fault-every seconds (first one half an interval after the stream is live),
  rotating gap, disconnect, stall, 429, malformed, fast move (POST /sim/control), and times each
  recovery: from the fault to the first live book with a newer update id, once /api/health shows the
  service saw the fault (its counters moved, or the book moved for a fast move);
- samples the serve process's RSS (/proc/PID/status VmRSS) every 10 s; the growth from the end of
  the warm-up (a quarter of the run, at most 10 minutes) to the end is what --max-rss-growth judges,
  and the report adds the growth per half and the trend over the last half (MB per hour).
Progress goes to stderr every 10 s; the report is a table on stdout. Exit status 1 if any book
differed, any fault did not recover, RSS grew more than --max-rss-growth, or no book was checked.
Options and environment: every service setting (WATCHDOG_S, PUBLISH_INTERVAL_MS, ...) is taken from
the environment as usual; the soak only sets the database, the exchange URLs and REDIS_URL="".
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from bench.processes import ServiceProcess, free_port, manage_argv, migrate, tail_of
from bench.trend import last_half_slope_per_hour

PROGRESS_EVERY_S = 10.0
HEALTH_EVERY_S = 1.0
TRUTH_LIMIT = 100
FAULT_ROTATION = ("gap", "disconnect", "stall", "429", "malformed", "fast_move")


# ---------------------------------------------------------------------------------------------
# pure judgement: book vs truth, fault evidence, schedule, verdict


def _levels(raw: Any) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(price)), Decimal(str(qty))) for price, qty in raw]


def book_differences(book: Mapping[str, Any], truth: Mapping[str, Any]) -> list[str]:
    """Where a published book (GET /api/book) differs from the simulator's truth at its update id.

    Prices and quantities compare as exact decimals ("87000.10" == "87000.10000000"). Empty list:
    identical update id and identical top levels on both sides.
    """
    problems: list[str] = []
    if book.get("update_id") != truth.get("update_id"):
        problems.append(f"update_id {book.get('update_id')} != truth {truth.get('update_id')}")
    for side in ("bids", "asks"):
        try:
            mine, theirs = _levels(book.get(side, [])), _levels(truth.get(side, []))
        except (InvalidOperation, ValueError, TypeError) as exc:
            problems.append(f"{side}: unreadable levels ({exc})")
            continue
        if len(mine) != len(theirs):
            problems.append(f"{side}: {len(mine)} levels != truth {len(theirs)}")
        for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            if a != b:
                problems.append(f"{side}[{i}]: {a[0]} x {a[1]} != truth {b[0]} x {b[1]}")
                break
    return problems


def counter_total(value: Any) -> int:
    """Sum of a health counter that is a number or a {reason: count} dict."""
    if isinstance(value, Mapping):
        return sum(int(v) for v in value.values() if isinstance(v, int | float))
    return int(value) if isinstance(value, int | float) else 0


def _stream(health: Mapping[str, Any]) -> Mapping[str, Any]:
    stream = health.get("stream", {})
    return stream if isinstance(stream, Mapping) else {}


def _moved(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> bool:
    return counter_total(_stream(after).get(key)) > counter_total(_stream(before).get(key))


def _rest_moved(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> bool:
    rest_before = _stream(before).get("rest") or {}
    rest_after = _stream(after).get("rest") or {}
    return counter_total(rest_after.get(key)) > counter_total(rest_before.get(key))


def best_bid(book: Mapping[str, Any]) -> Decimal | None:
    bids = book.get("bids") or []
    return Decimal(str(bids[0][0])) if bids else None


@dataclass(frozen=True)
class FaultContext:
    """What a fault needs to arm and to recognise that the service saw it."""

    index: int  # 0, 1, 2, ... over the run (fast moves alternate direction with it)
    mid: Decimal  # the simulator's mid when the fault fires
    watchdog_s: float


@dataclass(frozen=True)
class Observation:
    health: Mapping[str, Any]
    book: Mapping[str, Any]


def fault_actions(name: str, ctx: FaultContext) -> list[dict[str, Any]]:
    """The POST /sim/control bodies for one fault."""
    if name == "gap":
        return [{"action": "inject_gap", "skip_ids": 5}]
    if name == "disconnect":
        return [{"action": "disconnect", "mode": "abrupt"}]
    if name == "stall":  # silent but open: only the service's data watchdog can notice
        return [{"action": "stall", "seconds": round(ctx.watchdog_s + 3.0, 3)}]
    if name == "429":  # the resync's snapshot request is answered 429 with Retry-After
        return [
            {"action": "rest_fault", "kind": "429", "times": 1, "retry_after": 2, "path": "/api/v3/depth"},
            {"action": "inject_gap", "skip_ids": 5},
        ]
    if name == "malformed":
        return [{"action": "inject_frame", "kind": "malformed_json"}]
    if name == "fast_move":
        return [
            {
                "action": "fast_move",
                "direction": fast_move_direction(ctx),
                "distance": str(fast_move_distance(ctx)),
            }
        ]
    raise ValueError(f"unknown fault {name!r}")


def fast_move_direction(ctx: FaultContext) -> str:
    return "up" if (ctx.index // len(FAULT_ROTATION)) % 2 == 0 else "down"


def fast_move_distance(ctx: FaultContext) -> Decimal:
    """0.5 % of the mid, in whole cents."""
    return (ctx.mid * Decimal("0.005")).quantize(Decimal("0.01"))


def fault_seen(name: str, ctx: FaultContext, before: Observation, now: Observation) -> bool:
    """True once /api/health (or the published book) shows the service reacted to the fault."""
    if name == "gap":
        return _moved(before.health, now.health, "resyncs")
    if name in ("disconnect", "stall"):
        return _moved(before.health, now.health, "reconnects")
    if name == "429":
        return _rest_moved(before.health, now.health, "count_429") and _moved(
            before.health, now.health, "resyncs"
        )
    if name == "malformed":
        return _moved(before.health, now.health, "bad_frames")
    if name == "fast_move":
        old, new = best_bid(before.book), best_bid(now.book)
        if old is None or new is None:
            return False
        half = fast_move_distance(ctx) / 2
        return new >= old + half if fast_move_direction(ctx) == "up" else new <= old - half
    raise ValueError(f"unknown fault {name!r}")


def fault_schedule(duration_s: float, every_s: float) -> list[float]:
    """Seconds after the stream is first live at which faults fire: every_s/2, then every every_s."""
    times: list[float] = []
    t = every_s / 2
    while t < duration_s:
        times.append(round(t, 3))
        t += every_s
    return times


@dataclass
class FaultRun:
    name: str
    at_s: float  # seconds after the stream was first live
    fired_mono: float
    update_id_at_fault: int
    ctx: FaultContext
    before: Observation
    seen_s: float | None = None
    recovered_s: float | None = None
    recovered_update_id: int | None = None
    note: str = ""

    @property
    def recovered(self) -> bool:
        return self.recovered_s is not None


@dataclass
class SoakResult:
    duration_s: float = 0.0
    books_polled: int = 0
    books_checked: int = 0
    books_differed: int = 0
    books_unverifiable: int = 0
    differences: list[str] = field(default_factory=list)
    faults: list[FaultRun] = field(default_factory=list)
    rss_start_kb: int | None = None
    rss_end_kb: int | None = None
    rss_max_kb: int | None = None
    threads_end: int | None = None
    threads_max: int | None = None
    rss_marks: list[int] = field(default_factory=list)  # at 25, 50 and 75 % of the run
    rss_samples: list[tuple[float, int]] = field(default_factory=list)  # (s from live, kB) every 10 s
    warmup_s: float = 0.0
    snapshots: int = 0
    rest_requests: int = 0
    weight_used_1m_max: int = 0
    weight_limit_1m: int = 0
    count_429: int = 0
    count_418: int = 0
    reconnects: int = 0
    resyncs: int = 0
    bad_frames: int = 0
    final_status: str = ""
    aborted: str = ""

    @property
    def rss_growth(self) -> float | None:
        if not self.rss_start_kb or self.rss_end_kb is None:
            return None
        return (self.rss_end_kb - self.rss_start_kb) / self.rss_start_kb

    def half_growth_text(self) -> str:
        """Growth in each half of the run: a leak grows in both, a warm-up only in the first."""
        if len(self.rss_marks) < 2 or not self.rss_start_kb or self.rss_end_kb is None:
            return "n/a"
        middle = self.rss_marks[1]
        return f"{middle - self.rss_start_kb:+d} kB / {self.rss_end_kb - middle:+d} kB"

    def rss_trend_mb_per_hour(self) -> float | None:
        """Least-squares slope of RSS over the last half of the run, in MB per hour (bench.trend)."""
        slope_kb = last_half_slope_per_hour(self.rss_samples)
        return None if slope_kb is None else slope_kb / 1024

    def failures(self, max_rss_growth: float) -> list[str]:
        """Why the soak failed; empty when it passed."""
        out: list[str] = []
        if self.aborted:
            out.append(f"aborted: {self.aborted}")
        if self.books_checked == 0:
            out.append("no live book was checked against the truth")
        if self.books_differed:
            out.append(f"{self.books_differed} published book(s) differed from the simulator's truth")
        for fault in self.faults:
            if not fault.recovered:
                out.append(
                    f"fault {fault.name} at {fault.at_s:g}s did not recover ({fault.note or 'timed out'})"
                )
        growth = self.rss_growth
        if growth is None:
            out.append("serve RSS could not be sampled at start and end")
        elif growth > max_rss_growth:
            out.append(f"serve RSS grew {growth:.1%} after the warm-up (> {max_rss_growth:.0%})")
        return out


def trend_text(mb_per_hour: float | None) -> str:
    return "n/a" if mb_per_hour is None else f"{mb_per_hour:+.1f}"


def render_report(result: SoakResult, max_rss_growth: float, command: str) -> str:
    rows: list[tuple[str, str]] = [
        ("command", command),
        ("duration (s, from first live)", f"{result.duration_s:.1f}"),
        ("books polled", str(result.books_polled)),
        ("books checked vs truth (live, distinct update_id)", str(result.books_checked)),
        ("books differed", str(result.books_differed)),
        ("books unverifiable (truth expired)", str(result.books_unverifiable)),
        (
            "faults fired / recovered",
            f"{len(result.faults)} / {sum(1 for f in result.faults if f.recovered)}",
        ),
    ]
    times = [f.recovered_s for f in result.faults if f.recovered_s is not None]
    if times:
        rows.append(("recovery s (median / max)", f"{statistics.median(times):.2f} / {max(times):.2f}"))
    growth = result.rss_growth
    rows += [
        (f"serve RSS start (kB, after the {result.warmup_s:g} s warm-up)", str(result.rss_start_kb)),
        ("serve RSS end (kB)", str(result.rss_end_kb)),
        (
            "serve RSS delta",
            "n/a"
            if growth is None or result.rss_start_kb is None or result.rss_end_kb is None
            else f"{result.rss_end_kb - result.rss_start_kb:+d} kB ({growth:+.1%}, limit +{max_rss_growth:.0%})",
        ),
        ("serve RSS max seen (kB)", str(result.rss_max_kb)),
        ("serve OS threads (end / max seen)", f"{result.threads_end} / {result.threads_max}"),
        (
            "serve RSS at 25 / 50 / 75 / 100 % (kB)",
            " / ".join(str(kb) for kb in [*result.rss_marks, result.rss_end_kb]),
        ),
        ("serve RSS growth, 1st half / 2nd half", result.half_growth_text()),
        ("serve RSS trend, last half (MB/h, least squares)", trend_text(result.rss_trend_mb_per_hour())),
        ("snapshots fetched", str(result.snapshots)),
        ("REST requests", str(result.rest_requests)),
        ("weight used per 1m (max seen / limit)", f"{result.weight_used_1m_max} / {result.weight_limit_1m}"),
        ("429 / 418 answers", f"{result.count_429} / {result.count_418}"),
        (
            "reconnects / resyncs / bad frames",
            f"{result.reconnects} / {result.resyncs} / {result.bad_frames}",
        ),
        ("final status", result.final_status),
    ]
    width = max(len(k) for k, _ in rows)
    lines = ["", "soak report", "-" * (width + 30)]
    lines += [f"{k.ljust(width)}  {v}" for k, v in rows]
    if result.faults:
        lines += [
            "",
            f"{'fault':<11}{'at_s':>8}{'seen_s':>9}{'recovered_s':>13}{'update_id at fault':>21}"
            f"{'live again at':>16}  note",
        ]
        for f in result.faults:
            lines.append(
                f"{f.name:<11}{f.at_s:>8.1f}{_opt(f.seen_s):>9}{_opt(f.recovered_s):>13}"
                f"{f.update_id_at_fault:>21}{f.recovered_update_id or '-':>16}  {f.note}"
            )
    if result.differences:
        lines += ["", "first differences:"] + [f"  {d}" for d in result.differences[:10]]
    failures = result.failures(max_rss_growth)
    lines += ["", "RESULT: " + ("PASS" if not failures else "FAIL")]
    lines += [f"  - {f}" for f in failures]
    return "\n".join(lines)


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# ---------------------------------------------------------------------------------------------
# the run


@dataclass
class SoakOptions:
    duration_s: float
    fault_every_s: float
    poll_s: float
    warmup_s: float
    recover_timeout_s: float
    max_rss_growth: float
    seed: int
    keep: bool


def progress(message: str) -> None:
    sys.stderr.write(f"soak: {message}\n")
    sys.stderr.flush()


class Soak:
    def __init__(self, options: SoakOptions, workdir: Path) -> None:
        self.o = options
        self.workdir = workdir
        self.sim_port = free_port()
        self.web_port = free_port()
        self.sim_url = f"http://127.0.0.1:{self.sim_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir / 'soak.sqlite3'}",
            "BINANCE_WS_URL": f"ws://127.0.0.1:{self.sim_port}",
            "BINANCE_REST_URL": self.sim_url,
            "REDIS_URL": "",
            "PYTHONUNBUFFERED": "1",
        }
        self.watchdog_s = float(self.env.get("WATCHDOG_S", "10"))
        self.sim = ServiceProcess(
            "binance_sim",
            manage_argv("binance_sim", "--port", str(self.sim_port), "--seed", str(options.seed)),
            self.env,
            workdir,
        )
        self.serve = ServiceProcess(
            "serve",
            manage_argv("serve", "--host", "127.0.0.1", "--port", str(self.web_port)),
            self.env,
            workdir,
        )
        self.http = httpx.Client(timeout=5.0)
        self.result = SoakResult()
        self.checked_ids: set[int] = set()
        self.health: dict[str, Any] = {}
        self.book: dict[str, Any] = {}

    # -- set-up / tear-down ------------------------------------------------------------------
    def start(self) -> None:
        progress(f"work dir {self.workdir}")
        progress("migrating a fresh SQLite database")
        migrate(self.env)
        progress(f"starting binance_sim on {self.sim_url}")
        self.sim.start()
        self.sim.wait_http(f"{self.sim_url}/sim/state")
        progress(f"starting serve on {self.web_url}")
        self.serve.start()
        self.serve.wait_http(f"{self.web_url}/api/health")

    def close(self) -> None:
        self.http.close()
        self.serve.terminate()
        self.sim.terminate()
        for proc in (self.serve, self.sim):
            code = proc.stop()
            progress(f"{proc.name} stopped (exit {code})")

    # -- HTTP --------------------------------------------------------------------------------
    def _get(self, url: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(url, params=params)
        response.raise_for_status()
        return response.json()

    def control(self, body: Mapping[str, Any]) -> None:
        response = self.http.post(f"{self.sim_url}/sim/control", json=dict(body))
        if response.status_code != 200:
            raise RuntimeError(f"sim control {body} -> {response.status_code} {response.text}")

    def observe(self, with_health: bool) -> Observation:
        self.book = self._get(f"{self.web_url}/api/book")
        self.result.books_polled += 1
        if with_health or not self.health:
            self.health = self._get(f"{self.web_url}/api/health")
            self._note_health()
        self._check_book(self.book)
        return Observation(self.health, self.book)

    def _check_book(self, book: Mapping[str, Any]) -> None:
        update_id = book.get("update_id")
        if book.get("status") != "live" or not isinstance(update_id, int) or update_id in self.checked_ids:
            return
        self.checked_ids.add(update_id)
        response = self.http.get(
            f"{self.sim_url}/sim/truth", params={"update_id": update_id, "limit": TRUTH_LIMIT}
        )
        if response.status_code == 400:  # older than the simulator's truth history
            self.result.books_unverifiable += 1
            return
        response.raise_for_status()
        problems = book_differences(book, response.json())
        self.result.books_checked += 1
        if problems:
            self.result.books_differed += 1
            self.result.differences.append(f"update_id={update_id}: {'; '.join(problems)}")
            progress(f"BOOK DIFFERS at update_id={update_id}: {problems[0]}")

    def _note_health(self) -> None:
        stream = _stream(self.health)
        rest = stream.get("rest") or {}
        r = self.result
        r.snapshots = int(stream.get("snapshots") or 0)
        r.rest_requests = int(rest.get("requests") or 0)
        r.weight_used_1m_max = max(r.weight_used_1m_max, int(rest.get("weight_used_1m") or 0))
        r.weight_limit_1m = int(rest.get("weight_limit_1m") or 0)
        r.count_429 = int(rest.get("count_429") or 0)
        r.count_418 = int(rest.get("count_418") or 0)
        r.reconnects = counter_total(stream.get("reconnects"))
        r.resyncs = counter_total(stream.get("resyncs"))
        r.bad_frames = counter_total(stream.get("bad_frames"))
        r.final_status = str(self.health.get("status", ""))
        rss = self.serve.rss_kb()
        if rss is not None:
            r.rss_max_kb = max(r.rss_max_kb or 0, rss)
        threads = self.serve.thread_count()
        if threads is not None:
            r.threads_max = max(r.threads_max or 0, threads)

    # -- faults ------------------------------------------------------------------------------
    def fire(self, index: int, at_s: float) -> FaultRun:
        name = FAULT_ROTATION[index % len(FAULT_ROTATION)]
        before = self.observe(with_health=True)
        state = self._get(f"{self.sim_url}/sim/state")
        ctx = FaultContext(index=index, mid=Decimal(state["mid"]), watchdog_s=self.watchdog_s)
        actions = fault_actions(name, ctx)
        fired = time.monotonic()
        for body in actions:
            self.control(body)
        update_id = int(self._get(f"{self.sim_url}/sim/state")["update_id"])
        run = FaultRun(name, at_s, fired, update_id, ctx, before)
        progress(f"fault #{index + 1} {name} at +{at_s:.0f}s (sim update_id {update_id}): {actions}")
        return run

    def settle(self, run: FaultRun, now: Observation) -> bool:
        """Update a pending fault; True once it is resolved (recovered or given up)."""
        elapsed = time.monotonic() - run.fired_mono
        if run.seen_s is None and fault_seen(run.name, run.ctx, run.before, now):
            run.seen_s = elapsed
        book = now.book
        update_id = book.get("update_id")
        if (
            run.seen_s is not None
            and book.get("status") == "live"
            and isinstance(update_id, int)
            and update_id > run.update_id_at_fault
        ):
            run.recovered_s = elapsed
            run.recovered_update_id = update_id
            progress(f"fault {run.name} recovered in {elapsed:.2f}s (live at update_id {update_id})")
            return True
        if elapsed > self.o.recover_timeout_s:
            run.note = (
                "service never showed the fault"
                if run.seen_s is None
                else f"not live past update_id {run.update_id_at_fault}"
            )
            progress(f"fault {run.name} NOT recovered after {elapsed:.1f}s: {run.note}")
            return True
        return False

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> SoakResult:
        r = self.result
        progress("waiting for the first live book")
        deadline = time.monotonic() + 60
        while True:
            obs = self.observe(with_health=True)
            if obs.book.get("status") == "live":
                break
            if time.monotonic() > deadline:
                r.aborted = f"serve never went live (status {obs.book.get('status')})"
                return r
            time.sleep(self.o.poll_s)
        t0 = time.monotonic()
        schedule = fault_schedule(self.o.duration_s, self.o.fault_every_s)
        progress(
            f"live; running {self.o.duration_s:g}s with faults at +{', +'.join(f'{t:g}' for t in schedule) or 'none'}s"
        )
        pending: FaultRun | None = None
        next_fault = 0
        next_health = next_progress = 0.0
        r.warmup_s = self.o.warmup_s
        while True:
            now = time.monotonic() - t0
            if r.rss_start_kb is None and now >= self.o.warmup_s:
                r.rss_start_kb = self.serve.rss_kb()
                progress(f"serve RSS after {self.o.warmup_s:g}s warm-up: {r.rss_start_kb} kB")
            if len(r.rss_marks) < 3 and now >= self.o.duration_s * (len(r.rss_marks) + 1) / 4:
                r.rss_marks.append(self.serve.rss_kb() or 0)
            if not self.serve.alive or not self.sim.alive:
                r.aborted = "serve exited" if not self.serve.alive else "binance_sim exited"
                break
            if now >= self.o.duration_s and pending is None:
                break
            if pending is None and next_fault < len(schedule) and now >= schedule[next_fault]:
                pending = self.fire(next_fault, now)
                r.faults.append(pending)
                next_fault += 1
            want_health = pending is not None or now >= next_health
            try:
                obs = self.observe(with_health=want_health)
            except httpx.HTTPError as exc:
                progress(f"poll failed: {exc!r}")
                time.sleep(self.o.poll_s)
                continue
            if want_health:
                next_health = now + HEALTH_EVERY_S
            if pending is not None and self.settle(pending, obs):
                pending = None
            if now >= next_progress:
                next_progress = now + PROGRESS_EVERY_S
                rss_now = self.serve.rss_kb()
                if rss_now is not None:
                    r.rss_samples.append((now, rss_now))
                stream = _stream(self.health)
                progress(
                    f"+{now:5.0f}s status={obs.book.get('status')} update_id={obs.book.get('update_id')} "
                    f"checked={r.books_checked} differed={r.books_differed} faults={len(r.faults)}"
                    f"/{len(schedule)} recovered={sum(1 for f in r.faults if f.recovered)} "
                    f"snapshots={stream.get('snapshots')} rss={rss_now}kB"
                )
            time.sleep(max(0.0, self.o.poll_s - ((time.monotonic() - t0) - now)))
        r.duration_s = time.monotonic() - t0
        r.rss_end_kb = self.serve.rss_kb()
        r.threads_end = self.serve.thread_count()
        if r.rss_end_kb is not None:
            r.rss_samples.append((r.duration_s, r.rss_end_kb))
        if r.rss_start_kb is None:  # a run shorter than the warm-up: start = end sample window
            r.rss_start_kb = r.rss_end_kb
        return r


def default_warmup(duration_s: float) -> float:
    """The RSS baseline waits until the service is warm: its first snapshots, the worker threads and
    their SQLite page caches, the zone tracker and the simulator's walls (each rests up to 10 min)
    all fill up first. Measured (docs/soak.md): Python-level memory under tracemalloc stopped
    growing after about 12 minutes (before the zones memo was bounded by the book); RSS grows
    ~1 MB/min in the first minutes and ~0.1 MB/min after 10 minutes."""
    return min(600.0, max(10.0, duration_s / 4))


def add_run_length(parser: argparse.ArgumentParser) -> None:
    """--minutes or --seconds (one of them; 10 minutes without either), for the soaks."""
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="run length in minutes (default 10)")
    length.add_argument("--seconds", type=float, help="run length in seconds (short runs)")


def run_length_s(args: argparse.Namespace) -> float:
    """The run length `add_run_length` asked for, in seconds (the caller checks it is positive)."""
    if args.seconds is not None:
        return float(args.seconds)
    return (args.minutes if args.minutes is not None else 10.0) * 60


def parse_args(argv: Sequence[str] | None) -> tuple[SoakOptions, str]:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    add_run_length(parser)
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults (default 60)")
    parser.add_argument("--poll-ms", type=int, default=200, help="GET /api/book interval (default 200)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds after first live before the RSS start sample (default: a quarter of the run, "
        "at least 10 s, at most 600 s)",
    )
    parser.add_argument(
        "--recover-timeout", type=float, default=45.0, help="seconds a fault may take to recover"
    )
    parser.add_argument(
        "--max-rss-growth",
        type=float,
        default=10.0,
        help="percent RSS growth after the warm-up that fails the run (default 10)",
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator seed")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, database)")
    args = parser.parse_args(argv)
    duration = run_length_s(args)
    for name, value in (
        ("--minutes/--seconds", duration),
        ("--fault-every", args.fault_every),
        ("--poll-ms", args.poll_ms),
        ("--recover-timeout", args.recover_timeout),
        ("--max-rss-growth", args.max_rss_growth),
    ):
        if not value > 0:
            parser.error(f"{name} must be positive, got {value}")
    if args.warmup is not None and args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    warmup = args.warmup if args.warmup is not None else default_warmup(duration)
    options = SoakOptions(
        duration_s=duration,
        fault_every_s=args.fault_every,
        poll_s=args.poll_ms / 1000,
        warmup_s=warmup,
        recover_timeout_s=args.recover_timeout,
        max_rss_growth=args.max_rss_growth / 100,
        seed=args.seed,
        keep=args.keep,
    )
    command = "python -m bench.soak " + " ".join(argv if argv is not None else sys.argv[1:])
    return options, command.strip()


def main(argv: Sequence[str] | None = None) -> int:
    options, command = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="liq-soak-"))
    soak = Soak(options, workdir)
    failed = True
    try:
        soak.start()
        result = soak.run()
        report = render_report(result, options.max_rss_growth, command)
        failed = bool(result.failures(options.max_rss_growth))
    except (RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        report = f"soak could not run: {exc}"
    finally:
        soak.close()
    print(report, flush=True)
    if failed:
        progress(f"serve log tail ({soak.serve.log}):\n{tail_of(soak.serve.log, 30)}")
    if options.keep or failed:
        progress(f"logs and database kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
