"""A full-history candle import, and the order-block run after it, while `serve` streams: every
publication stays on time and the importer's memory stays bounded.

`serve --simulator` (the `served` fixture) records its database as holding simulated data, and the
data-source guard refuses, by design, to add imported (real) candles to it. So this module runs the
configuration the import is for: `serve` streaming from a Binance look-alike (`binance_sim` in its
own process, bench.stack.ServiceStack), its database recording the Binance source, which imported
candles may join.

The file holds every hour from 2009-01-01 to the last closed hour (about 157,000 rows in 2026; the
plausibility rules refuse candles before 2009 or in the future, so no valid 1h file is longer),
capped at 200,000.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from apps.orderblocks.domain.plausibility import EARLIEST_OPEN_MS
from bench.processes import manage_argv, proc_status_kb
from bench.stack import ServiceStack

H = 3_600_000
MAX_ROWS = 200_000
POLL_INTERVAL_S = 0.2  # /api/health at 5 Hz
MAX_BOOK_AGE_S = 2.0  # publications every 1 s: one late by more than a second shows
MAX_IMPORTER_RSS_KB = 200 * 1024


@pytest.fixture(scope="module")
def stack() -> Iterator[ServiceStack]:
    with ServiceStack(log_level="INFO") as running:
        yield running


def write_binance_csv(path: Path, rows: int, last_open_ms: int) -> int:
    """`rows` hourly Binance kline rows ending at `last_open_ms` (a seeded random walk); the first
    open time."""
    rng = random.Random(15)
    first = last_open_ms - (rows - 1) * H
    price = 20_000.0
    with path.open("w") as out:
        for i in range(rows):
            t = first + i * H
            close = max(100.0, price * (1 + rng.gauss(0, 0.01)))
            high = max(price, close) * (1 + abs(rng.gauss(0, 0.004)))
            low = min(price, close) * (1 - abs(rng.gauss(0, 0.004)))
            volume = rng.uniform(1, 100)
            out.write(
                f"{t},{price:.2f},{high:.2f},{low:.2f},{close:.2f},{volume:.8f},{t + H - 1},"
                f"{volume * close:.8f},{rng.randint(100, 5000)},{volume / 2:.8f},{volume * close / 2:.8f},0\n"
            )
            price = close
    return first


@dataclass
class Run:
    """A management command run while /api/health is sampled."""

    name: str
    returncode: int = 0
    seconds: float = 0.0
    max_rss_kb: int = 0  # the child's peak RSS: its last VmHWM sample
    stdout: str = ""
    stderr: str = ""
    ages: list[float] = field(default_factory=list)  # published_age_s at each sample
    failed_polls: list[str] = field(default_factory=list)

    @property
    def max_age_s(self) -> float:
        return max(self.ages, default=float("inf"))


def run_sampling_health(stack: ServiceStack, workdir: Path, *args: str, timeout_s: float = 300.0) -> Run:
    """Run `manage.py <args>` against the stack's database, sampling /api/health every
    POLL_INTERVAL_S until it exits. Its peak RSS is the high-water mark /proc/PID/status keeps
    (VmHWM), read at each sample: wait4's ru_maxrss would not do, since it counts the pages the
    child shared with this (much larger) pytest process between fork and exec."""
    run = Run(args[0])
    out_path, err_path = workdir / f"{args[0]}.out", workdir / f"{args[0]}.err"
    with out_path.open("w") as out, err_path.open("w") as err, httpx.Client(timeout=1.5) as http:
        started = time.monotonic()
        child = subprocess.Popen(manage_argv(*args), env=stack.env(), cwd=workdir, stdout=out, stderr=err)
        next_poll = started
        while True:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                break
            run.max_rss_kb = max(run.max_rss_kb, proc_status_kb(child.pid, "VmHWM") or 0)
            assert time.monotonic() - started < timeout_s, f"{args[0]} still running after {timeout_s} s"
            try:
                run.ages.append(float(http.get(f"{stack.base_url}/api/health").json()["published_age_s"]))
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                run.failed_polls.append(repr(exc))
            next_poll += POLL_INTERVAL_S
            time.sleep(max(0.0, next_poll - time.monotonic()))  # the sampling rate, not a wait for an event
    child.returncode = run.returncode = os.waitstatus_to_exitcode(status)
    run.seconds = time.monotonic() - started
    run.stdout, run.stderr = out_path.read_text(), err_path.read_text()
    return run


def describe(run: Run) -> str:
    return (
        f"{run.name}: exit {run.returncode} in {run.seconds:.1f} s, peak RSS {run.max_rss_kb / 1024:.0f} MB, "
        f"max book age {run.max_age_s:.2f} s over {len(run.ages)} samples, {len(run.failed_polls)} failed polls"
    )


def test_a_full_history_import_and_the_order_block_run_after_it_never_stall_the_book(stack, tmp_path):
    now_ms = int(time.time() * 1000)
    last_closed = now_ms - now_ms % H - H
    rows = min(MAX_ROWS, (last_closed - EARLIEST_OPEN_MS) // H + 1)
    csv_path = tmp_path / "BTCEUR-1h-full.csv"
    first = write_binance_csv(csv_path, rows, last_closed)
    errors_before = stack.health()["stream"]["listener_errors"]

    imported = run_sampling_health(stack, tmp_path, "import_candles", "--csv", str(csv_path))
    blocks = run_sampling_health(stack, tmp_path, "compute_orderblocks")
    print(f"\n{rows} rows; {describe(imported)}\n{describe(blocks)}")

    assert imported.returncode == 0, imported.stderr
    assert f"imported {rows} candles {first}..{last_closed}" in imported.stdout
    assert "rows/s" in imported.stderr  # progress while it runs
    assert blocks.returncode == 0, blocks.stderr
    assert "order blocks full run" in blocks.stdout
    for run in (imported, blocks):
        assert run.failed_polls == [], describe(run)
        assert len(run.ages) >= run.seconds / POLL_INTERVAL_S / 2, describe(run)
        assert run.max_age_s < MAX_BOOK_AGE_S, describe(run)
    assert imported.max_rss_kb < MAX_IMPORTER_RSS_KB, describe(imported)

    health = stack.health()
    assert health["status"] == "live"
    assert health["stream"]["listener_errors"] == errors_before  # no publication or listener failed
    assert stack.serve is not None
    assert "database is locked" not in stack.serve.log.read_text(errors="replace")
    assert stack.workdir is not None
    with sqlite3.connect(stack.workdir / "bench.sqlite3") as db:
        stored = db.execute(
            "select count(*) from btc_eur_1h where open_time_ms between ? and ?", (first, last_closed)
        ).fetchone()[0]
    assert stored == rows
