"""The zone cycle listener end to end: a real OrderBook, a real database, the in-memory channel layer."""

import asyncio
from decimal import Decimal as D

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import OperationalError

from apps.book.domain.events import Trade
from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.book.services.cycle import PublishCycle
from apps.overlays.broadcast import OverlayBroadcaster
from apps.zones.domain.tracking import ZoneRecord
from apps.zones.models import ZoneCurrent, ZoneHistory
from apps.zones.presentation import zone_overlay
from apps.zones.services import store
from apps.zones.services.live import ZoneCycleListener
from project.config import load_config

pytestmark = pytest.mark.django_db(transaction=True)

LEVELS = 17  # per side, one level of qty 1 per 50-wide bin: mid 86500, the 1 % range fits inside
WALL_A, WALL_B = "86000", "87000"
ID_A, ID_B = "BTCEUR:bid:86000-86050", "BTCEUR:ask:86950-87000"


def make_book(walls=(WALL_A,), limit=None):
    book = OrderBook()
    bids = {D("86450") - 50 * i: D("1") for i in range(LEVELS)}
    asks = {D("86550") + 50 * i: D("1") for i in range(LEVELS)}
    for price in walls:
        side = bids if D(price) < 86500 else asks
        side[D(price)] = D("10")
    book.load_snapshot(100, bids.items(), asks.items(), limit=limit)
    return book


def set_level(book, price, qty):
    price = D(price)
    bids, asks = ([(price, D(qty))], []) if price < 86500 else ([], [(price, D(qty))])
    book.apply(book.update_id + 1, bids, asks)


def live(second, book, trades=()):
    return PublishCycle(
        now_ms=second * 1000,
        symbol="BTCEUR",
        status="live",
        book=BookSnapshotView.capture(book),
        update_id=book.update_id,
        trades=tuple(trades),
    )


def down(second, status="resyncing"):
    return PublishCycle(now_ms=second * 1000, symbol="BTCEUR", status=status, book=None, update_id=None)


class Inbox:
    """A client of the symbol's group on the in-memory layer."""

    def __init__(self, broadcaster):
        self.broadcaster = broadcaster
        self.layer = broadcaster.layer
        self.channel = None

    async def join(self):
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.broadcaster.group, self.channel)
        return self

    async def next(self):
        return await asyncio.wait_for(self.layer.receive(self.channel), timeout=5)

    async def assert_nothing_pending(self):
        await self.broadcaster.send("marker", {})
        assert (await self.next())["kind"] == "marker"


