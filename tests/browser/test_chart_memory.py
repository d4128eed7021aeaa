"""The page's liquidity memory against `serve --simulator` in real Chromium: a wall placed in the
simulator is painted hotter than its surroundings in the heatmap, stands out in the depth profile,
and once pulled its zone stays on the chart as a history band ending with the "pulled" mark.
Heatmap columns of 2 s (HEATMAP_COLUMN_S) so the test sees many of them in a minute."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import (
    Site,
    _stop,
    csp_violations,
    open_chart,
    save_artifact,
    start_live_site,
)
from tests.browser.test_chart_live import BAND_AT, place_wall, pull_wall, wall_price

pytestmark = pytest.mark.browser

COLUMN_S = 2
WALL = 600.0  # test_chart_live.WALL_QTY: > 4x the simulator's 40-140 BTC per 50 EUR bin
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
PX = 0.75

# three bars in view, the last one in the middle: the present is on screen at the closest zoom
# Lightweight Charts allows with it (its right offset is at most "bars in view - 2")
ZOOM_TO_NOW = """() => {
  const d = __chartDebug;
  const n = d.series.data().length;
  d.chart.timeScale().setVisibleLogicalRange({from: n - 2, to: n});
}"""
INCLUDE_PRICES = """([low, high]) => __chartDebug.series.applyOptions({autoscaleInfoProvider: (original) => {
  const r = original();
  const range = r && r.priceRange ? r.priceRange : {minValue: low, maxValue: high};
  return {...(r || {}), priceRange: {minValue: Math.min(range.minValue, low), maxValue: Math.max(range.maxValue, high)}};
}})"""
CURRENT_HOUR_BAR = "() => __chartDebug.mapper.lastTime >= Math.floor(Date.now() / 3600000) * 3600"

# median luma of the pane canvas' pixels in a vertical strip (x, y1..y2): grid lines don't count
STRIP_LUMA = """([x, y1, y2]) => {
  const w = __chartDebug.painted.width;
  const canvas = [...document.querySelectorAll('#chart canvas')].find((c) => Math.abs(c.clientWidth - w) < 1);
  const ratio = canvas.width / canvas.clientWidth;
  const ctx = canvas.getContext('2d');
  const lumas = [];
  for (let y = Math.ceil(y1 + 1); y <= Math.floor(y2 - 1); y += 1) {
    const [r, g, b] = ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
    lumas.push(0.2126 * r + 0.7152 * g + 0.0722 * b);
  }
  lumas.sort((a, b) => a - b);
  return lumas[Math.floor(lumas.length / 2)];
}"""


@pytest.fixture(scope="module")
def memory_site(tmp_path_factory, migrated_db) -> Iterator[Site]:
    site, server = start_live_site(
        tmp_path_factory.mktemp("memory"), migrated_db, {"HEATMAP_COLUMN_S": str(COLUMN_S)}
    )
    try:
        yield site
    finally:
        _stop(server)


def zoom_to_now(page, max_resolution: int = 60) -> None:
    page.wait_for_function(CURRENT_HOUR_BAR, timeout=20_000)
    page.evaluate(ZOOM_TO_NOW)
    # the heatmap for that view is asked for, answered and drawn, up to the newest columns
    page.wait_for_function(
        f"""() => {{
          const h = __chartDebug.heatmap;
          return h.resolution !== null && h.resolution <= {max_resolution} && h.inFlight === 0 && h.painted.drawn
            && h.lastColumn !== null && h.lastColumn >= Date.now() / 1000 - 10;
        }}""",
        timeout=30_000,
    )


def sample(page, t: float, price: float) -> dict[str, Any]:
    cell: dict[str, Any] = page.evaluate("([t, p]) => __chartDebug.heatSample(t, p)", [t, price])
    return cell


def luma(rgba: list[int]) -> float:
    """Brightness of a cell's colour over the page background (#0d1117)."""
    a = rgba[3] / 255
    bg = (13, 17, 23)
    r, g, b = (c * a + k * (1 - a) for c, k in zip(rgba[:3], bg, strict=True))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def strip_luma(page, cell: dict[str, Any], bin_px: float) -> float:
    return float(page.evaluate(STRIP_LUMA, [cell["x"], cell["y"] - bin_px / 2, cell["y"] + bin_px / 2]))


