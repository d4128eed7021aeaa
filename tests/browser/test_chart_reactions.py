"""Order-block reactions on the page (headless Chromium against daphne + a seeded database + Redis):
the touch mark sits at the touch's time and price on the touched block, shaped by its outcome, and
changes with a pushed `reaction`; the stats panel shows the API's rates and samples; hovering the
mark explains it. Screenshots: test-artifacts/chart-reactions-desktop.png, -phone.png."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.browser.conftest import ROOT, _python, after_next_paint, csp_violations, open_chart, save_artifact

pytestmark = pytest.mark.browser
PX = 0.75
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def shown_reaction(seeded_site) -> dict:
    """The reaction seeded on the scene's touched bearish block (tests.browser.seed_reactions)."""
    seeded = subprocess.run(
        [_python(), "-m", "tests.browser.seed_reactions"],
        cwd=ROOT,
        env=seeded_site.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(seeded.stdout)


def show_touch(page, reaction: dict) -> None:
    """Bring the touch into view (the page opens on the last 72 bars)."""
    page.evaluate(
        """(t) => { const d = __chartDebug; const ts = d.chart.timeScale();
        const i = d.series.data().findIndex((b) => b.time >= t);
        ts.setVisibleLogicalRange({ from: i - 30, to: i + 30 }); }""",
        reaction["touch_time"],
    )
    after_next_paint(page)  # the marks as painted in this range (the page may have painted the touch before)


def test_the_touch_mark_and_the_stats_panel_show_what_the_api_says(
    browser, seeded_site, shown_reaction, pusher
):
    page = open_chart(browser, seeded_site)
    show_touch(page, shown_reaction)
    page.wait_for_function("() => __chartDebug.reactions.marks.length === 1")
    [mark] = page.evaluate("__chartDebug.reactions.marks")
    assert mark["block_id"] == shown_reaction["block_id"]
    assert (mark["outcome"], mark["horizon"], mark["shape"]) == ("held", "4h", "disc")
    assert mark["x"] == pytest.approx(
        page.evaluate(f"__chartDebug.timeToX({shown_reaction['touch_time']})"), abs=PX
    )
    assert mark["y"] == pytest.approx(
        page.evaluate(f"__chartDebug.priceToY({shown_reaction['touch_price']})"), abs=PX
    )
    box = next(
        b for b in page.evaluate("__chartDebug.painted.boxes") if b["id"] == shown_reaction["block_id"]
    )
    assert box["status"] == "touched" and box["x1"] <= mark["x"] and box["y1"] <= mark["y"] <= box["y2"]

    # the panel: the API's rates and samples at the longest horizon with a sample
    stats = seeded_site.get("/api/reactions/stats")
    assert page.evaluate("__chartDebug.reactions.horizon") == "24h"
    rows = page.evaluate(
        """() => [...document.querySelectorAll('#reaction-body tbody tr')].map((tr) =>
        [...tr.children].map((c) => c.textContent))"""
    )
    at = stats["horizons"]["24h"]
    expected_groups = [
        ("all", at["all"]),
        ("backed", at["by_backing"]["backed"]),
        ("not backed", at["by_backing"]["not_backed"]),
        ("bullish", at["by_direction"]["bullish"]),
        ("bearish", at["by_direction"]["bearish"]),
    ]

    def pct(rate):
        return "\u2013" if rate is None else f"{round(rate * 100)}%"

    assert rows == [
        [name, str(c["n"]), pct(c["held_rate"]), pct(c["invalidated_rate"]), pct(c["undecided_rate"])]
        for name, c in expected_groups
    ]
    assert rows[0][:2] == ["all", "2"]  # 24h: one held, one invalidated; pending and unknown apart
    assert page.locator("#reaction-summary").inner_text() == "Reactions · 24h: held 50% (n=2)"
    assert "4 reactions · 1 pending · 1 unknown" in page.locator("#reaction-body").inner_text()
    page.locator('#reaction-body button[data-horizon="1h"]').click()
    assert page.locator("#reaction-summary").inner_text() == "Reactions · 1h: held 25% (n=4)"

    # hovering the mark explains it
    origin = page.evaluate(
        "(() => { const r = document.getElementById('chart').getBoundingClientRect(); return [r.x, r.y]; })()"
    )
    page.mouse.move(origin[0] + mark["x"] + 1, origin[1] + mark["y"] + 1)
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    assert (
        "Reaction of a bearish order block" in text
        and "touch 14.20 · 1m 13.90 · 5m 6.50 · 15m 1.20 BTC" in text
    )
    assert "1h held · 4h held · 24h \u2013" in text and "backed yes (score 5.1x)" in text
    save_artifact(page, "chart-reactions-desktop.png")

    # a pushed change: invalidated at 24h -> the mark turns into a cross, the stats are read again
    reads = page.evaluate("__chartDebug.reactions.counts.statsLoads")
    changed = {
        **shown_reaction,
        "outcomes": {"1h": "held", "4h": "held", "24h": "invalidated"},
        "state": "done",
    }
    pusher.send("reaction", changed)
    page.wait_for_function("() => __chartDebug.reactions.marks[0].shape === 'cross'")
    page.wait_for_function(f"() => __chartDebug.reactions.counts.statsLoads > {reads}")
    page.mouse.move(5, 5)
    assert page.page_errors == [] and csp_violations(page) == []
    page.context.close()

    phone = open_chart(browser, seeded_site, viewport=PHONE)
    show_touch(phone, shown_reaction)
    phone.wait_for_function("() => __chartDebug.reactions.marks.length === 1")
    assert phone.evaluate("document.getElementById('reaction-panel').open") is False  # folded on a phone
    phone.locator("#reaction-summary").click()
    phone.wait_for_function("() => document.getElementById('reaction-panel').open")
    save_artifact(phone, "chart-reactions-phone.png")
    assert phone.page_errors == [] and csp_violations(phone) == []
    phone.context.close()
