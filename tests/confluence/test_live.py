"""The confluence listener end to end: a real OrderBook, a real database (order blocks, heatmap columns,
the stored document), the in-memory channel layer, the API and the overlay state."""

import asyncio
import json
from decimal import Decimal as D

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.test import Client

from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.book.services.cycle import PublishCycle
from apps.confluence.models import ConfluenceState
from apps.confluence.services.live import ConfluenceListener
from apps.heatmap.domain.columns import FinishedColumn, SideColumn
from apps.heatmap.domain.packing import stored_row
from apps.heatmap.services.store import write_columns
from apps.orderblocks.models import OrderBlock
from apps.overlays.broadcast import OverlayBroadcaster
from apps.zones.services.live import ZoneCycleListener
from project.config import load_config

pytestmark = pytest.mark.django_db(transaction=True)

LEVELS = 17  # per side: one level of 1 BTC every 50 EUR from the touch (mid 86500)
BLOCK_ID = "BTCEUR:bullish:1700000000000"
FAR_ID = "BTCEUR:bullish:1700003600000"
BEAR_ID = "BTCEUR:bearish:1700007200000"
T0 = 1_796_162_400  # UTC seconds, a column start


def make_book():
    book = OrderBook()
    bids = [(D("86450") - 50 * i, D("1")) for i in range(LEVELS)]
    asks = [(D("86550") + 50 * i, D("1")) for i in range(LEVELS)]
    book.load_snapshot(100, bids, asks)
    return book


def set_level(book, price, qty, side="bid"):
    level = [(D(price), D(qty))]
    book.apply(book.update_id + 1, *((level, []) if side == "bid" else ([], level)))


def live(second, book):
    return PublishCycle(
        now_ms=(T0 + second) * 1000,
        symbol="BTCEUR",
        status="live",
        book=BookSnapshotView.capture(book),
        update_id=book.update_id,
    )


def down(second, status="resyncing"):
    return PublishCycle(
        now_ms=(T0 + second) * 1000, symbol="BTCEUR", status=status, book=None, update_id=None
    )


@sync_to_async
def add_block(direction, created_ms, low, high, status="fresh"):
    OrderBlock.objects.create(
        symbol="BTCEUR",
        direction=direction,
        created_ts_ms=created_ms,
        valid_from_ts_ms=created_ms + 3 * 3_600_000,
        valid_to_ts_ms=None if status != "invalid" else created_ms + 9 * 3_600_000,
        price_low=D(low),
        price_high=D(high),
        atr14=D("300"),
        bos_level=D(high) + 500,
        bos_ts_ms=created_ms + 2 * 3_600_000,
        touched_ts_ms=None,
        status=status,
    )


class Inbox:
    def __init__(self, broadcaster):
        self.broadcaster = broadcaster
        self.layer = broadcaster.layer

    async def join(self):
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.broadcaster.group, self.channel)
        return self

    async def next(self, kind="confluence"):
        while True:
            message = await asyncio.wait_for(self.layer.receive(self.channel), timeout=5)
            if message["kind"] == kind:
                return message

    async def assert_nothing_pending(self):
        await self.broadcaster.send("marker", {})
        assert (await asyncio.wait_for(self.layer.receive(self.channel), 5))["kind"] == "marker"


