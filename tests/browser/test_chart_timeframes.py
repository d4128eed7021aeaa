"""Timeframes on the chart page in headless Chromium: the switcher, order blocks at their times on every
timeframe, the choice kept in the URL across a reload, older candles loaded by scrolling left, and the
live page drawing the pushed candles of the timeframe it shows."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from tests.browser.conftest import csp_violations, open_chart, save_artifact, wait_until

pytestmark = pytest.mark.browser
PX = 0.75
TF_S = {"5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
PHONE = {"width": 390, "height": 844}

BOXES_JS = """({times, prices}) => {
  const d = window.__chartDebug;
  const ts = d.chart.timeScale();
  return {
    boxes: d.painted.boxes,
    xs: Object.fromEntries(times.map((t) => [t, ts.timeToCoordinate(t)])),
    ys: Object.fromEntries(prices.map((p) => [p, d.series.priceToCoordinate(Number(p))])),
    interpolated: Object.fromEntries(times.map((t) => [t, d.timeToX(t)])),
  };
}"""


def bucket(t: int, tf: str) -> int:
    return t - t % TF_S[tf]


def block_geometry(page, blocks, tf):
    times = sorted({bucket(b["time_from"], tf) for b in blocks} | {b["time_from"] for b in blocks})
    prices = sorted({p for b in blocks for p in (b["price_low"], b["price_high"])})
    return page.evaluate(BOXES_JS, {"times": times, "prices": prices})


def assert_blocks_at_their_bars(page, blocks, tf):
    """Each block's box starts at the bar that contains its (1h) start time, at its prices."""
    # painted boxes of the timeframe shown before satisfy "every block is painted": wait for the
    # repaint at this timeframe's bars (the boxes of the previous one sit elsewhere)
    starts = {b["id"]: bucket(b["time_from"], tf) for b in blocks}
    page.wait_for_function(
        """([starts, px]) => Object.entries(starts).every(([id, t]) => {
          const box = __chartDebug.painted.boxes.find((b) => b.id === id);
          const x = __chartDebug.timeToX(t);
          return box !== undefined && x !== null && Math.abs(box.x1 - x) <= px;
        })""",
        arg=[starts, PX],
    )
    g = block_geometry(page, blocks, tf)
    boxes = {b["id"]: b for b in g["boxes"]}
    for block in blocks:
        box, start = boxes[block["id"]], bucket(block["time_from"], tf)
        assert g["xs"][str(start)] is not None, f"no {tf} bar at {start}"
        assert box["x1"] == pytest.approx(g["xs"][str(start)], abs=PX), (tf, block["id"])
        assert box["y1"] == pytest.approx(g["ys"][block["price_high"]], abs=PX)
        assert box["y2"] == pytest.approx(g["ys"][block["price_low"]], abs=PX)
    return g


def choose(page, tf: str) -> None:
    page.get_by_role("button", name=tf, exact=True).click()
    page.wait_for_function(f"() => __chartDebug.loaded.tf === '{tf}'")


def pushed_block(seeded_site) -> dict:
    """A fresh block starting one hour into a 4h bucket (so 4h must move it to the bucket's bar)."""
    current_hour_s = seeded_site.scene["current_hour_ms"] // 1000
    start = bucket(current_hour_s - 40 * 3600, "4h") + 3600
    last = float(seeded_site.scene["last_close"])
    return {
        "id": f"BTCEUR:bearish:{start * 1000}",
        "kind": "orderblock",
        "symbol": "BTCEUR",
        "direction": "bearish",
        "status": "fresh",
        "price_low": f"{last + 120:.2f}",
        "price_high": f"{last + 190:.2f}",
        "atr14": "142.5",
        "bos_level": f"{last - 100:.2f}",
        "created_ts_ms": start * 1000,
        "valid_from_ts_ms": (start + 3 * 3600) * 1000,
        "valid_to_ts_ms": None,
        "bos_ts_ms": (start + 2 * 3600) * 1000,
        "touched_ts_ms": None,
        "time_from": start,
        "time_to": None,
    }


