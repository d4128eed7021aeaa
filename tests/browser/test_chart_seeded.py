"""The chart page in headless Chromium against daphne + a seeded database + a Redis channel layer."""

from __future__ import annotations

import bisect
import re

import pytest

from tests.browser.conftest import csp_violations, open_chart, save_artifact

pytestmark = pytest.mark.browser
PX = 0.75  # tolerance: sub-pixel rounding between our mapping and the chart's own

GEOMETRY_JS = """(prices) => {
  const d = window.__chartDebug;
  const ts = d.chart.timeScale();
  const times = d.series.data().map((b) => b.time);
  return {
    painted: d.painted,
    times,
    xs: times.map((t) => ts.timeToCoordinate(t)),
    ys: Object.fromEntries(prices.map((p) => [p, d.series.priceToCoordinate(Number(p))])),
    minBandPx: d.minBandPx,
  };
}"""


def geometry(page, items):
    prices = sorted({p for item in items for p in (item["price_low"], item["price_high"])})
    return page.evaluate(GEOMETRY_JS, prices)


def expected_x(t, times, xs):
    """Independent of the page's mapper: the chart's own bar coordinates, interpolated/extrapolated."""
    if t >= times[-1]:
        return xs[-1] + (t - times[-1]) / 3600 * (xs[-1] - xs[-2])
    i = bisect.bisect_right(times, t) - 1
    return xs[i] + (t - times[i]) / (times[i + 1] - times[i]) * (xs[i + 1] - xs[i])


def alpha(rgba: str) -> float:
    return float(re.findall(r"[\d.]+", rgba)[-1])


def test_boxes_and_bands_are_painted_where_the_data_says(browser, seeded_site):
    page = open_chart(browser, seeded_site)
    state = seeded_site.get("/api/overlays")
    blocks = {b["status"]: b for b in state["orderblocks"]}
    zones = {z["status"]: z for z in state["zones"]}
    assert set(blocks) == {"fresh", "touched", "invalid"} and set(zones) == {
        "confirmed",
        "candidate",
        "pulled",
    }
    del blocks["invalid"]  # hidden unless the toggle shows it (next test)
    page.wait_for_function(
        "() => __chartDebug.painted.boxes.length === 2 && __chartDebug.painted.bands.length === 3"
    )
    g = geometry(page, [*blocks.values(), *zones.values()])
    painted, times, xs, ys = g["painted"], g["times"], g["xs"], g["ys"]
    width = painted["width"]

    boxes = {b["id"]: b for b in painted["boxes"]}
    for block in blocks.values():
        box = boxes[block["id"]]
        assert box["x1"] == pytest.approx(xs[times.index(block["time_from"])], abs=PX)
        assert box["x2"] == width  # no valid_to: to the right edge, past the last bar
        assert box["y1"] == pytest.approx(ys[block["price_high"]], abs=PX)
        assert box["y2"] == pytest.approx(ys[block["price_low"]], abs=PX)
    assert boxes[blocks["fresh"]["id"]]["dash"] is False and boxes[blocks["touched"]["id"]]["dash"] is True
    assert boxes[blocks["touched"]["id"]]["fill"] != boxes[blocks["fresh"]["id"]]["fill"]

    bands = {b["id"]: b for b in painted["bands"]}
    now = painted["now"]
    for zone in zones.values():
        band = bands[zone["id"]]
        end = zone["time_to"] if zone["time_to"] is not None else now
        x1 = expected_x(zone["time_from"], times, xs)  # first_seen is not a bar time
        assert band["x1"] == pytest.approx(x1, abs=PX)
        assert band["x2"] == pytest.approx(max(expected_x(end, times, xs), x1 + g["minBandPx"]), abs=PX)
        assert band["y1"] == pytest.approx(ys[zone["price_high"]], abs=PX)
        assert band["y2"] == pytest.approx(ys[zone["price_low"]], abs=PX)
        assert band["tailTo"] == (width if zone["time_to"] is None else None)
    # "now" is past the last bar: the live bands reach beyond it, extrapolated with the bar spacing
    assert bands[zones["confirmed"]["id"]]["x2"] > xs[-1]
    # candidate dashed, confirmed solid, pulled faded
    assert bands[zones["candidate"]["id"]]["dash"] and not bands[zones["confirmed"]["id"]]["dash"]
    assert alpha(bands[zones["pulled"]["id"]]["fill"]) < alpha(bands[zones["candidate"]["id"]]["fill"])
    # the seeded scene has no streamer: no book update reaches the page, so within STALE_AFTER_S the
    # walls are greyed and marked with the time they were last seen, never shown as current
    page.wait_for_function("() => __chartDebug.painted.asOf !== null", timeout=10_000)
    assert page.evaluate("__chartDebug.headline.live") is False
    painted = page.evaluate("__chartDebug.painted")
    assert {tuple(b["fill"].split(",")[:3]) for b in painted["bands"]} == {("rgba(139", "148", "158")}
    assert "as of" in page.locator("#legend-counts").inner_text()
    assert page.page_errors == []
    save_artifact(page, "chart-seeded.png")
    page.context.close()