def test_a_wall_is_hot_in_the_heatmap_and_long_in_the_depth_profile_and_ends_with_the_pulled_mark(
    browser, memory_site
):
    page = open_chart(browser, memory_site, viewport=DESKTOP)
    zoom_to_now(page)
    price = wall_price(page, "bid", 300)
    # the price axis keeps the wall and its neighbourhood in view even if the price runs away
    page.evaluate(INCLUDE_PRICES, [float(price) - 400, float(price) + 400])
    placed_at = time.time()
    wall = place_wall(memory_site, "bid", price)
    pulled = False
    try:
        # the depth profile shows the wall: its bin's bar is the longest, at the wall's price
        bar = page.wait_for_function(
            """(price) => {
              const p = __chartDebug.depth.painted;
              const bar = p.bars.find((b) => b.side === 'bid' && b.low <= price && price < b.high);
              return bar && bar.qty >= 600 && bar.qty === p.max && !p.grey ? bar : null;
            }""",
            arg=float(price),
            timeout=15_000,
        ).json_value()
        y_low, y_high = page.evaluate(
            "([l, h]) => [__chartDebug.priceToY(l), __chartDebug.priceToY(h)]", [bar["low"], bar["high"]]
        )
        assert bar["y1"] == pytest.approx(y_high, abs=PX) and bar["y2"] == pytest.approx(y_low, abs=PX)
        assert bar["x2"] == page.evaluate("__chartDebug.depth.painted.width")  # at the right edge
        band = page.wait_for_function(BAND_AT, arg=["bid", float(price)], timeout=20_000).json_value()

        # the heatmap: the first cell of the wall's bin wholly inside the wall's life holds it
        resolution = page.evaluate("__chartDebug.heatmap.resolution")
        slot = math.ceil((placed_at + 2) / resolution) * resolution
        t_wall = slot + resolution / 2
        page.wait_for_function(
            f"""() => {{
              const h = __chartDebug.heatmap;
              const cell = __chartDebug.heatSample({t_wall}, {float(price)});
              return h.lastColumn >= {slot + resolution - COLUMN_S} && cell && cell.value >= {0.9 * WALL};
            }}""",
            timeout=90_000,
        )
        wall_cell = sample(page, t_wall, float(price))
        # the background: the bid bins 2-5 bins either side of the wall, at the same time
        background = [sample(page, t_wall, float(price) + 50 * k) for k in (-5, -4, -3, -2, 2, 3, 4, 5)]
        background = [c for c in background if c and c["value"] is not None and c["bid"] is not None]
        assert len(background) >= 4, "the bins around the wall were observed"
        assert wall_cell["bid"]["mean"] >= 0.9 * WALL and wall_cell["bid"]["max"] >= WALL
        assert wall_cell["intensity"] > statistics.median(c["intensity"] for c in background)
        # what the picture holds: the wall's cell is brighter than the median of its neighbours
        assert luma(wall_cell["rgba"]) > statistics.median(luma(c["rgba"]) for c in background) + 20
        save_artifact(page, "chart-heatmap-wall.png")

        # hovering the cell tells its price range, time, mean and max and their notional
        pane = page.evaluate(
            """() => { const w = __chartDebug.painted.width;
              const c = [...document.querySelectorAll('#chart canvas')].find((c) => Math.abs(c.clientWidth - w) < 1);
              const r = c.getBoundingClientRect(); return {left: r.left, top: r.top}; }"""
        )
        below = background[0]
        page.mouse.move(pane["left"] + below["x"], pane["top"] + below["y"] + 2)
        page.wait_for_function("() => document.querySelector('#tooltip').innerText.includes('Heatmap cell')")
        text = page.locator("#tooltip").inner_text()
        assert "bid mean" in text and "bid max" in text and " EUR" in text and " BTC" in text
        assert f"{below['low']:,.2f}" in text

        # the pixels on the chart itself: everything but the heatmap switched off, candles see-through
        for name in ("Order blocks", "Zones", "Bid/ask/mid", "Depth"):
            page.get_by_label(name, exact=True).uncheck()
        page.mouse.move(1, 1)
        page.evaluate(
            """() => __chartDebug.series.applyOptions({upColor: 'rgba(0,0,0,0)', downColor: 'rgba(0,0,0,0)',
                 wickUpColor: 'rgba(0,0,0,0)', wickDownColor: 'rgba(0,0,0,0)'})"""
        )
        draws = page.evaluate("__chartDebug.heatmap.drawCount")
        page.wait_for_function(f"() => __chartDebug.heatmap.drawCount > {draws}")
        wall_cell = sample(page, t_wall, float(price))
        bin_px = abs(
            page.evaluate(
                f"__chartDebug.priceToY({wall_cell['low']}) - __chartDebug.priceToY({wall_cell['high']})"
            )
        )
        hot = strip_luma(page, wall_cell, bin_px)
        cold = statistics.median(
            strip_luma(page, sample(page, c["t"], c["low"] + 25), bin_px) for c in background
        )
        assert hot > cold + 20, (hot, cold)
        for name in ("Order blocks", "Zones", "Bid/ask/mid", "Depth"):
            page.get_by_label(name, exact=True).check()
        page.reload()
        page.wait_for_function(
            "() => window.__chartDebug && __chartDebug.ready && __chartDebug.pill === 'live'"
        )
        zoom_to_now(page)

        # pulled: the zone's band now ends where it ended, with the pulled mark (an open circle)
        pull_wall(memory_site, wall)
        pulled = True
        ended = page.wait_for_function(
            """(id) => __chartDebug.zoneHistory.painted.bands.find((b) => b.id === id && b.status === 'pulled')""",
            arg=band["id"],
            timeout=30_000,
        ).json_value()
        assert ended["mark"] == "circle"
        zone = next(z for z in memory_site.get("/api/zones/history")["zones"] if z["id"] == band["id"])
        x_from, x_end = page.evaluate(
            "([a, b]) => [__chartDebug.timeToX(a), __chartDebug.timeToX(b)]",
            [zone["first_seen_ts_ms"] / 1000, zone["ended_ts_ms"] / 1000],
        )
        assert ended["x1"] == pytest.approx(x_from, abs=PX)
        assert ended["x2"] == pytest.approx(max(x_end, x_from + 3), abs=PX)
        assert ended["markX"] == ended["x2"]
        # drawn once: the live layer leaves the ended zone to the history
        assert all(b["id"] != band["id"] for b in page.evaluate("__chartDebug.painted.bands"))
        page.mouse.move(pane["left"] + ended["markX"], pane["top"] + ended["markY"])
        page.wait_for_function("() => document.querySelector('#tooltip').innerText.includes('pulled')")
        assert "Bid zone, pulled" in page.locator("#tooltip").inner_text()
        # the depth profile: the wall is gone from the book
        page.wait_for_function(
            """(price) => { const p = __chartDebug.depth.painted;
              const bar = p.bars.find((b) => b.side === 'bid' && b.low <= price && price < b.high);
              return !bar || bar.qty < 300; }""",
            arg=float(price),
            timeout=10_000,
        )
        page.mouse.move(1, 1)  # off the chart: no crosshair, no tooltip in the picture
        save_artifact(page, "chart-heatmap-pulled.png")
        assert page.page_errors == [] and csp_violations(page) == []

        phone = open_chart(browser, memory_site, viewport=PHONE)
        zoom_to_now(phone, max_resolution=300)
        phone.wait_for_function(
            "(id) => __chartDebug.zoneHistory.painted.bands.some((b) => b.id === id)", arg=band["id"]
        )
        save_artifact(phone, "chart-heatmap-phone.png")
        assert phone.page_errors == [] and csp_violations(phone) == []
        phone.context.close()
    finally:
        if not pulled:
            pull_wall(memory_site, wall)
        page.context.close()


