"""Alerts on the page (headless Chromium, daphne, a seeded database, Redis): the list shows the stored
alerts on load; an alert pushed as the streamer pushes it (delta kind "alert") shows a toast and
joins the list; browser notifications only once the user allowed them. Screenshots desktop and phone."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.browser.conftest import ROOT, _python, csp_violations, open_chart, save_artifact

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1400, "height": 800}
PHONE = {"width": 390, "height": 844}

STORE_ONE = """
import django, json, sys
django.setup()
from apps.alerts.domain.alert import Rule, make_alert
from apps.alerts.domain.delivery import Delivery
from apps.alerts.presentation import alert_overlay
from apps.alerts.services.store import insert_alerts
alert = make_alert("BTCEUR", Rule.BOOK_STALE, "book", int(sys.argv[1]),
                   "BTCEUR: order book not live for 31 s (status: backoff)", {"status": "backoff"})
insert_alerts([alert], Delivery.OFF)
print(json.dumps(alert_overlay(alert)))
"""


def store_alert(site, ts_ms: int) -> dict:
    done = subprocess.run(
        [_python(), "-c", STORE_ONE, str(ts_ms)],
        cwd=ROOT,
        env=site.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def pulled_alert(key: str, ts_ms: int) -> dict:
    return {
        "key": key,
        "symbol": "BTCEUR",
        "rule": "zone_pulled_in_block",
        "object_id": "BTCEUR:bid:86700-86750",
        "ts_ms": ts_ms,
        "time": ts_ms // 1000,
        "title": "Zone pulled in an order block",
        "text": "BTCEUR: confirmed bid zone 86700-86750 (strength 6.8) pulled inside fresh bullish order "
        "block 86679-86799",
        "details": {"zone": {"id": "BTCEUR:bid:86700-86750", "status": "pulled"}},
        "delivery": {"state": "pending", "attempts": 0, "last_error": None},
    }


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_a_pushed_alert_shows_a_toast_and_joins_the_list(browser, seeded_site, pusher, name, viewport):
    now_ms = int(time.time() * 1000)
    stored = store_alert(seeded_site, now_ms - 120_000 - len(name))
    page = open_chart(browser, seeded_site, viewport=viewport)
    try:
        page.wait_for_function("(key) => __chartDebug.alerts.keys.includes(key)", arg=stored["key"])
        pushed = pulled_alert(("a" if name == "desktop" else "b") * 32, now_ms)
        pusher.send("alert", pushed)
        toast = page.locator(f'.toast[data-key="{pushed["key"]}"]')
        toast.wait_for(state="visible", timeout=10_000)
        assert "pulled inside fresh bullish order block 86679-86799" in toast.inner_text()
        assert "Zone pulled in an order block" in toast.inner_text()

        page.click("#alerts-toggle")
        items = page.locator("#alerts-list li")
        keys = [items.nth(i).get_attribute("data-key") for i in range(items.count())]
        assert keys[:2] == [pushed["key"], stored["key"]]  # newest first, the stored one from the API
        assert "order book not live for 31 s" in items.nth(1).inner_text()
        assert page.inner_text("#alerts-count") == str(len(keys))
        assert page.evaluate("__chartDebug.alerts.toasted") == 1  # the fetched one does not toast
        assert page.is_visible("#alerts-notify") and page.inner_text("#alerts-notify") == "Notify me"
        assert page.evaluate("__chartDebug.alerts.notified") == 0  # not without the user's consent
        save_artifact(page, f"alerts-{name}.png")
        assert page.page_errors == [] and csp_violations(page) == []
    finally:
        page.context.close()


def test_browser_notifications_only_once_allowed(browser, seeded_site, pusher):
    def allow(page):
        page.context.grant_permissions(["notifications"], origin=seeded_site.url)

    page = open_chart(browser, seeded_site, before_load=allow)
    try:
        page.click("#alerts-toggle")
        assert page.inner_text("#alerts-notify") == "Notifications on"
        pusher.send("alert", pulled_alert("f" * 32, int(time.time() * 1000)))
        page.wait_for_function("() => __chartDebug.alerts.notified === 1", timeout=10_000)
    finally:
        page.context.close()
