"""Zone history: every zone that ended (broken, pulled, merged; not discarded) once, with its life,
range, peaks and how it ended; written by the zone cycle, read by GET /api/zones/history."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest
from asgiref.sync import sync_to_async

from apps.book.domain.events import Side, Trade
from apps.zones.domain.ended import ended_zones
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import TrackerUpdate, ZoneRecord, ZoneTransition
from apps.zones.models import ZoneEnded
from apps.zones.services import store
from apps.zones.services.live import ZoneCycleListener
from project.config import load_config
from tests.zones.test_live import ID_A, WALL_A, live, make_book, set_level


def record(zone_id: str, status: ZoneStatus, ts_ms: int = 50_000) -> ZoneRecord:
    return ZoneRecord(
        id=zone_id,
        ts_ms=ts_ms,
        symbol="BTCEUR",
        side=Side.BID,
        price_low=D("86000"),
        price_high=D("86050"),
        notional=D("860000"),
        strength=6.0,
        persistence_s=20.0,
        status=status,
        first_seen_ts_ms=10_000,
        last_seen_ts_ms=48_000,
        book_update_id=7,
    )


def test_a_zone_ends_broken_pulled_or_merged_never_discarded():
    update = TrackerUpdate(
        history=tuple(
            record(name, status)
            for name, status in (
                ("p", ZoneStatus.PULLED),
                ("d", ZoneStatus.DISCARDED),
                ("m", ZoneStatus.MERGED),
                ("c", ZoneStatus.CANDIDATE),
                ("b", ZoneStatus.BROKEN),
            )
        ),
        transitions=(
            ZoneTransition(
                "p", ZoneStatus.CONFIRMED, ZoneStatus.PULLED, "missing 2 cycles; liquidity vanished"
            ),
            ZoneTransition("d", ZoneStatus.CANDIDATE, ZoneStatus.DISCARDED, "lived 3 s"),
            ZoneTransition("m", ZoneStatus.CANDIDATE, ZoneStatus.MERGED, "part of 85950-86100"),
            ZoneTransition("b", ZoneStatus.CANDIDATE, ZoneStatus.BROKEN, "trade at 86010 inside the zone"),
        ),
    )
    ended = ended_zones(update)
    assert [(e.record.id, e.record.status, e.reason) for e in ended] == [
        ("p", "pulled", "missing 2 cycles; liquidity vanished"),
        ("m", "merged", "part of 85950-86100"),
        ("b", "broken", "trade at 86010 inside the zone"),
    ]


@pytest.mark.django_db(transaction=True)
async def test_the_zone_cycle_writes_a_pulled_wall_once_with_its_peak():
    listener = ZoneCycleListener(load_config({}), None)
    book = make_book()
    for second in range(0, 12):
        if second == 5:
            set_level(book, WALL_A, "16")  # the wall grows for a while: its peak
        if second == 8:
            set_level(book, WALL_A, "10")
        await listener.on_cycle(live(second, book))
    set_level(book, WALL_A, "1")  # withdrawn, nobody traded there
    for second in range(12, 20):
        await listener.on_cycle(live(second, book))
    rows = await sync_to_async(list)(ZoneEnded.objects.all())
    assert [(r.zone_id, r.status, r.first_seen_ts_ms, r.last_seen_ts_ms, r.ended_ts_ms) for r in rows] == [
        (ID_A, "pulled", 0, 11_000, 13_000)
    ]
    [row] = rows
    assert row.peak_notional == D("86000") * 16 and row.peak_strength > 10
    assert (row.price_low, row.price_high) == (D("86000"), D("86050"))
    assert "liquidity vanished without trades there" in row.end_reason


@pytest.mark.django_db(transaction=True)
async def test_a_wall_traded_through_is_history_as_broken_and_a_brief_one_is_not_history():
    listener = ZoneCycleListener(load_config({}), None)
    book = make_book(walls=(WALL_A, "87000"))
    for second in range(0, 3):
        await listener.on_cycle(live(second, book))
    set_level(book, "87000", "1")  # gone after 3 s: discarded, no history
    for second in range(3, 21):
        await listener.on_cycle(live(second, book))
    set_level(book, WALL_A, "0")
    prints = [Trade(trade_id=1, price=D("86010"), qty=D(2), ts_ms=20_500, buyer_is_maker=True)]
    await listener.on_cycle(live(21, book, prints))
    await listener.on_cycle(live(22, book))
    rows = await sync_to_async(list)(ZoneEnded.objects.values_list("zone_id", "status"))
    assert rows == [(ID_A, "broken")]


NOW_MS = int(time.time() * 1000)


def ended_row(
    zone_id: str, status: str, first_s_ago: float, ended_s_ago: float, side: str = "bid"
) -> ZoneEnded:
    return ZoneEnded.objects.create(
        zone_id=zone_id,
        symbol="BTCEUR",
        side=side,
        status=status,
        end_reason=f"{status} for a test",
        price_low=D("86000"),
        price_high=D("86050.5"),
        peak_notional=D("1290007.5"),
        peak_strength=7.123456,
        first_seen_ts_ms=int(NOW_MS - first_s_ago * 1000),
        last_seen_ts_ms=int(NOW_MS - ended_s_ago * 1000 - 2000),
        ended_ts_ms=int(NOW_MS - ended_s_ago * 1000),
    )


@pytest.fixture
def history(db):
    ended_row("old", "pulled", 30 * 3600, 25 * 3600)  # ended before ZONE_HISTORY_H (24 h)
    ended_row("a", "pulled", 5 * 3600, 4 * 3600)
    ended_row("b", "broken", 3 * 3600, 2 * 3600, side="ask")
    ended_row("c", "merged", 1800, 600)


def test_the_history_lists_each_ended_zone_once_oldest_end_first(client, history):
    response = client.get("/api/zones/history")
    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "BTCEUR" and body["history_h"] == 24 and body["truncated"] is False
    assert [z["id"] for z in body["zones"]] == ["a", "b", "c"]
    a = body["zones"][0]
    assert a == {
        "id": "a",
        "kind": "zone",
        "symbol": "BTCEUR",
        "side": "bid",
        "status": "pulled",
        "end_reason": "pulled for a test",
        "price_low": "86000",
        "price_high": "86050.5",
        "peak_notional": "1290007.5",
        "peak_strength": 7.1235,
        "first_seen_ts_ms": a["first_seen_ts_ms"],
        "last_seen_ts_ms": a["ended_ts_ms"] - 2000,
        "ended_ts_ms": a["ended_ts_ms"],
        "time_from": a["first_seen_ts_ms"] // 1000,
        "time_to": a["ended_ts_ms"] // 1000,
    }


def test_the_history_filters_by_status_and_by_overlap_with_from_to(client, history):
    ids = lambda **q: [z["id"] for z in client.get("/api/zones/history", q).json()["zones"]]  # noqa: E731
    now_s = NOW_MS // 1000
    assert ids(status="pulled,broken") == ["a", "b"]
    assert ids(status="merged") == ["c"]
    assert ids(**{"from": now_s - 3 * 3600}) == ["b", "c"]  # a ended 4 h ago
    assert ids(to=now_s - 4 * 3600) == ["a"]  # b and c were first seen later
    assert ids(**{"from": now_s - 40 * 3600}) == ["a", "b", "c"]  # never beyond ZONE_HISTORY_H


def test_the_history_keeps_the_most_recent_when_over_the_limit(client, history, settings):
    settings.CONFIG = type(settings.CONFIG)(**{**settings.CONFIG.__dict__, "api_max_limit": 2})
    body = client.get("/api/zones/history").json()
    assert [z["id"] for z in body["zones"]] == ["b", "c"] and body["truncated"] is True


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"status": "candidate"}, "status"),  # live statuses are /api/zones
        ({"status": "discarded"}, "status"),
        ({"from": "9", "to": "8"}, "from"),
        ({"to": "soon"}, "to"),
        ({"limit": "3"}, "limit"),
    ],
)
def test_bad_parameters_get_400_naming_the_parameter(client, db, params, parameter):
    response = client.get("/api/zones/history", params)
    assert response.status_code == 400 and response.json()["parameter"] == parameter


def test_the_history_answers_304_to_its_own_etag(client, history):
    etag = client.get("/api/zones/history")["ETag"]
    assert client.get("/api/zones/history", HTTP_IF_NONE_MATCH=etag).status_code == 304


@pytest.mark.django_db
def test_ended_zones_older_than_zone_history_h_are_pruned_in_batches():
    for i in range(5):
        ended_row(f"z{i}", "pulled", 40 * 3600, 30 * 3600 - i)
    ended_row("recent", "pulled", 3600, 60)
    result = store.prune_ended(NOW_MS - 24 * 3_600_000, batch_size=2, max_batches=2)
    assert (result.deleted, result.finished) == (4, False)
    assert store.prune_ended(NOW_MS - 24 * 3_600_000, batch_size=2).finished
    assert list(ZoneEnded.objects.values_list("zone_id", flat=True)) == ["recent"]
