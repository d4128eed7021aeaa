"""Alerts over a real database: stored once per key, read back by GET /api/alerts (400 JSON naming
the parameter on bad input), delivery attempts recorded, old alerts pruned."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from apps.alerts.domain.alert import Rule, make_alert
from apps.alerts.domain.delivery import AttemptOutcome, Delivery
from apps.alerts.models import Alert as AlertRow
from apps.alerts.services import store
from tests.alerts.scenes import SYMBOL

pytestmark = pytest.mark.django_db
NOW_MS = int(time.time() * 1000) // 1000 * 1000


def alert(i: int, rule: Rule = Rule.ZONE_PULLED_IN_BLOCK, ts_ms: int | None = None):
    ts = ts_ms if ts_ms is not None else NOW_MS - (10 - i) * 60_000
    return make_alert(SYMBOL, rule, f"zone-{i}", ts, f"zone {i} pulled", {"zone": {"id": f"zone-{i}"}})


def test_an_alert_is_stored_once_per_key_and_only_new_ones_come_back():
    first = [alert(1), alert(2)]
    assert store.insert_alerts(first, Delivery.PENDING) == first
    again = store.insert_alerts([alert(2), alert(3), alert(3)], Delivery.PENDING)
    assert [a.object_id for a in again] == ["zone-3"]
    assert AlertRow.objects.count() == 3
    row = AlertRow.objects.get(object_id="zone-1")
    assert (row.rule, row.delivery, row.attempts, row.details) == (
        "zone_pulled_in_block",
        "pending",
        0,
        {"zone": {"id": "zone-1"}},
    )


def test_the_api_serves_stored_alerts_oldest_first_with_their_delivery():
    store.insert_alerts([alert(i) for i in range(1, 6)], Delivery.PENDING)
    store.record_attempt(alert(2).key, AttemptOutcome(Delivery.RETRYING, 1, "HTTP 500", 2.0), NOW_MS)
    store.record_attempt(alert(3).key, AttemptOutcome(Delivery.DELIVERED, 2, ""), NOW_MS)
    body = Client().get("/api/alerts").json()
    assert body["symbol"] == SYMBOL and body["truncated"] is False and body["webhook"] is False
    assert [a["object_id"] for a in body["alerts"]] == [f"zone-{i}" for i in range(1, 6)]
    second, third = body["alerts"][1], body["alerts"][2]
    assert second["delivery"] == {
        "state": "retrying",
        "attempts": 1,
        "last_error": "HTTP 500",
        "delivered_ts_ms": None,
    }
    assert third["delivery"]["state"] == "delivered" and third["delivery"]["delivered_ts_ms"] == NOW_MS
    assert second["key"] == alert(2).key and second["time"] == second["ts_ms"] // 1000
    assert second["title"] == "Zone pulled in an order block" and second["details"] == {
        "zone": {"id": "zone-2"}
    }
    assert AlertRow.objects.get(key=alert(2).key).next_attempt_ts_ms == NOW_MS + 2000

    since = alert(4).ts_ms // 1000
    recent = Client().get("/api/alerts", {"from": since}).json()
    assert [a["object_id"] for a in recent["alerts"]] == ["zone-4", "zone-5"]
    limited = Client().get("/api/alerts", {"limit": 2}).json()
    assert [a["object_id"] for a in limited["alerts"]] == ["zone-4", "zone-5"] and limited[
        "truncated"
    ] is True
    ranged = (
        Client().get("/api/alerts", {"from": alert(2).ts_ms // 1000, "to": alert(3).ts_ms // 1000}).json()
    )
    assert [a["object_id"] for a in ranged["alerts"]] == ["zone-2", "zone-3"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"from": "yesterday"}, "from"),
        ({"from": "-1"}, "from"),
        ({"from": "200", "to": "100"}, "from"),
        ({"limit": "0"}, "limit"),
        ({"limit": "999999999"}, "limit"),
        ({"form": "1"}, "form"),
    ],
)
def test_bad_input_gets_400_json_naming_the_parameter(query, parameter):
    response = Client().get("/api/alerts", query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_parameter" and body["parameter"] == parameter


def test_alerts_older_than_the_retention_are_not_served_and_are_pruned(settings):
    old = alert(1, ts_ms=NOW_MS - 31 * 86_400_000)
    store.insert_alerts([old, alert(2)], Delivery.OFF)
    assert [a["object_id"] for a in Client().get("/api/alerts", {"from": 0}).json()["alerts"]] == ["zone-2"]
    assert store.prune(NOW_MS - 30 * 86_400_000, batch_size=1) == 1
    assert list(AlertRow.objects.values_list("object_id", flat=True)) == ["zone-2"]


def test_open_deliveries_recent_firings_and_entered_blocks_are_read_back():
    store.insert_alerts([alert(1), alert(2), alert(3, rule=Rule.ORDERBLOCK_ENTERED)], Delivery.PENDING)
    store.record_attempt(alert(1).key, AttemptOutcome(Delivery.DELIVERED, 1, ""), NOW_MS)
    store.record_attempt(alert(2).key, AttemptOutcome(Delivery.RETRYING, 3, "timed out", 4.0), NOW_MS)
    assert [r.object_id for r in store.open_deliveries(SYMBOL)] == ["zone-2", "zone-3"]
    assert store.give_up([alert(2).key], "too old") == 1
    assert [r.object_id for r in store.open_deliveries(SYMBOL)] == ["zone-3"]
    assert AlertRow.objects.get(key=alert(2).key).last_error == "too old"
    assert store.fired_since(SYMBOL, alert(2).ts_ms) == [
        ("zone_pulled_in_block", "zone-2", alert(2).ts_ms),
        ("orderblock_entered", "zone-3", alert(3).ts_ms),
    ]
    assert store.entered_blocks(SYMBOL, ["zone-3", "zone-9"], "orderblock_entered") == ["zone-3"]


def test_the_answer_and_the_push_match_the_documented_schemas():
    import jsonschema_rs

    from apps.alerts.presentation import alert_overlay

    store.insert_alerts([alert(1), alert(2, rule=Rule.BOOK_STALE)], Delivery.PENDING)
    gave_up = AttemptOutcome(Delivery.GIVEN_UP, 8, "HTTP 500 (gave up after 8 attempts)")
    store.record_attempt(alert(1).key, gave_up, NOW_MS)
    document = Client().get("/api/schema").json()
    components = {"components": document["components"]}
    ok = document["paths"]["/api/alerts"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = Client().get("/api/alerts").json()
    assert len(body["alerts"]) == 2
    jsonschema_rs.validate({**components, **ok}, body)
    push = {"type": "delta", "epoch": "e", "seq": 3, "kind": "alert", "data": alert_overlay(alert(3))}
    jsonschema_rs.validate({**components, "$ref": "#/components/schemas/AlertPush"}, push)
    wrong = {**push, "data": {**push["data"], "rule": "no_such_rule"}}
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate({**components, "$ref": "#/components/schemas/AlertPush"}, wrong)
