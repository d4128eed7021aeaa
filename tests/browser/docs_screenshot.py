"""Regenerate docs/screenshot.png from the offline demo (`serve --simulator`).

    .venv/bin/python -m tests.browser.docs_screenshot

Starts the demo on a free port with a fresh database (it writes 4 h of simulated heatmap history),
places walls in the simulator (two bid walls, two ask walls; one ask wall is pulled after 15 s so
it ends in the zone history with the "pulled" mark), waits until the long-lived walls are
confirmed, shows the last ~16 hours (the heatmap's 4 h, the live zones, the depth profile; the
price axis widened to the nearest active order block so its box is in the picture), hovers the
order block's box so its tooltip shows, and saves the page at 1440x900. Progress goes to
stderr.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    _base_env,
    _python,
    _stop,
    free_port,
    wait_until,
)

RECENT_BARS = 16  # the last hours: the demo's 4 h of heatmap are a quarter of the width
VIEWPORT_DOCS = {"width": 1440, "height": 900}
# the price axis also spans the nearest active order block below or above the recent candles
INCLUDE_NEAREST_BLOCK = """() => {
  const d = __chartDebug;
  const close = d.series.data().slice(-1)[0].close;
  const blocks = d.state().orderblocks.filter((b) => b.status !== "invalid")
    .filter((b) => Math.abs((Number(b.price_low) + Number(b.price_high)) / 2 - close) < close * 0.02);
  if (!blocks.length) return null;
  const low = Math.min(...blocks.map((b) => Number(b.price_low))) - 50;
  const high = Math.max(...blocks.map((b) => Number(b.price_high))) + 50;
  d.series.applyOptions({autoscaleInfoProvider: (original) => {
    const r = original();
    if (!r || !r.priceRange) return r;
    return {...r, priceRange: {minValue: Math.min(r.priceRange.minValue, low), maxValue: Math.max(r.priceRange.maxValue, high)}};
  }});
  return [low, high];
}"""


def say(text: str) -> None:
    sys.stderr.write(f"[docs_screenshot] {text}\n")


def control(sim: str, **body: str) -> str:
    response = httpx.post(f"{sim}/sim/control", json=body, timeout=5)
    response.raise_for_status()
    return str(response.json()["result"])


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="docs-shot-"))
    env = _base_env(tmp)
    env["REDIS_URL"] = ""
    env["HEALTH_DETAILS"] = "1"  # /api/health names the simulator's control URL
    say("migrating a fresh database")
    subprocess.run([_python(), "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(tmp / "serve.log", "wb") as log:
        server = subprocess.Popen(
            [_python(), "manage.py", "serve", "--simulator", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        say(f"waiting for {url} to go live")
        health = wait_until(
            lambda: (h := httpx.get(f"{url}/api/health", timeout=2).json())["status"] == "live" and h,
            60,
            "serve --simulator",
        )
        sim = health["simulator_url"]
        mid = Decimal(httpx.get(f"{url}/api/overlays", timeout=5).json()["metrics"]["mid"])
        at = lambda offset: str((mid + offset) // 50 * 50 + 25)  # noqa: E731
        control(sim, action="place_wall", side="bid", price=at(-260), qty="700")
        control(sim, action="place_wall", side="bid", price=at(-560), qty="900")
        control(sim, action="place_wall", side="ask", price=at(310), qty="600")
        spoof = control(sim, action="place_wall", side="ask", price=at(610), qty="800")
        say("walls placed; pulling one after 15 s, then waiting for confirmation (~35 s)")
        time.sleep(15)
        control(sim, action="pull_wall", wall_id=spoof)
        wait_until(
            lambda: (
                sum(
                    z["status"] == "confirmed"
                    for z in httpx.get(f"{url}/api/zones", timeout=2).json()["zones"]
                )
                >= 2
            ),
            60,
            "two confirmed zones",
            interval=1,
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT_DOCS)
            page.goto(url + "/")
            page.wait_for_function(
                "() => window.__chartDebug && __chartDebug.ready && __chartDebug.pill === 'live'"
            )
            page.wait_for_function("() => __chartDebug.painted.bands.some((b) => b.status === 'confirmed')")
            page.wait_for_function(
                "() => __chartDebug.mapper.lastTime >= Math.floor(Date.now() / 3600000) * 3600"
            )
            page.evaluate(f"""() => {{
              const n = __chartDebug.series.data().length;
              __chartDebug.chart.timeScale().setVisibleLogicalRange({{from: n - {RECENT_BARS}, to: n + 3}});
            }}""")
            say(f"price axis widened to {page.evaluate(INCLUDE_NEAREST_BLOCK)}")
            page.wait_for_function(
                "() => __chartDebug.zoneHistory.painted.bands.some((b) => b.status === 'pulled')"
                " && __chartDebug.heatmap.painted.drawn && __chartDebug.heatmap.inFlight === 0",
                timeout=30_000,
            )
            page.wait_for_timeout(600)  # the debounced colour scale and a repaint
            # hover the order block's box left of the heatmap: its tooltip covers no wall or mark
            block = page.evaluate("""() => {
              const p = __chartDebug.painted;
              const inView = p.boxes.filter((b) => b.y1 > 40 && b.y2 < p.height - 10);
              return inView.sort((a, b) => b.x1 - a.x1)[0] || null;
            }""")
            if block is not None:
                chart = page.locator("#chart").bounding_box()
                x = max(block["x1"], 0) + 60
                page.mouse.move(chart["x"] + x, chart["y"] + (block["y1"] + block["y2"]) / 2)
                page.locator("#tooltip").wait_for(state="visible")
            out = ROOT / "docs" / "screenshot.png"
            page.screenshot(path=str(out))
            browser.close()
        say(f"saved {out}")
    finally:
        _stop(server)


if __name__ == "__main__":
    main()
