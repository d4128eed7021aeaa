"""End to end: `manage.py serve --simulator` + headless Chromium. Walls placed in the simulator must
show up on the open page, over the push and over REST polling when the socket is gone."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal

import httpx
import pytest

from tests.browser.conftest import ROOT, csp_violations, open_chart, save_artifact

pytestmark = pytest.mark.browser
PX = 0.75
WALL_QTY = "600"  # the simulator's book holds ~40-140 BTC per 50 EUR bin: this is a >4x wall


def place_wall(site, side: str, price: Decimal) -> str:
    response = httpx.post(
        f"{site.simulator_url}/sim/control",
        timeout=5,
        json={"action": "place_wall", "side": side, "price": str(price), "qty": WALL_QTY},
    )
    response.raise_for_status()
    return response.json()["result"]


def pull_wall(site, wall_id: str) -> None:
    httpx.post(
        f"{site.simulator_url}/sim/control", json={"action": "pull_wall", "wall_id": wall_id}, timeout=5
    ).raise_for_status()


def wall_price(page, side: str, distance: int) -> Decimal:
    """A price `distance` EUR from mid, in the middle of a 50 EUR bin (clear of bin edges)."""
    page.wait_for_function("() => __chartDebug.state().metrics !== null")
    mid = Decimal(str(page.evaluate("__chartDebug.state().metrics.mid")))
    target = mid - distance if side == "bid" else mid + distance
    return (target // 50) * 50 + 25


BAND_AT = """([side, price]) => __chartDebug.painted.bands.find(
  (b) => b.side === side && __chartDebug.state().zones.some(
    (z) => z.id === b.id && Number(z.price_low) <= price && price <= Number(z.price_high)))"""


def test_a_wall_placed_in_the_simulator_appears_on_the_page_without_reload(browser, live_site):
    page = open_chart(browser, live_site)
    price = wall_price(page, "bid", 300)
    wall = place_wall(live_site, "bid", price)
    try:
        handle = page.wait_for_function(BAND_AT, arg=["bid", float(price)], timeout=20_000)
        band = handle.json_value()
        assert page.evaluate("__chartDebug.transport") == "ws"
        zone = next(z for z in live_site.get("/api/zones")["zones"] if z["id"] == band["id"])
        assert Decimal(zone["price_low"]) <= price <= Decimal(zone["price_high"])
        top, bottom = page.evaluate(
            "([h, l]) => [__chartDebug.priceToY(h), __chartDebug.priceToY(l)]",
            [zone["price_high"], zone["price_low"]],
        )
        mid_y = (band["y1"] + band["y2"]) / 2
        assert mid_y == pytest.approx((top + bottom) / 2, abs=PX)
        assert band["y2"] - band["y1"] >= max(bottom - top, page.evaluate("__chartDebug.minHeightPx")) - PX
        assert band["x1"] == pytest.approx(
            page.evaluate(f"__chartDebug.timeToX({zone['time_from']})"), abs=PX
        )
        assert band["tailTo"] == page.evaluate("__chartDebug.painted.width")  # live: reaches the right edge
        assert (
            page.page_errors == [] and csp_violations(page) == []
        )  # the CSP lets the page and its socket work
        save_artifact(page, "chart-live.png")
        if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
            shutil.copy(ROOT / "test-artifacts" / "chart-live.png", ROOT / "docs" / "screenshot.png")
    finally:
        pull_wall(live_site, wall)
        page.context.close()


def test_killing_the_socket_switches_to_polling_and_updates_continue(browser, live_site):
    link = {"up": True, "sockets": []}

    def route(ws):
        if not link["up"]:
            ws.close(code=4001, reason="link down")
            return
        ws.connect_to_server()
        link["sockets"].append(ws)

    page = open_chart(browser, live_site, before_load=lambda p: p.route_web_socket("**/ws/overlays", route))
    link["up"] = False
    for ws in link["sockets"]:
        ws.close(code=4001, reason="link down")
    page.wait_for_function("() => __chartDebug.pill === 'polling'", timeout=15_000)
    assert page.locator("#transport").inner_text() == "push: polling"
    # polling still reaches the server, and the book is live: the headline stays live
    page.wait_for_function("() => __chartDebug.headline.state === 'live'", timeout=10_000)
    assert page.locator("#pill").inner_text() == "live"

    # a new wall while the socket is down: it arrives through GET /api/overlays polling
    price = wall_price(page, "ask", 350)
    wall = place_wall(live_site, "ask", price)
    try:
        page.wait_for_function(
            f"() => ({BAND_AT})(['ask', {float(price)}]) && __chartDebug.transport === 'polling'",
            timeout=20_000,
        )
        metrics_before = page.evaluate("__chartDebug.state().metrics.ts_ms")
        page.wait_for_function(f"() => __chartDebug.state().metrics.ts_ms > {metrics_before}", timeout=10_000)
        save_artifact(page, "chart-live-polling.png")
        link["up"] = True
        page.wait_for_function(
            "() => __chartDebug.pill === 'live' && !__chartDebug.pollingActive", timeout=30_000
        )
        assert page.evaluate(BAND_AT, ["ask", float(price)]) is not None  # still drawn after the switch back
    finally:
        pull_wall(live_site, wall)
        page.context.close()
