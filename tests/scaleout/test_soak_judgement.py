"""The soak's verdict logic (bench.soak): what counts as a differing book, a seen fault, a failed run.

The soak itself runs in .ci/run after `make test` (python -m bench.soak --minutes 2); these tests pin
the rules it judges by, so a soak cannot pass by accident.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from bench.processes import parse_status_kb
from bench.soak import (
    FAULT_ROTATION,
    FaultContext,
    FaultRun,
    Observation,
    SoakResult,
    book_differences,
    fault_actions,
    fault_schedule,
    fault_seen,
    parse_args,
    render_report,
)

BOOK = {
    "update_id": 7,
    "status": "live",
    "bids": [["87000.10", "1.5"], ["87000.00", "0.25"]],
    "asks": [["87000.20", "2"]],
}
TRUTH = {
    "update_id": 7,
    "bids": [["87000.10000000", "1.50000000"], ["87000.00000000", "0.25000000"]],
    "asks": [["87000.20000000", "2.00000000"]],
}


def health(**stream) -> dict:
    return {
        "status": "live",
        "stream": {"resyncs": {}, "reconnects": {}, "bad_frames": {}, "rest": {"count_429": 0}, **stream},
    }


def obs(book=BOOK, **stream) -> Observation:
    return Observation(health(**stream), book)


CTX = FaultContext(index=0, mid=Decimal("87000.15"), watchdog_s=10.0)


def test_books_equal_as_exact_decimals_whatever_the_formatting():
    assert book_differences(BOOK, TRUTH) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b["bids"].__setitem__(1, ["87000.00", "0.26"]), "bids[1]"),
        (lambda b: b["asks"].append(["87000.30", "1"]), "asks: 2 levels != truth 1"),
        (lambda b: b.__setitem__("update_id", 8), "update_id 8 != truth 7"),
        (lambda b: b["bids"].reverse(), "bids[0]"),
    ],
)
def test_any_difference_from_the_truth_is_reported(change, expected):
    book = {**BOOK, "bids": [list(x) for x in BOOK["bids"]], "asks": [list(x) for x in BOOK["asks"]]}
    change(book)
    problems = book_differences(book, TRUTH)
    assert any(expected in p for p in problems), problems


def test_faults_fire_every_interval_starting_half_way_and_rotate_through_every_kind():
    assert fault_schedule(120, 60) == [30, 90]
    ten_minutes = fault_schedule(600, 60)
    assert len(ten_minutes) == 10
    names = [FAULT_ROTATION[i % len(FAULT_ROTATION)] for i in range(len(ten_minutes))]
    assert set(names) == {"gap", "disconnect", "stall", "429", "malformed", "fast_move"}


def test_a_stall_outlasts_the_watchdog_and_a_429_comes_with_a_snapshot_request():
    (stall,) = fault_actions("stall", CTX)
    assert stall["action"] == "stall" and stall["seconds"] > CTX.watchdog_s
    actions = [a["action"] for a in fault_actions("429", CTX)]
    assert actions == ["rest_fault", "inject_gap"]  # a gap forces the snapshot that gets the 429


@pytest.mark.parametrize(
    ("name", "after"),
    [
        ("gap", {"resyncs": {"gap": 1}}),
        ("disconnect", {"reconnects": {"closed code=none (abrupt)": 1}}),
        ("stall", {"reconnects": {"watchdog": 1}}),
        ("malformed", {"bad_frames": {"malformed json": 1}}),
        ("429", {"resyncs": {"gap": 1}, "rest": {"count_429": 1}}),
    ],
)
def test_a_fault_counts_as_seen_only_once_the_service_counters_move(name, after):
    before = obs()
    assert not fault_seen(name, CTX, before, obs())
    assert fault_seen(name, CTX, before, obs(**after))


def test_a_429_without_the_429_counter_is_not_seen():
    assert not fault_seen("429", CTX, obs(), obs(resyncs={"gap": 1}))


def test_a_fast_move_is_seen_when_the_published_book_moved_that_way():
    distance = Decimal(fault_actions("fast_move", CTX)[0]["distance"])
    assert distance == Decimal("435.00")  # 0.5 % of mid in cents
    moved = {**BOOK, "bids": [[str(Decimal("87000.10") + distance), "1"]]}
    assert fault_seen("fast_move", CTX, obs(), obs(book=moved))
    assert not fault_seen("fast_move", CTX, obs(), obs())
    down = FaultContext(index=len(FAULT_ROTATION), mid=CTX.mid, watchdog_s=10.0)  # second round goes down
    assert fault_actions("fast_move", down)[0]["direction"] == "down"
    assert not fault_seen("fast_move", down, obs(), obs(book=moved))


def passing_result() -> SoakResult:
    fault = FaultRun("gap", 30.0, 0.0, 100, CTX, obs(), seen_s=0.8, recovered_s=0.9, recovered_update_id=120)
    return SoakResult(
        duration_s=120, books_checked=100, faults=[fault], rss_start_kb=100_000, rss_end_kb=110_000
    )


def test_a_clean_run_passes_and_the_report_shows_the_figures():
    result = passing_result()
    assert result.failures(0.20) == []
    report = render_report(result, 0.20, "python -m bench.soak --minutes 2")
    assert "RESULT: PASS" in report
    assert "+10000 kB (+10.0%" in report
    assert "books differed" in report


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda r: setattr(r, "books_differed", 1), "differed"),
        (lambda r: setattr(r, "books_checked", 0), "no live book"),
        (lambda r: setattr(r.faults[0], "recovered_s", None), "did not recover"),
        (lambda r: setattr(r, "rss_end_kb", 120_001), "RSS grew 20.0%"),
        (lambda r: setattr(r, "rss_start_kb", None), "RSS could not be sampled"),
        (lambda r: setattr(r, "aborted", "serve exited"), "aborted"),
    ],
)
def test_any_broken_promise_fails_the_run(spoil, reason):
    result = passing_result()
    spoil(result)
    failures = result.failures(0.20)
    assert any(reason in f for f in failures), failures
    assert "RESULT: FAIL" in render_report(result, 0.20, "cmd")


def test_rss_is_read_from_proc_status():
    text = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t  123456 kB\nThreads:\t4\n"
    assert parse_status_kb(text, "VmRSS") == 123456
    assert parse_status_kb(text, "VmSwap") is None


def test_command_line_lengths_and_bad_values():
    options, _ = parse_args(["--minutes", "2"])
    assert options.duration_s == 120 and options.fault_every_s == 60 and options.max_rss_growth == 0.10
    assert parse_args(["--seconds", "45"])[0].duration_s == 45
    assert parse_args([])[0].duration_s == 600
    for bad in (["--minutes", "0"], ["--minutes", "1", "--seconds", "5"], ["--fault-every", "-1"]):
        with pytest.raises(SystemExit) as exc:
            parse_args(bad)
        assert exc.value.code == 2


def test_the_rss_baseline_waits_for_a_warm_service_a_quarter_of_the_run_at_most_ten_minutes():
    assert parse_args(["--minutes", "2"])[0].warmup_s == 30
    assert parse_args(["--minutes", "10"])[0].warmup_s == 150
    assert parse_args(["--minutes", "60"])[0].warmup_s == 600
    assert parse_args(["--seconds", "20"])[0].warmup_s == 10
    assert parse_args(["--minutes", "60", "--warmup", "5"])[0].warmup_s == 5


def test_the_trend_is_the_last_half_slope_so_a_steady_leak_shows_and_a_warm_up_does_not():
    minutes = range(0, 61)
    leak = SoakResult(rss_samples=[(m * 60.0, 100_000 + 256 * m) for m in minutes])  # 0.25 MB a minute
    assert leak.rss_trend_mb_per_hour() == pytest.approx(15.0)
    # fast growth in the first ten minutes, then flat: the last half shows no trend
    warm_up = SoakResult(rss_samples=[(m * 60.0, 100_000 + 2_000 * min(m, 10)) for m in minutes])
    assert warm_up.rss_trend_mb_per_hour() == pytest.approx(0.0)
    assert SoakResult(rss_samples=[(0.0, 1), (60.0, 2)]).rss_trend_mb_per_hour() is None
    report = render_report(leak, 0.10, "cmd")
    assert "serve RSS trend, last half (MB/h, least squares)" in report and "+15.0" in report
