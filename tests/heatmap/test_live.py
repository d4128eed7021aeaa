"""The heatmap listener end to end: a real OrderBook, a real database, the in-memory channel layer."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal as D

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer

from apps.book.domain.order_book import OrderBook
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.book.services.cycle import PublishCycle
from apps.heatmap.models import HeatmapColumn
from apps.heatmap.selectors import latest_depth
from apps.heatmap.services import store
from apps.heatmap.services.live import HeatmapListener
from apps.overlays.broadcast import OverlayBroadcaster
from project.config import load_config

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_796_162_400  # a column boundary (UTC seconds)


def make_book() -> OrderBook:
    """One level of qty 1 every 25 from the touch (mid 86500) over 3 %; the snapshot was full."""
    book = OrderBook()
    bids = [(D("86490") - 25 * i, D(1)) for i in range(100)]
    asks = [(D("86510") + 25 * i, D(1)) for i in range(100)]
    book.load_snapshot(100, bids, asks)
    return book


def live(second: float, book: OrderBook) -> PublishCycle:
    return PublishCycle(
        now_ms=int(second * 1000),
        symbol="BTCEUR",
        status="live",
        book=BookSnapshotView.capture(book),
        update_id=book.update_id,
    )


def down(second: float) -> PublishCycle:
    return PublishCycle(
        now_ms=int(second * 1000), symbol="BTCEUR", status="resyncing", book=None, update_id=None
    )


class Inbox:
    def __init__(self, broadcaster: OverlayBroadcaster) -> None:
        self.broadcaster = broadcaster
        self.layer = broadcaster.layer

    async def join(self) -> Inbox:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.broadcaster.group, self.channel)
        return self

    async def drain(self) -> list[dict]:
        messages = []
        await self.broadcaster.send("marker", {})
        while (message := await asyncio.wait_for(self.layer.receive(self.channel), 5))["kind"] != "marker":
            messages.append(message)
        return messages


def listener(broadcaster: OverlayBroadcaster | None, **env: str) -> HeatmapListener:
    config = load_config({"HEATMAP_COLUMN_S": "10", **env})
    return HeatmapListener(config, broadcaster)


async def test_a_wall_held_for_a_column_is_its_bin_mean_and_the_column_is_stored_and_pushed():
    broadcaster = OverlayBroadcaster("BTCEUR", InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    book = make_book()
    heatmap = listener(broadcaster)
    await heatmap.on_cycle(live(T0, book))
    assert heatmap.timings.rebuilt
    book.apply(101, [(D("86000"), D(11))], [])  # a wall: bin 1720 now holds 1 + 1 + 11 ... for 9 s
    for second in range(1, 10):
        await heatmap.on_cycle(live(T0 + second, book))
        assert not heatmap.timings.rebuilt and heatmap.timings.writes == (1 if second == 1 else 0)
    await heatmap.on_cycle(live(T0 + 10, book))  # the next column: the first one is finished
    rows = await sync_to_async(list)(HeatmapColumn.objects.all())
    assert [(r.t, r.live_cycles, r.bin_size, r.column_s) for r in rows] == [(T0, 10, D(50), 10)]

    messages = await inbox.drain()
    kinds = [m["kind"] for m in messages]
    assert kinds == ["depth"] * 11 + ["heatmap"]  # the cycle's depth profile, then the finished column
    pushed = messages[11]["data"]
    assert pushed["symbol"] == "BTCEUR" and pushed["bin_size"] == "50" and pushed["resolution_s"] == 10
    [column] = pushed["columns"]
    assert column["t"] == T0 and column["live_cycles"] == 10
    bins = {D(column["bid_from"]) + 50 * i: q for i, q in enumerate(column["bid_qty"])}
    assert bins[D(86000)] == pytest.approx((2 * 1 + 9 * 13) / 10)  # 1 s without the wall, 9 s with
    assert column["bid_max"][list(bins).index(D(86000))] == 13
    # mid 86500: +-2 % = 84770 .. 88230; all bins hold two levels of qty 1, except the touch bins
    assert column["bid_from"] == "84750" and column["ask_from"] == "86500"
    assert column["ask_qty"][-1] == 2 and len(column["ask_qty"]) == 35

    depth = messages[10]["data"]
    assert depth["live"] is True and depth["ts_ms"] == (T0 + 10) * 1000 and depth["bin_size"] == "50"
    assert await sync_to_async(latest_depth)("BTCEUR") == json.loads(json.dumps(depth))


async def test_after_a_resync_the_whole_book_is_binned_again_and_outages_do_not_count():
    broadcaster = OverlayBroadcaster("BTCEUR", InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    book = make_book()
    heatmap = listener(broadcaster)
    await heatmap.on_cycle(live(T0, book))
    for second in range(1, 5):
        await heatmap.on_cycle(down(T0 + second))
    bids = [(D("86490") - 25 * i, D(3)) for i in range(100)]
    book.load_snapshot(500, bids, [(D("86510") + 25 * i, D(1)) for i in range(100)])
    await heatmap.on_cycle(live(T0 + 5, book))
    assert heatmap.timings.rebuilt
    await heatmap.on_cycle(down(T0 + 10))
    messages = await inbox.drain()
    depth = [m["data"] for m in messages if m["kind"] == "depth"]
    # live, then once greyed when the book stopped being live, live again, greyed again
    assert [d["live"] for d in depth] == [True, False, True, False]
    [heatmap_push] = [m["data"] for m in messages if m["kind"] == "heatmap"]
    [column] = heatmap_push["columns"]
    assert column["live_cycles"] == 2
    # two live cycles of one interval each (the outage is not counted): mean of 2 and 6
    assert column["bid_qty"][-2] == 4 and column["bid_max"][-2] == 6


async def test_a_failed_column_write_is_retried_with_the_next_column(monkeypatch):
    book = make_book()
    heatmap = listener(None)
    real_write = store.write_columns
    calls = []

    def failing_once(*args):
        calls.append(len(args[3]))
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        real_write(*args)

    monkeypatch.setattr(store, "write_columns", failing_once)
    for second in range(0, 31, 5):
        await heatmap.on_cycle(live(T0 + second, book))
    assert calls == [1, 2, 1] and heatmap.write_failures == 1
    ts = await sync_to_async(list)(HeatmapColumn.objects.order_by("t").values_list("t", flat=True))
    assert ts == [T0, T0 + 10, T0 + 20]


async def test_columns_older_than_the_retention_are_pruned_in_batches():
    book = make_book()
    heatmap = listener(None, HEATMAP_RETENTION_H="1")
    heatmap.prune_batch_size, heatmap.prune_max_batches = 3, 2
    old = (T0 - 7200, 10, 1, 1, 1, 1, b"\0" * 16)
    rows = [(old[0] + 10 * i, *old[1:]) for i in range(10)]
    await sync_to_async(store.write_columns)("BTCEUR", D(50), 10, rows)
    await heatmap.on_cycle(live(T0, book))  # 6 deleted, more remain: carry on next cycle
    assert await sync_to_async(HeatmapColumn.objects.count)() == 4
    await heatmap.on_cycle(live(T0 + 1, book))
    assert await sync_to_async(HeatmapColumn.objects.count)() == 0


async def test_a_failed_binning_of_the_whole_book_is_tried_again_next_cycle(monkeypatch):
    from apps.heatmap.domain.binned_book import BinnedBook

    book = make_book()
    heatmap = listener(None)
    real = BinnedBook.from_levels
    calls = []

    def failing_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("no room")
        return real(*args)

    monkeypatch.setattr(BinnedBook, "from_levels", failing_once)
    await heatmap.on_cycle(live(T0, book))
    assert heatmap.binned is None and heatmap.builder.open is None  # not counted
    await heatmap.on_cycle(live(T0 + 1, book))
    assert heatmap.timings.rebuilt and heatmap.builder.open is not None
    assert heatmap.builder.open.live_cycles == 1