def test_switching_timeframe_keeps_order_blocks_at_their_times(browser, seeded_site, pusher):
    page = open_chart(browser, seeded_site)
    assert page.evaluate("__chartDebug.timeframe") == "1h"
    stored = [b for b in seeded_site.get("/api/orderblocks")["orderblocks"] if b["status"] != "invalid"]
    block = pushed_block(seeded_site)
    pusher.send("orderblocks", {"added": [block], "changed": []})
    blocks = [*stored, block]
    assert_blocks_at_their_bars(page, blocks, "1h")

    choose(page, "4h")
    assert page.url.endswith("/?tf=4h")
    assert page.get_by_role("button", name="4h", exact=True).get_attribute("aria-pressed") == "true"
    assert page.locator("#tf-title").inner_text() == "4h"
    api = seeded_site.get("/api/candles", tf="4h")["candles"]
    drawn = page.evaluate("__chartDebug.series.data().map((b) => [b.time, b.open, b.close])")
    assert drawn == [[c["time"], c["open"], c["close"]] for c in api]
    assert all(t % 14400 == 0 for t, _, _ in drawn)
    g = assert_blocks_at_their_bars(page, blocks, "4h")
    # the pushed block starts at 01:00 of its bucket: drawn at the bucket's bar, not a quarter bar on
    painted = next(b for b in g["boxes"] if b["id"] == block["id"])
    assert abs(painted["x1"] - g["interpolated"][str(block["time_from"])]) > 1
    save_artifact(page, "chart-tf-4h-desktop.png")

    choose(page, "1d")
    assert_blocks_at_their_bars(page, blocks, "1d")
    choose(page, "1h")
    assert_blocks_at_their_bars(page, blocks, "1h")
    assert page.page_errors == [] and csp_violations(page) == []
    page.context.close()


def test_the_url_keeps_the_timeframe_across_a_reload(browser, seeded_site):
    page = open_chart(browser, seeded_site, path="/?tf=15m")
    page.wait_for_function("() => __chartDebug.loaded.tf === '15m'")
    assert page.evaluate("__chartDebug.loaded.bars") == 480
    assert page.get_by_role("button", name="15m", exact=True).get_attribute("aria-pressed") == "true"
    choose(page, "1d")
    assert page.url.endswith("/?tf=1d")
    page.reload()
    page.wait_for_function(
        "() => window.__chartDebug && __chartDebug.ready && __chartDebug.loaded.tf === '1d'"
    )
    assert page.get_by_role("button", name="1d", exact=True).get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="1h", exact=True).get_attribute("aria-pressed") == "false"
    stored = [b for b in seeded_site.get("/api/orderblocks")["orderblocks"] if b["status"] != "invalid"]
    assert_blocks_at_their_bars(page, stored, "1d")
    page.goto(seeded_site.url + "/?tf=2h")  # not a timeframe: the default
    page.wait_for_function(
        "() => window.__chartDebug && __chartDebug.ready && __chartDebug.loaded.tf === '1h'"
    )
    assert page.page_errors == []
    page.context.close()