@pytest.fixture
async def setup():
    await add_block("bullish", 1_700_000_000_000, "86000", "86100")  # padded 85950..86150, in the band
    await add_block("bullish", 1_700_003_600_000, "84000", "84100")  # far below the 1 % band
    broadcaster = OverlayBroadcaster("BTCEUR", layer=InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    listener = ConfluenceListener(load_config({}), broadcaster)
    return listener, inbox


@sync_to_async
def stored_document():
    return json.loads(ConfluenceState.objects.get(symbol="BTCEUR").document)


@sync_to_async
def api(path, **params):
    response = Client().get(path, params)
    assert response.status_code == 200
    return response.json()


async def test_the_first_live_cycle_measures_the_block_and_pushes_it_and_the_api_shows_the_same(setup):
    listener, inbox = setup
    await listener.on_cycle(live(0, make_book()))
    data = (await inbox.next())["data"]
    assert data["state"] == {"computing": True, "reason": "live"}
    [entry] = data["changed"]  # the far block is unknown: nothing to say about it yet
    assert entry["id"] == BLOCK_ID and entry["backed"] is False
    # 85950..86150 holds 5 levels of 1; so does every other 200-wide window of the band: score 1
    assert entry["liquidity"] == {
        "side": "bid",
        "price_low": "85950",
        "price_high": "86150",
        "qty": "5",
        "notional": str(sum(86050 + 50 * i for i in range(-2, 3))),
        "score": 1.0,
        "zones": [],
        "avg_1h": None,
    }
    blocks = {b["id"]: b for b in (await api("/api/orderblocks"))["orderblocks"]}
    assert blocks[BLOCK_ID]["liquidity"] == entry["liquidity"] and blocks[BLOCK_ID]["backed"] is False
    assert (blocks[FAR_ID]["liquidity"], blocks[FAR_ID]["backed"]) == (None, False)  # unknown, not 0
    state = await api("/api/overlays")
    assert state["confluence"] == {"computing": True, "reason": "live"}
    assert {b["id"]: b["liquidity"] for b in state["orderblocks"]}[BLOCK_ID] == entry["liquidity"]


async def test_a_wall_inside_the_block_backs_it_at_the_next_cycle_and_small_moves_stay_quiet(setup):
    listener, inbox = setup
    book = make_book()
    await listener.on_cycle(live(0, book))
    await inbox.next()
    set_level(book, "86000", "1.02")  # 5 -> 5.02: less than a rounding step (1 BTC at 5)
    await listener.on_cycle(live(1, book))
    await inbox.assert_nothing_pending()

    set_level(book, "86050", "21")  # a 20 BTC wall inside the block
    await listener.on_cycle(live(2, book))
    [entry] = (await inbox.next())["data"]["changed"]
    assert entry["backed"] is True
    assert entry["liquidity"]["qty"] == "25.02"
    # the windows holding the wall are 5 of the band's 13: the median window still holds ~5
    assert entry["liquidity"]["score"] == pytest.approx(25.02 / 5, abs=1e-4)
    assert (await stored_document())["blocks"][BLOCK_ID] == {
        "liquidity": entry["liquidity"],
        "backed": True,
    }

    set_level(book, "86050", "1")  # pulled
    await listener.on_cycle(live(3, book))
    [entry] = (await inbox.next())["data"]["changed"]
    assert entry["backed"] is False and entry["liquidity"]["qty"] == "5.02"


async def test_while_the_book_is_not_live_every_block_is_unknown_once_then_quiet(setup):
    listener, inbox = setup
    book = make_book()
    await listener.on_cycle(live(0, book))
    await inbox.next()
    await listener.on_cycle(down(1))
    data = (await inbox.next())["data"]
    assert data == {
        "changed": [{"id": BLOCK_ID, "liquidity": None, "backed": False}],
        "state": {"computing": False, "reason": "book is resyncing"},
    }
    for second in range(2, 6):
        await listener.on_cycle(down(second))
    await inbox.assert_nothing_pending()
    assert await stored_document() == {"state": data["state"], "blocks": {}}
    blocks = {b["id"]: b for b in (await api("/api/orderblocks"))["orderblocks"]}
    assert blocks[BLOCK_ID]["liquidity"] is None

    book.load_snapshot(200, [(D("86450") - 50 * i, D("1")) for i in range(LEVELS)], [(D("86550"), D("1"))])
    await listener.on_cycle(live(6, book))  # a new snapshot: the band is read again
    [entry] = (await inbox.next())["data"]["changed"]
    assert entry["liquidity"]["qty"] == "5" and listener.timings.reread


async def test_invalid_and_new_blocks_follow_the_order_block_runs(setup):
    runs = [0]
    listener, inbox = setup
    listener.blocks.version = lambda: runs[0]
    book = make_book()
    await listener.on_cycle(live(0, book))
    await inbox.next()
    await sync_to_async(OrderBlock.objects.filter(created_ts_ms=1_700_000_000_000).update)(
        status="invalid", valid_to_ts_ms=1_700_100_000_000
    )
    await add_block("bearish", 1_700_007_200_000, "86800", "86900")
    runs[0] += 1  # the hourly run wrote them
    await listener.on_cycle(live(1, book))
    data = (await inbox.next())["data"]
    assert {e["id"]: e["backed"] for e in data["changed"]} == {BEAR_ID: False, BLOCK_ID: False}
    entries = {e["id"]: e["liquidity"] for e in data["changed"]}
    assert entries[BLOCK_ID] is None
    assert entries[BEAR_ID]["side"] == "ask" and entries[BEAR_ID]["qty"] == "5"  # asks 86750..86950


async def test_zones_and_the_heatmap_hour_fill_in_zones_backed_and_avg_1h():
    await add_block("bullish", 1_700_000_000_000, "86000", "86100")  # padded 85950..86150
    # two columns of the last hour saw bins 1700..1729 (85000..86499) at 2 and 4 BTC each
    rows = [column(T0 - 120, 60, 1700, [2.0] * 30), column(T0 - 60, 20, 1700, [4.0] * 30)]
    await sync_to_async(write_columns)("BTCEUR", D("50"), 60, rows)
    broadcaster = OverlayBroadcaster("BTCEUR", layer=InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    config = load_config({"ZONE_CONFIRM_S": "3", "ZONE_CONFIRM_CYCLES": "2"})
    zones = ZoneCycleListener(config, broadcaster)
    listener = ConfluenceListener(config, broadcaster, zones=zones.live_zones)
    book = make_book()
    set_level(book, "86050", "7")  # a wall bin (7x its neighbours) but not a 4x window: 11 / 5
    for second in range(5):
        await zones.on_cycle(live(second, book))
        await listener.on_cycle(live(second, book))
    first = (await inbox.next())["data"]["changed"][0]
    assert first["liquidity"]["zones"] == ["BTCEUR:bid:86050-86100"] and first["backed"] is False
    assert first["liquidity"]["score"] == pytest.approx(11 / 5, abs=1e-4)
    # per column, the sum of the 5 bins' means (1719..1723); weighted by live cycles
    assert first["liquidity"]["avg_1h"] == pytest.approx((60 * 10 + 20 * 20) / 80)
    confirmed = (await inbox.next())["data"]["changed"][0]  # the zone confirmed after 3 s
    assert confirmed["backed"] is True and confirmed["liquidity"]["zones"] == first["liquidity"]["zones"]


def column(t, cycles, first, means):
    values = np.array(means, dtype=np.float32)
    side = SideColumn(first, values, values)
    return stored_row(FinishedColumn(t, cycles, side, SideColumn(first + 40, values, values)))


def test_the_service_runs_confluence_last_on_the_zone_listeners_zones_and_reports_its_health():
    from apps.live.runtime import build_streamer

    streamer = build_streamer(load_config({}))
    confluence = streamer.listeners[-1]
    assert isinstance(confluence, ConfluenceListener)
    zones = next(x for x in streamer.listeners if isinstance(x, ZoneCycleListener))
    assert confluence.zones == zones.live_zones
    assert confluence.blocks.version is not None and confluence.blocks.version() == 0
    assert streamer.health_sections["confluence"]() == confluence.health()
    assert confluence.health()["reason"] == "no publication cycle yet"