def test_layer_toggles_show_invalid_blocks_and_hide_layers(browser, seeded_site):
    page = open_chart(browser, seeded_site)
    invalid = seeded_site.get("/api/orderblocks", status="invalid")["orderblocks"][0]
    page.wait_for_function("() => __chartDebug.painted.boxes.length === 2")
    assert invalid["id"] not in {b["id"] for b in page.evaluate("__chartDebug.painted.boxes")}

    page.get_by_label("Invalid").check()
    page.wait_for_function("() => __chartDebug.painted.boxes.length === 3")
    g = geometry(page, [invalid])
    box = next(b for b in g["painted"]["boxes"] if b["id"] == invalid["id"])
    assert box["x1"] == pytest.approx(g["xs"][g["times"].index(invalid["time_from"])], abs=PX)
    assert box["x2"] == pytest.approx(g["xs"][g["times"].index(invalid["time_to"])], abs=PX)

    page.get_by_label("Touched").uncheck()
    page.wait_for_function("() => __chartDebug.painted.boxes.every((b) => b.status !== 'touched')")
    page.get_by_label("Zones").uncheck()
    page.wait_for_function("() => __chartDebug.painted.bands.length === 0")
    page.get_by_label("Bid/ask/mid").uncheck()
    page.wait_for_function("() => Object.keys(__chartDebug.priceLines).length === 0")
    page.get_by_label("Zones").check()
    page.wait_for_function("() => __chartDebug.painted.bands.length === 3")
    page.context.close()


def test_hovering_a_band_or_a_box_shows_its_details(browser, seeded_site):
    page = open_chart(browser, seeded_site)
    page.wait_for_function("() => __chartDebug.painted.bands.length === 3")
    pane = page.evaluate("""() => {
      const w = __chartDebug.painted.width;
      const canvas = [...document.querySelectorAll('#chart canvas')].find((c) => Math.abs(c.clientWidth - w) < 1);
      const r = canvas.getBoundingClientRect();
      return {left: r.left, top: r.top};
    }""")
    painted = page.evaluate("__chartDebug.painted")
    confirmed = next(b for b in painted["bands"] if b["status"] == "confirmed")
    page.mouse.move(
        pane["left"] + (confirmed["x1"] + confirmed["x2"]) / 2,
        pane["top"] + (confirmed["y1"] + confirmed["y2"]) / 2,
    )
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    text = tooltip.inner_text()
    assert "Bid liquidity zone" in text and "confirmed" in text and "9.00x" in text and "notional" in text
    assert "age" in text and "5h" in text  # seeded five hours ago

    fresh = next(b for b in painted["boxes"] if b["status"] == "fresh")
    page.mouse.move(pane["left"] + fresh["x1"] + 20, pane["top"] + (fresh["y1"] + fresh["y2"]) / 2)
    page.wait_for_function("() => document.querySelector('#tooltip').innerText.includes('order block')")
    text = tooltip.inner_text()
    assert "Bullish order block" in text and "fresh" in text and "ATR(14)" in text and "BOS level" in text
    # the title's colour is set through the CSSOM, which the page's CSP allows (a style attribute it would not)
    assert page.evaluate("document.querySelector('#tooltip .tt-title').style.color") != ""
    assert csp_violations(page) == []
    page.context.close()