def test_scrolling_left_loads_older_candles_once_and_stops_when_there_are_none(browser, seeded_site):
    requests: list[str] = []

    def watch(page):
        page.on("request", lambda r: requests.append(r.url) if "/api/candles" in r.url else None)

    page = open_chart(browser, seeded_site, path="/?tf=5m", before_load=watch)
    page.wait_for_function("() => __chartDebug.loaded.tf === '5m'")
    first_5m = seeded_site.scene["first_5m_ms"] // 1000
    times_before = page.evaluate("__chartDebug.series.data().map((b) => b.time)")
    assert len(times_before) == 1000  # the first page
    assert page.evaluate("__chartDebug.history") == {"requests": 0, "inFlight": False, "exhausted": False}
    # scroll left to near the first loaded bar, then drag the chart further right (older)
    page.evaluate("__chartDebug.chart.timeScale().setVisibleLogicalRange({from: 60, to: 144})")
    page.wait_for_function("() => __chartDebug.chart.timeScale().getVisibleLogicalRange().from === 60")
    left_time = page.evaluate("__chartDebug.chart.timeScale().getVisibleRange().from")
    assert left_time == times_before[60]
    box = page.locator("#chart").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 200, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 700, y, steps=10)  # ~30 bars: the left edge comes within 50 bars of the first
    page.mouse.up()
    page.wait_for_function("() => __chartDebug.series.data().length === 1440", timeout=10_000)
    page.wait_for_function("() => __chartDebug.history.exhausted && !__chartDebug.history.inFlight")
    times = page.evaluate("__chartDebug.series.data().map((b) => b.time)")
    assert times[0] == first_5m and times == sorted(set(times))
    assert all(b - a == 300 for a, b in itertools.pairwise(times))
    # the view did not jump: the bars on screen are the ones that were (a drag of ~30 bars to the left)
    after = page.evaluate("__chartDebug.chart.timeScale().getVisibleRange().from")
    assert 20 * 300 < left_time - after <= 40 * 300
    older = [u for u in requests if "to=" in u]
    assert len(older) == 1 and "tf=5m" in older[0] and f"to={times[440] - 1}" in older[0]
    # further left: the server said there is nothing older, nothing more is asked for
    page.evaluate("__chartDebug.chart.timeScale().setVisibleLogicalRange({from: -30, to: 54})")
    page.mouse.move(box["x"] + 300, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 500, y, steps=6)
    page.mouse.up()
    page.wait_for_function("() => __chartDebug.drawCount > 0")
    assert page.evaluate("__chartDebug.history.requests") == 1
    assert len([u for u in requests if "to=" in u]) == 1
    save_artifact(page, "chart-tf-5m-scrolled-desktop.png")
    assert page.page_errors == []
    page.context.close()


def test_phone_layout_shows_the_switcher(browser, seeded_site):
    page = open_chart(browser, seeded_site, path="/?tf=15m", viewport=PHONE)
    page.wait_for_function("() => __chartDebug.loaded.tf === '15m'")
    for tf in TF_S:
        button = page.get_by_role("button", name=tf, exact=True)
        assert button.is_visible()
        bounds = button.bounding_box()
        assert bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= PHONE["width"]
    save_artifact(page, "chart-tf-15m-phone.png")
    choose(page, "4h")
    save_artifact(page, "chart-tf-4h-phone.png")
    assert page.page_errors == []
    page.context.close()


def test_live_page_draws_the_pushed_candles_of_the_timeframe_it_shows(browser, live_site):
    def caught_up() -> bool:
        # the streamer catches the 5m table up from the simulator at its first cycle, oldest first:
        # done once the newest stored 5m candle is the one before the simulator's open one
        newest = httpx.get(f"{live_site.url}/api/candles?tf=5m&limit=1", timeout=5).json()["candles"]
        open_5m = bucket(int(time.time()), "5m")  # the simulator runs on this machine's clock
        return bool(newest) and newest[-1]["time"] >= open_5m - 300

    wait_until(caught_up, 60, "the 5m catch-up")
    page = open_chart(browser, live_site, path="/?tf=5m")
    page.wait_for_function("() => __chartDebug.loaded.tf === '5m' && __chartDebug.loaded.bars === 1000")
    last_closed = page.evaluate("__chartDebug.series.data().at(-1).time")
    # the simulator pushes the open 5m candle every 2 s: drawn as the bar right after the last closed one
    page.wait_for_function(
        f"""() => {{
          const bars = __chartDebug.series.data();
          return bars.at(-1).time > {last_closed} && bars.at(-1).time - bars.at(-2).time === 300;
        }}""",
        timeout=15_000,
    )
    save_artifact(page, "chart-tf-5m-live-desktop.png")
    choose(page, "4h")
    now_s = page.evaluate("Math.floor(Date.now() / 1000)")
    open_bucket = bucket(now_s, "4h")
    # the open 4h candle is pushed with each open 1h update
    page.wait_for_function(f"() => __chartDebug.series.data().at(-1).time === {open_bucket}", timeout=15_000)
    api_last = live_site.get("/api/candles", tf="4h")["candles"][-1]
    assert api_last["time"] <= open_bucket and api_last["hours"] <= 4
    assert page.page_errors == [] and csp_violations(page) == []
    page.context.close()
