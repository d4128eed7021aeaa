"""REST API behaviour: shapes, filters, caps, every class of bad input, conditional GET."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.overlays.selectors import INVALID_BLOCK_LOOKBACK_MS, overlay_state
from tests.web.conftest import HOUR_MS, SYMBOL, T0_MS, make_block, make_metric, make_zone

pytestmark = pytest.mark.django_db
T0_S = T0_MS // 1000


@pytest.fixture
def client():
    return Client()


def get(client, url, **params):
    response = client.get(url, params)
    return response, (response.json() if response.status_code != 304 else None)


# --- candles --------------------------------------------------------------------------------------


def test_candles_default_is_every_candle_oldest_first_in_utc_seconds(client, seeded):
    response, body = get(client, "/api/candles")
    assert response.status_code == 200
    assert body["symbol"] == SYMBOL and body["interval"] == "1h"
    times = [c["time"] for c in body["candles"]]
    assert times == [T0_S + i * 3600 for i in range(48)]
    first = body["candles"][0]
    assert (first["open"], first["high"], first["low"], first["close"]) == (
        87000.0,
        87060.0,
        86960.0,
        87020.0,
    )


def test_candles_range_is_inclusive_and_limit_takes_from_the_right_end(client, seeded):
    _, body = get(client, "/api/candles", **{"from": T0_S + 3600, "to": T0_S + 5 * 3600})
    assert [c["time"] for c in body["candles"]] == [T0_S + i * 3600 for i in range(1, 6)]
    _, body = get(client, "/api/candles", **{"from": T0_S + 3600, "limit": 2})
    assert [c["time"] for c in body["candles"]] == [T0_S + 3600, T0_S + 7200]
    _, body = get(client, "/api/candles", limit=3)
    assert [c["time"] for c in body["candles"]] == [T0_S + i * 3600 for i in (45, 46, 47)]
    _, body = get(client, "/api/candles", to=T0_S + 10 * 3600, limit=2)
    assert [c["time"] for c in body["candles"]] == [T0_S + 9 * 3600, T0_S + 10 * 3600]


# --- order blocks ---------------------------------------------------------------------------------


def test_orderblocks_are_chart_ready_boxes(client, seeded):
    _, body = get(client, "/api/orderblocks")
    blocks = {b["id"]: b for b in body["orderblocks"]}
    bull = blocks[f"{SYMBOL}:bullish:{T0_MS + 3 * HOUR_MS}"]
    assert bull["time_from"] == T0_S + 3 * 3600 and bull["time_to"] is None
    assert (bull["price_low"], bull["price_high"], bull["direction"], bull["status"]) == (
        "86900",
        "86950",
        "bullish",
        "fresh",
    )
    assert bull["atr14"] == "120.5" and bull["bos_level"] == "87100"
    invalid = blocks[f"{SYMBOL}:bullish:{T0_MS + 20 * HOUR_MS}"]
    assert invalid["time_to"] == T0_S + 30 * 3600


def test_orderblocks_filter_by_status_list_and_time_overlap(client, seeded):
    _, body = get(client, "/api/orderblocks", status="touched,invalid")
    assert sorted(b["status"] for b in body["orderblocks"]) == ["invalid", "touched"]
    # [31h, 40h]: the invalid block ended at 30h, the other two are open-ended
    _, body = get(client, "/api/orderblocks", **{"from": T0_S + 31 * 3600, "to": T0_S + 40 * 3600})
    assert {b["status"] for b in body["orderblocks"]} == {"fresh", "touched"}
    # [0, 5h]: only the block created at 3h existed
    _, body = get(client, "/api/orderblocks", **{"from": T0_S, "to": T0_S + 5 * 3600})
    assert [b["time_from"] for b in body["orderblocks"]] == [T0_S + 3 * 3600]
    _, body = get(client, "/api/orderblocks", limit=1)
    assert [b["time_from"] for b in body["orderblocks"]] == [T0_S + 20 * 3600]


# --- zones, metrics, overlays ---------------------------------------------------------------------


def test_zones_filter_by_status(client, seeded):
    _, body = get(client, "/api/zones")
    assert [z["price_low"] for z in body["zones"]] == ["86950", "87100", "87300"]
    _, body = get(client, "/api/zones", status="candidate,confirmed")
    assert {z["status"] for z in body["zones"]} == {"candidate", "confirmed"}
    pulled = get(client, "/api/zones", status="pulled")[1]["zones"][0]
    assert pulled["time_to"] == pulled["last_seen_ts_ms"] // 1000
    live = get(client, "/api/zones", status="confirmed")[1]["zones"][0]
    assert live["time_to"] is None and live["time_from"] == live["first_seen_ts_ms"] // 1000
    assert live["side"] == "bid" and live["notional"] == "123456.78" and live["strength"] == 6.5


def test_metrics_range_and_limit(client, seeded):
    base = T0_S + 47 * 3600
    _, body = get(client, "/api/metrics")
    assert [m["time"] for m in body["metrics"]] == [base + k for k in range(10)]
    m = body["metrics"][0]
    assert (m["best_bid"], m["best_ask"], m["spread"], m["mid"]) == (
        "87000.01",
        "87000.02",
        "0.01",
        "87000.015",
    )
    _, body = get(client, "/api/metrics", **{"from": base + 2, "to": base + 4})
    assert [m["time"] for m in body["metrics"]] == [base + 2, base + 3, base + 4]
    _, body = get(client, "/api/metrics", limit=2)
    assert [m["time"] for m in body["metrics"]] == [base + 8, base + 9]


def test_overlays_bundle_zones_blocks_latest_metric_and_status(client, seeded):
    _, body = get(client, "/api/overlays")
    assert len(body["zones"]) == 3
    assert body["metrics"]["ts_ms"] == T0_MS + 47 * HOUR_MS + 9000
    assert body["status"]["status"] == "live"
    # the invalid block ended long ago (T0 is in 2023): not part of the chart state
    assert {b["status"] for b in body["orderblocks"]} == {"fresh", "touched"}


def test_overlay_state_keeps_recently_invalidated_blocks(seeded):
    now_ms = T0_MS + 30 * HOUR_MS + INVALID_BLOCK_LOOKBACK_MS - 1
    assert "invalid" in {b["status"] for b in overlay_state(SYMBOL, now_ms)["orderblocks"]}
    now_ms += 2
    assert "invalid" not in {b["status"] for b in overlay_state(SYMBOL, now_ms)["orderblocks"]}


def test_overlays_without_any_data(client, db):
    _, body = get(client, "/api/overlays")
    assert body["zones"] == [] and body["orderblocks"] == [] and body["metrics"] is None
    assert body["status"]["status"] == "connecting" and body["depth"] is None


# --- bad input ------------------------------------------------------------------------------------

BAD = [
    ("/api/candles", {"from": "abc"}, "from"),
    ("/api/candles", {"from": "1.5"}, "from"),
    ("/api/candles", {"to": ""}, "to"),
    ("/api/candles", {"to": "-1"}, "to"),
    ("/api/candles", {"from": "99999999999999999999"}, "from"),
    ("/api/candles", {"from": "1000000000000"}, "from"),
    ("/api/candles", {"from": "200", "to": "100"}, "from"),
    ("/api/candles", {"limit": "0"}, "limit"),
    ("/api/candles", {"limit": "5001"}, "limit"),
    ("/api/candles", {"limit": "ten"}, "limit"),
    ("/api/candles", {"form": "1"}, "form"),
    ("/api/orderblocks", {"status": "fresh,bogus"}, "status"),
    ("/api/orderblocks", {"status": ""}, "status"),
    ("/api/orderblocks", {"status": "fresh,"}, "status"),
    ("/api/orderblocks", {"from": "x"}, "from"),
    ("/api/orderblocks", {"from": "10", "to": "9"}, "from"),
    ("/api/orderblocks", {"limit": "100000"}, "limit"),
    ("/api/zones", {"status": "confirmed;drop"}, "status"),
    ("/api/zones", {"status": "FRESH"}, "status"),
    ("/api/zones", {"limit": "5"}, "limit"),
    ("/api/metrics", {"to": "1e9"}, "to"),
    ("/api/metrics", {"from": "5", "to": "4"}, "from"),
    ("/api/metrics", {"limit": "-3"}, "limit"),
    ("/api/overlays", {"x": "1"}, "x"),
    ("/api/schema", {"format": "yaml"}, "format"),
]


@pytest.mark.parametrize(("url", "params", "parameter"), BAD)
def test_bad_parameters_get_400_naming_the_parameter(client, url, params, parameter):
    response = client.get(url, params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_parameter" and body["parameter"] == parameter
    assert parameter in body["detail"] or body["detail"]
    assert response["Cache-Control"] == "no-store"


def test_repeated_parameter_is_rejected(client):
    response = client.get("/api/candles?limit=1&limit=2")
    assert response.status_code == 400 and response.json()["parameter"] == "limit"


def test_limit_cap_follows_the_setting(client, settings, seeded):
    settings.CONFIG = type(settings.CONFIG)(**{**settings.CONFIG.__dict__, "api_max_limit": 10})
    assert client.get("/api/candles", {"limit": 11}).status_code == 400
    _, body = get(client, "/api/candles", limit=10)
    assert len(body["candles"]) == 10
    _, body = get(client, "/api/candles")  # the default is clipped to the cap, not rejected
    assert len(body["candles"]) == 10


@pytest.mark.parametrize(
    "url", ["/api/candles", "/api/orderblocks", "/api/zones", "/api/overlays", "/api/metrics", "/api/schema"]
)
def test_only_get_is_allowed(client, url):
    response = client.post(url)
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


# --- conditional GET ------------------------------------------------------------------------------


def test_polling_with_the_etag_gets_304_until_something_changes(client, seeded):
    first = client.get("/api/overlays")
    etag = first["ETag"]
    assert etag and first["Cache-Control"] == "no-cache"
    again = client.get("/api/overlays", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    make_metric(T0_MS + 48 * HOUR_MS, bid="87010", ask="87011")
    changed = client.get("/api/overlays", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["metrics"]["best_bid"] == "87010"


@pytest.mark.parametrize(
    "url", ["/api/candles", "/api/orderblocks?status=fresh", "/api/zones", "/api/metrics", "/api/schema"]
)
def test_every_endpoint_answers_304_to_its_own_etag(client, seeded, url):
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_new_zone_changes_the_zones_etag(client, seeded):
    etag = client.get("/api/zones")["ETag"]
    make_zone(f"{SYMBOL}:bid:86000:86050", "bid", "86000", "86050")
    assert client.get("/api/zones", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_new_block_changes_the_blocks_etag(client, seeded):
    etag = client.get("/api/orderblocks")["ETag"]
    make_block("bearish", 40)
    assert client.get("/api/orderblocks", HTTP_IF_NONE_MATCH=etag).status_code == 200


# --- schema and page ------------------------------------------------------------------------------


def test_schema_documents_every_endpoint(client):
    _, body = get(client, "/api/schema")
    assert body["openapi"].startswith("3.")
    assert set(body["paths"]) == {
        "/api/candles",
        "/api/orderblocks",
        "/api/zones",
        "/api/zones/history",
        "/api/heatmap",
        "/api/reactions",
        "/api/reactions/stats",
        "/api/alerts",
        "/api/overlays",
        "/api/metrics",
        "/api/book",
        "/api/health",
        "/api/schema",
    }
    limit = next(p for p in body["paths"]["/api/candles"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 5000
    book_limit = body["paths"]["/api/book"]["get"]["parameters"][0]
    assert (book_limit["schema"]["minimum"], book_limit["schema"]["maximum"]) == (1, 100)


def test_chart_page_loads_the_pinned_library_locally_and_credits_tradingview(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/vendor/lightweight-charts/lightweight-charts.standalone.production.js" in html
    assert 'href="https://www.tradingview.com/"' in html
    assert "unpkg" not in html and "cdn" not in html.lower()


@pytest.mark.parametrize("render_touched", [True, False])
def test_chart_page_passes_the_render_touched_setting_to_the_page(client, settings, render_touched):
    settings.CONFIG = type(settings.CONFIG)(**{**settings.CONFIG.__dict__, "render_touched": render_touched})
    html = client.get("/").content.decode()
    config = json.loads(
        html.split('<script id="page-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["renderTouched"] is render_touched
    assert config["wsPath"] == "/ws/overlays" and config["symbol"] == SYMBOL