def test_pushed_deltas_update_the_page_without_reload(browser, seeded_site, pusher):
    page = open_chart(browser, seeded_site)
    last_close = float(seeded_site.scene["last_close"])
    low, high = last_close + 600, last_close + 650
    zone = {
        "id": "BTCEUR:ask:pushed",
        "kind": "zone",
        "symbol": "BTCEUR",
        "side": "ask",
        "status": "candidate",
        "price_low": f"{low:.2f}",
        "price_high": f"{high:.2f}",
        "notional": "500000",
        "strength": 7.5,
        "persistence_s": 1.0,
        "first_seen_ts_ms": 0,
        "last_seen_ts_ms": 0,
        "ts_ms": 0,
        "book_update_id": 1,
        "time_from": page.evaluate("Math.floor(Date.now() / 1000)") - 120,
        "time_to": None,
    }
    zone["first_seen_ts_ms"] = zone["time_from"] * 1000
    pusher.send("zones", {"added": [zone], "changed": [], "removed": []})
    page.wait_for_function("() => __chartDebug.painted.bands.some((b) => b.id === 'BTCEUR:ask:pushed')")
    band = next(b for b in page.evaluate("__chartDebug.painted.bands") if b["id"] == zone["id"])
    assert band["y1"] == pytest.approx(page.evaluate(f"__chartDebug.priceToY({high})"), abs=PX)

    pusher.send(
        "metrics",
        {
            "ts_ms": 1,
            "symbol": "BTCEUR",
            "best_bid": "80000.5",
            "best_ask": "80001.5",
            "spread": "1",
            "mid": "80001",
            "imbalance_topn": 0.5,
            "update_id": 2,
        },
    )
    page.wait_for_function(
        "() => __chartDebug.priceLines.best_bid === 80000.5 && __chartDebug.priceLines.mid === 80001"
    )

    next_hour = seeded_site.scene["current_hour_ms"] // 1000
    pusher.send(
        "candle",
        {
            "time": next_hour,
            "open": last_close,
            "high": last_close + 50,
            "low": last_close - 20,
            "close": last_close + 30,
            "volume": 1.0,
            "closed": False,
        },
    )
    page.wait_for_function(f"() => __chartDebug.series.data().at(-1).time === {next_hour}")
    assert page.evaluate("__chartDebug.series.data().at(-1).close") == pytest.approx(last_close + 30)

    last_seq = pusher.send("zones", {"added": [], "changed": [], "removed": [zone["id"]]})
    # the page may repaint without the band for other reasons (a new bar moves the view): wait for the
    # removal itself to arrive, then check that the band is gone
    page.wait_for_function(f"() => __chartDebug.seq.seq === {last_seq}")
    page.wait_for_function("() => !__chartDebug.painted.bands.some((b) => b.id === 'BTCEUR:ask:pushed')")
    assert page.evaluate("__chartDebug.seq.epoch") == pusher.broadcaster.epoch
    assert page.page_errors == []
    page.context.close()


def test_a_lost_message_makes_the_page_refetch_the_state(browser, seeded_site, pusher):
    drop = {"next_delta": False, "dropped": 0}

    def route(ws):
        server = ws.connect_to_server()

        def from_server(message):
            if drop["next_delta"] and '"type":"delta"' in str(message):
                drop["next_delta"] = False
                drop["dropped"] += 1
                return
            ws.send(message)

        server.on_message(from_server)

    page = open_chart(browser, seeded_site, before_load=lambda p: p.route_web_socket("**/ws/overlays", route))
    pusher.send("status", {"symbol": "BTCEUR", "status": "live"})
    page.wait_for_function(f"() => __chartDebug.seq.seq === {pusher.broadcaster.last_seq}")
    snapshots = page.evaluate("__chartDebug.counts.snapshots")
    drop["next_delta"] = True
    pusher.send(
        "zones",
        {
            "added": [
                {
                    "id": "lost",
                    "kind": "zone",
                    "side": "bid",
                    "status": "candidate",
                    "price_low": "1",
                    "price_high": "2",
                    "strength": 5,
                    "time_from": 0,
                    "time_to": None,
                }
            ],
            "changed": [],
            "removed": [],
        },
    )
    pusher.send("status", {"symbol": "BTCEUR", "status": "live"})
    page.wait_for_function(f"() => __chartDebug.counts.snapshots === {snapshots + 1}")
    assert drop["dropped"] == 1
    assert page.evaluate("__chartDebug.counts.holes") == 1
    state = page.evaluate("__chartDebug.state()")
    assert sorted(z["id"] for z in state["zones"]) == sorted(
        z["id"] for z in seeded_site.get("/api/zones")["zones"]
    )
    pusher.send("status", {"symbol": "BTCEUR", "status": "live"})
    page.wait_for_function(f"() => __chartDebug.seq.seq === {pusher.broadcaster.last_seq}")
    page.context.close()