@pytest.fixture
async def setup():
    broadcaster = OverlayBroadcaster("BTCEUR", layer=InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    listener = ZoneCycleListener(load_config({}), broadcaster)
    return listener, inbox


@sync_to_async
def current_rows():
    return {row.id: row.status for row in ZoneCurrent.objects.all()}


@sync_to_async
def history_statuses(zone_id):
    return list(
        ZoneHistory.objects.filter(zone_id=zone_id).order_by("ts_ms").values_list("status", flat=True)
    )


async def test_a_live_cycle_stores_and_pushes_the_new_zone(setup):
    listener, inbox = setup
    await listener.on_cycle(live(0, make_book()))
    message = await inbox.next()
    assert message["kind"] == "zones"
    data = message["data"]
    assert [z["id"] for z in data["added"]] == [ID_A]
    assert (data["changed"], data["removed"]) == ([], [])
    assert data["state"] == {"computing": True, "reason": "live", "window_narrower_than_range": False}
    row = await sync_to_async(ZoneCurrent.objects.get)(id=ID_A)
    assert data["added"][0] == zone_overlay(row)  # the push shows exactly what REST will show
    assert (row.status, row.price_low, row.notional, row.book_update_id) == (
        "candidate",
        D("86000"),
        D("860000"),
        100,
    )


async def test_only_changes_are_pushed_and_a_vanished_zone_is_removed_by_id(setup):
    listener, inbox = setup
    book = make_book(walls=(WALL_A, WALL_B))
    await listener.on_cycle(live(0, book))
    assert {z["id"] for z in (await inbox.next())["data"]["added"]} == {ID_A, ID_B}

    set_level(book, WALL_B, "1")  # the ask wall goes; in grace for one cycle
    await listener.on_cycle(live(1, book))  # A unchanged, B in grace: nothing to push
    await inbox.assert_nothing_pending()

    await listener.on_cycle(live(2, book))  # B gone after 1 s of life: discarded
    data = (await inbox.next())["data"]
    assert (data["added"], data["changed"], data["removed"]) == ([], [], [ID_B])
    assert await current_rows() == {ID_A: "candidate"}
    assert (await history_statuses(ID_B))[-1] == "discarded"
    row = await sync_to_async(ZoneCurrent.objects.get)(id=ID_A)  # stored with its age moving on
    assert (row.last_seen_ts_ms, row.persistence_s, row.first_seen_ts_ms) == (2_000, 2.0, 0)


async def test_no_zone_changes_while_the_book_is_not_live_and_the_state_says_why(setup):
    listener, inbox = setup
    book = make_book()
    for second in range(0, 21):
        await listener.on_cycle(live(second, book))
    while (await inbox.next())["seq"] < inbox.broadcaster.last_seq:  # drain
        pass
    stored_before = await current_rows()

    await listener.on_cycle(down(21, "resyncing"))
    data = (await inbox.next())["data"]
    assert data == {
        "added": [],
        "changed": [],
        "removed": [],
        "state": {"computing": False, "reason": "book is resyncing", "window_narrower_than_range": False},
    }
    assert listener.state.computing is False
    for second in range(22, 40):  # a long outage: same state, nothing pushed, nothing stored
        await listener.on_cycle(down(second, "resyncing"))
    await inbox.assert_nothing_pending()
    assert await current_rows() == stored_before

    await listener.on_cycle(live(40, book))  # back: the zone continues, nothing was removed
    data = (await inbox.next())["data"]
    assert [(z["id"], z["first_seen_ts_ms"], z["persistence_s"]) for z in data["changed"]] == [
        (ID_A, 0, 40.0)
    ]
    assert (data["added"], data["removed"], data["state"]["computing"]) == ([], [], True)


async def test_a_pulled_wall_lingers_in_the_current_table_then_leaves(setup):
    listener, inbox = setup
    book = make_book()
    for second in range(0, 21):
        await listener.on_cycle(live(second, book))
    set_level(book, WALL_A, "1")  # withdrawn, nobody traded there
    await listener.on_cycle(live(21, book))
    await listener.on_cycle(live(22, book))
    assert await current_rows() == {ID_A: "pulled"}
    row = await sync_to_async(ZoneCurrent.objects.get)(id=ID_A)
    assert (row.last_seen_ts_ms, row.ts_ms, row.persistence_s) == (20_000, 22_000, 20.0)
    for second in range(23, 82):
        await listener.on_cycle(live(second, book))
    assert await current_rows() == {ID_A: "pulled"}  # still visible at 81 s
    while (await inbox.next())["seq"] < inbox.broadcaster.last_seq:  # drain
        pass
    await listener.on_cycle(live(82, book))  # 60 s after it ended
    assert await current_rows() == {}
    assert (await inbox.next())["data"]["removed"] == [ID_A]
    assert (await history_statuses(ID_A))[-1] == "pulled"


async def test_a_wall_traded_through_is_broken(setup):
    listener, _ = setup
    book = make_book()
    for second in range(0, 21):
        await listener.on_cycle(live(second, book))
    set_level(book, WALL_A, "0")
    prints = [
        Trade(trade_id=i, price=D(p), qty=D("2"), ts_ms=20_500, buyer_is_maker=True)
        for i, p in enumerate(("86040", "86010"))
    ]
    await listener.on_cycle(live(21, book, prints))
    await listener.on_cycle(live(22, book))
    assert await current_rows() == {ID_A: "broken"}


async def test_a_restarted_listener_continues_the_stored_zones(setup):
    listener, _ = setup
    book = make_book()
    for second in range(0, 15):
        await listener.on_cycle(live(second, book))
    broadcaster = OverlayBroadcaster("BTCEUR", layer=InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    restarted = ZoneCycleListener(load_config({}), broadcaster)
    await restarted.on_cycle(live(20, book))
    data = (await inbox.next())["data"]  # the same zone, same shape: nothing new for clients
    assert (data["added"], data["changed"], data["removed"], data["state"]["computing"]) == ([], [], [], True)
    row = await sync_to_async(ZoneCurrent.objects.get)(id=ID_A)
    assert (row.first_seen_ts_ms, row.last_seen_ts_ms, row.persistence_s) == (0, 20_000, 20.0)
    assert await current_rows() == {ID_A: "candidate"}


async def test_a_failed_write_is_repaired_by_the_next_cycle(setup, monkeypatch):
    listener, _ = setup
    book = make_book(walls=(WALL_A, WALL_B))
    await listener.on_cycle(live(0, book))
    real_write = store.write_cycle

    def failing_write(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(store, "write_cycle", failing_write)
    set_level(book, WALL_B, "1")
    await listener.on_cycle(live(1, book))
    await listener.on_cycle(live(2, book))  # ID_B discarded, but the delete never reached the DB
    assert listener.write_failures == 2
    assert set(await current_rows()) == {ID_A, ID_B}

    monkeypatch.setattr(store, "write_cycle", real_write)
    await listener.on_cycle(live(3, book))
    assert await current_rows() == {ID_A: "candidate"}


async def test_large_slices_are_detected_off_the_event_loop_with_the_same_zones(setup):
    listener, _ = setup
    offloading = ZoneCycleListener(load_config({}), None, offload_min_levels=1)
    book = make_book(walls=(WALL_A, WALL_B))
    await listener.on_cycle(live(0, book))
    await offloading.on_cycle(live(0, book))
    assert offloading.timings.detect_offloaded and not listener.timings.detect_offloaded
    assert offloading.last_detection == listener.last_detection
    assert len(offloading.last_detection.zones) == 2


async def test_a_trusted_window_narrower_than_the_range_is_reported(setup):
    listener, inbox = setup
    await listener.on_cycle(
        live(0, make_book(limit=LEVELS))
    )  # both sides came back full: window 85650..87350
    state = (await inbox.next())["data"]["state"]
    assert state["computing"] and state["window_narrower_than_range"]
    assert "narrower" in state["reason"]


async def test_a_one_sided_book_pauses_zones_with_the_reason(setup):
    listener, inbox = setup
    book = make_book()
    book.load_snapshot(5, [(D("86000"), D("1"))], [])
    await listener.on_cycle(live(0, book))
    state = (await inbox.next())["data"]["state"]
    assert not state["computing"] and "no asks" in state["reason"]


async def test_history_older_than_the_retention_is_pruned_by_the_cycle(setup):
    listener, _ = setup
    old = ZoneRecord(
        id="old",
        ts_ms=1_000,
        symbol="BTCEUR",
        side="bid",
        price_low=D(1),
        price_high=D(2),
        notional=D(1),
        strength=5.0,
        persistence_s=0.0,
        status="pulled",
        first_seen_ts_ms=0,
        last_seen_ts_ms=1_000,
        book_update_id=1,
    )
    await sync_to_async(store.write_cycle)("BTCEUR", [], [], [old])
    day_later_s = 1 + 24 * 3600 + 5
    await listener.on_cycle(live(day_later_s, make_book()))
    assert not await sync_to_async(ZoneHistory.objects.filter(zone_id="old").exists)()
    assert await sync_to_async(ZoneHistory.objects.filter(zone_id=ID_A).exists)()


async def test_a_failing_cycle_is_counted_pushed_and_in_health_then_recovers(setup):
    """Whatever the book holds: a level of 1e25 (the wire refuses it now; a book built around the
    wire still could) makes the stored notional overflow. Each such cycle is counted, its error kept
    for /api/health, the state pushed as not computing, and the error raised on to the publication
    loop (which counts listener errors); the first good cycle computes again and rewrites the set."""
    listener, inbox = setup
    book = make_book()
    await listener.on_cycle(live(0, book))
    assert [z["id"] for z in (await inbox.next())["data"]["added"]] == [ID_A]

    set_level(book, "86100", "10000000000000000000000000")
    for second in (1, 2):
        with pytest.raises(ArithmeticError):
            await listener.on_cycle(live(second, book))
    health = listener.health()
    assert (health["computing"], health["reason"]) == (False, "zone computation failed: InvalidOperation")
    assert health["failures"] == 2 and health["last_error"]["ts_ms"] == 2_000
    assert health["last_error"]["text"].startswith("InvalidOperation")
    data = (await inbox.next())["data"]  # pushed once: the state did not change on the second failure
    assert data["state"]["reason"] == "zone computation failed: InvalidOperation"
    await inbox.assert_nothing_pending()

    set_level(book, "86100", "1")
    await listener.on_cycle(live(3, book))
    assert listener.health()["reason"] == "live" and listener.health()["failures"] == 2
    assert (await inbox.next())["data"]["state"]["computing"] is True
    assert set(await current_rows()) == {z.id for z in listener.tracker.current()}