def test_the_heatmap_switch_is_remembered_and_the_legend_follows_it(browser, memory_site):
    page = open_chart(browser, memory_site, viewport=DESKTOP)
    page.wait_for_function("() => __chartDebug.heatmap.painted.drawn && __chartDebug.heatmap.scale !== null")
    legend = page.locator("#heat-key")
    assert legend.is_visible() and "BTC per 50 EUR" in legend.inner_text()
    page.get_by_label("Heatmap", exact=True).uncheck()
    page.wait_for_function("() => !__chartDebug.heatmap.painted.drawn")
    assert legend.is_hidden()
    page.reload()
    page.wait_for_function("() => window.__chartDebug && __chartDebug.ready")
    assert page.get_by_label("Heatmap", exact=True).is_checked() is False
    page.wait_for_function("() => __chartDebug.heatmap.drawCount > 0")
    assert page.evaluate("__chartDebug.heatmap.painted.drawn") is False and legend.is_hidden()
    page.get_by_label("Heatmap", exact=True).check()
    page.wait_for_function("() => __chartDebug.heatmap.painted.drawn")
    assert page.evaluate("__chartDebug.heatmap.counts.maxInFlight") == 1  # never two requests at once
    assert csp_violations(page) == []
    page.context.close()


def test_zooming_asks_for_a_finer_heatmap_once_the_chart_settles(browser, memory_site):
    page = open_chart(browser, memory_site, viewport=DESKTOP)
    page.wait_for_function("() => __chartDebug.heatmap.painted.drawn && __chartDebug.heatmap.inFlight === 0")
    coarse = page.evaluate("__chartDebug.heatmap")
    zoom_to_now(page)
    fine = page.evaluate("__chartDebug.heatmap")
    assert fine["resolution"] < coarse["resolution"]
    assert fine["resolution"] % COLUMN_S == 0
    # cells at least ~2 px wide: the resolution follows the zoom
    seconds_per_px = page.evaluate(
        "() => { const ts = __chartDebug.chart.timeScale(); "
        "return 3600 / (ts.logicalToCoordinate(1) - ts.logicalToCoordinate(0)); }"
    )
    assert fine["resolution"] / seconds_per_px >= 2
    assert fine["counts"]["maxInFlight"] == 1
    page.context.close()
