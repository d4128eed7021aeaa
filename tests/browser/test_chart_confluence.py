"""The liquidity inside the order blocks on the page (headless Chromium, daphne, a seeded database and
the Redis channel layer): a block backed by liquidity gets a stronger border and its badge, from a
`confluence` push and from the stored state a (re)load reads; the tooltip has the details; "Backed
only" leaves the backed blocks alone."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from tests.browser.conftest import after_next_paint, csp_violations, open_chart, save_artifact

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def liquidity(block: dict[str, Any], qty: str, score: float | None, zones: list[str]) -> dict[str, Any]:
    low, high = float(block["price_low"]) - 50, float(block["price_high"]) + 50
    return {
        "side": "bid" if block["direction"] == "bullish" else "ask",
        "price_low": f"{low:.2f}",
        "price_high": f"{high:.2f}",
        "qty": qty,
        "notional": f"{float(qty) * (low + high) / 2:.2f}",
        "score": score,
        "zones": zones,
        "avg_1h": 8.2,
    }


def blocks_by_status(site) -> dict[str, dict[str, Any]]:
    return {b["status"]: b for b in site.get("/api/overlays")["orderblocks"]}


def painted_box(page, block_id: str) -> dict[str, Any]:
    return next(b for b in page.evaluate("__chartDebug.painted.boxes") if b["id"] == block_id)


# the pane canvas' RGB values in a rectangle of CSS pixels
RECT_RGB = """([x1, y1, x2, y2]) => {
  const w = __chartDebug.painted.width;
  const canvas = [...document.querySelectorAll('#chart canvas')].find((c) => Math.abs(c.clientWidth - w) < 1);
  const ratio = canvas.width / canvas.clientWidth;
  const left = Math.round(x1 * ratio), top = Math.round(y1 * ratio);
  const width = Math.max(1, Math.round((x2 - x1) * ratio)), height = Math.max(1, Math.round((y2 - y1) * ratio));
  return Array.from(canvas.getContext('2d').getImageData(left, top, width, height).data).filter((_, i) => i % 4 !== 3);
}"""


def badge_ink(page, badge: dict[str, Any]) -> int:
    """How much the badge changes its pixels: the largest channel difference inside its text area
    between the chart with the order blocks and without. The badge is drawn over the candles (a dark
    plate, the text in the block's colour): it changes pixels by ~100 or more even over a candle;
    the box's fill alone, behind the candles, by under 45."""
    area = [badge["x1"], badge["y1"] + 2, badge["x2"], badge["y2"] - 2]
    shown = page.evaluate(RECT_RGB, area)
    toggle = "() => document.querySelector('input[data-layer=\"orderblocks\"]').click()"
    page.evaluate(toggle)  # the blocks' layer off
    after_next_paint(page)
    hidden = page.evaluate(RECT_RGB, area)
    page.evaluate(toggle)  # and on again
    after_next_paint(page)
    return max(abs(a - b) for a, b in zip(shown, hidden, strict=True))


def hover(page, box: dict[str, Any]) -> str:
    pane = page.evaluate("""() => {
      const w = __chartDebug.painted.width;
      const canvas = [...document.querySelectorAll('#chart canvas')].find((c) => Math.abs(c.clientWidth - w) < 1);
      const r = canvas.getBoundingClientRect();
      return {left: r.left, top: r.top};
    }""")
    page.mouse.move(pane["left"] + box["x1"] + 30, pane["top"] + (box["y1"] + box["y2"]) / 2)
    page.wait_for_function(f"() => document.getElementById('tooltip').dataset.id === {json.dumps(box['id'])}")
    return page.locator("#tooltip").inner_text()


def test_a_pushed_backed_block_gets_a_stronger_border_its_badge_and_the_details(browser, seeded_site, pusher):
    blocks = blocks_by_status(seeded_site)
    fresh, touched = blocks["fresh"], blocks["touched"]
    assert (fresh["liquidity"], fresh["backed"]) == (None, False)  # nothing measured in the seeded scene
    page = open_chart(browser, seeded_site)
    page.wait_for_function("() => __chartDebug.painted.boxes.length === 2")
    assert painted_box(page, fresh["id"])["borderPx"] == 1
    assert "liquidity unknown" in hover(page, painted_box(page, fresh["id"]))

    confirmed = next(z for z in seeded_site.get("/api/overlays")["zones"] if z["status"] == "confirmed")
    pusher.send(
        "confluence",
        {
            "changed": [
                {
                    "id": fresh["id"],
                    "liquidity": liquidity(fresh, "12.41", 5.1234, [confirmed["id"]]),
                    "backed": True,
                },
                {"id": touched["id"], "liquidity": liquidity(touched, "0.8", 0.9, []), "backed": False},
            ],
            "state": {"computing": True, "reason": "live"},
        },
    )
    page.wait_for_function("() => __chartDebug.painted.badges.length === 1")
    [badge] = page.evaluate("__chartDebug.painted.badges")
    box = painted_box(page, fresh["id"])
    assert badge["id"] == fresh["id"] and badge["text"] == "12.4 BTC · 5.1x"
    assert box["backed"] and box["borderPx"] == 3 and box["stroke"].endswith(",1.000)")
    assert (
        box["x1"] <= badge["x1"] < box["x2"]
        and badge["y1"] >= box["y1"] - 16
        and badge["y2"] <= box["y2"] + 1
    )
    after_next_paint(page)
    # the layer goes off and on under the mouse: the tooltip below must still name the block it shows
    assert badge_ink(page, badge) >= 80  # drawn over the candles, in the block's colour
    plain = painted_box(page, touched["id"])
    assert not plain["backed"] and plain["borderPx"] == 1  # measured, but not backed: no badge

    text = hover(page, box)
    for line in (
        "liquidity 12.4 BTC",
        "score 5.1x",
        "zones 1 (1 confirmed)",
        "1h average 8.20 BTC",
        "backed yes",
    ):
        assert line in " ".join(text.split()), text
    assert "1 backed by liquidity" in page.locator("#legend-counts").inner_text()
    save_artifact(page, "chart-confluence-tooltip-desktop.png")
    page.mouse.move(5, 5)
    save_artifact(page, "chart-confluence-desktop.png")

    page.get_by_label("Backed only").check()
    page.wait_for_function("() => __chartDebug.painted.boxes.length === 1")
    assert painted_box(page, fresh["id"])["backed"]
    page.get_by_label("Backed only").uncheck()
    page.wait_for_function("() => __chartDebug.painted.boxes.length === 2")
    assert page.page_errors == [] and csp_violations(page) == []
    page.context.close()


def test_a_reload_shows_the_stored_confluence_on_a_phone(browser, seeded_site):
    blocks = blocks_by_status(seeded_site)
    fresh = blocks["fresh"]
    document = {
        "state": {"computing": True, "reason": "live"},
        "blocks": {fresh["id"]: {"liquidity": liquidity(fresh, "3.2549", 7.25, []), "backed": True}},
    }
    path = seeded_site.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:  # as the streamer writes it (apps.confluence.services.store)
        db.execute(
            "INSERT INTO orderblock_confluence (symbol, ts_ms, document) VALUES (?, ?, ?)",
            ("BTCEUR", 1, json.dumps(document)),
        )
    api = {b["id"]: b for b in seeded_site.get("/api/orderblocks")["orderblocks"]}
    assert api[fresh["id"]]["backed"] is True and api[fresh["id"]]["liquidity"]["qty"] == "3.2549"

    page = open_chart(browser, seeded_site, viewport=PHONE)
    page.wait_for_function("() => __chartDebug.painted.badges.length === 1")
    [badge] = page.evaluate("__chartDebug.painted.badges")
    assert badge["text"] == "3.25 BTC · 7.3x"
    assert badge["x1"] >= 0 and badge["x2"] <= PHONE["width"]
    assert painted_box(page, fresh["id"])["borderPx"] == 3
    save_artifact(page, "chart-confluence-phone.png")
    assert page.page_errors == []
    page.context.close()
