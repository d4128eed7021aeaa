"""The page soak's verdict (bench.page_soak): a page whose heap, DOM or state drifts must fail."""

from __future__ import annotations

import dataclasses

from bench.page_soak import PageSample, PageSoakResult, render_report, state_difference

SERVER = {
    "zones": [{"id": 11, "status": "confirmed"}, {"id": 12, "status": "candidate"}],
    "orderblocks": [{"id": 5, "status": "fresh"}],
}


def sample(t_s: float, heap_mb: float = 4.0, **changes) -> PageSample:
    base = PageSample(
        t_s=t_s,
        heap_used=int(heap_mb * 1e6),
        nodes=169,
        listeners=59,
        renderer_rss_kb=180_000,
        renderer_cpu_s=t_s * 0.05,
        task_s=t_s * 0.05,
        deltas=int(t_s),
        snapshots=1,
        connects=1,
        polls=0,
        zones=2,
        blocks=1,
        pill="live",
    )
    return dataclasses.replace(base, **changes)


def flat_run(**last_changes) -> PageSoakResult:
    result = PageSoakResult(publish_ms=1000, warmup_s=60)
    result.samples = [sample(t) for t in range(0, 600, 60)]
    result.samples.append(sample(600, **last_changes))
    return result


def test_a_page_holding_the_servers_zones_and_blocks_matches():
    page = {"zones": {"11": "confirmed", "12": "candidate"}, "orderblocks": {"5": "fresh"}}
    assert state_difference(page, SERVER) is None


def test_a_missing_extra_or_stale_item_is_a_difference():
    assert "missing ['12']" in state_difference(
        {"zones": {"11": "confirmed"}, "orderblocks": {"5": "fresh"}}, SERVER
    )
    assert "extra ['99']" in state_difference(
        {"zones": {"11": "confirmed", "12": "candidate", "99": "broken"}, "orderblocks": {"5": "fresh"}},
        SERVER,
    )
    assert "other state ['5']" in state_difference(
        {"zones": {"11": "confirmed", "12": "candidate"}, "orderblocks": {"5": "touched"}}, SERVER
    )


def test_a_flat_page_passes_and_the_report_says_so():
    result = flat_run()
    assert result.failures(0.2) == []
    report = render_report(result, 0.2, "python -m bench.page_soak")
    assert report.splitlines()[-1].endswith("PASS")
    assert "+0.0%" in report  # heap growth after the warm-up


def test_heap_growth_after_the_warm_up_fails_but_growth_inside_it_does_not():
    assert any("JS heap grew" in f for f in flat_run(heap_mb=5.0).failures(0.2))
    warming = flat_run()
    warming.samples[0] = sample(0, heap_mb=2.0)  # before the warm-up ends: not judged
    assert warming.failures(0.2) == []


def test_growing_dom_or_listeners_a_dead_feed_errors_or_a_drift_fail():
    assert any("DOM nodes" in f for f in flat_run(nodes=400).failures(0.2))
    assert any("event listeners" in f for f in flat_run(listeners=300).failures(0.2))
    assert any("no deltas" in f for f in flat_run(deltas=60).failures(0.2))
    assert any("not live" in f for f in flat_run(pill="polling").failures(0.2))
    errored = flat_run()
    errored.page_errors.append("TypeError: x is undefined")
    assert any("page error" in f for f in errored.failures(0.2))
    drifted = flat_run()
    drifted.state_mismatch = "zones: missing ['12']"
    assert any("differs" in f for f in drifted.failures(0.2))
