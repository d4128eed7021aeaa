"""The reaction listener as the streamer runs it: real publication cycles over a real OrderBook, a
real database, the in-memory channel layer. Steps are shortened through the constructor (1, 2, 3 s
snapshots; 4, 5, 6 s outcomes); the defaults are the spec's."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.db import OperationalError

from apps.book.domain.events import Kline
from apps.book.domain.snapshot_view import BookSnapshotView
from apps.book.services.cycle import PublishCycle
from apps.orderblocks.models import OrderBlock
from apps.overlays.broadcast import OverlayBroadcaster
from apps.reactions.domain.reaction import OUTCOME_HORIZONS_MS, SNAPSHOT_OFFSETS_MS
from apps.reactions.models import OrderBlockReaction
from apps.reactions.presentation import reaction_overlay
from apps.reactions.services import store
from apps.reactions.services.live import ReactionListener
from project.config import load_config
from tests.reactions.scene import bid_zone, book, set_level, trade

pytestmark = pytest.mark.django_db(transaction=True)
T0 = 1_790_000_000_000
CREATED = T0 - 10 * 3_600_000
BLOCK_ID = f"BTCEUR:bullish:{CREATED}"
SHORT = {
    "snapshot_offsets_ms": (1_000, 2_000, 3_000),
    "outcome_horizons_ms": (4_000, 5_000, 6_000),
    "outcome_settle_ms": 0,
}


STEPPED = {
    **SHORT,
    "snapshot_offsets_ms": (1_000, 20_000, 30_000),
    "outcome_horizons_ms": (40_000, 50_000, 60_000),
}


def fresh_block() -> None:
    OrderBlock.objects.create(
        symbol="BTCEUR",
        direction="bullish",
        created_ts_ms=CREATED,
        valid_from_ts_ms=CREATED + 3 * 3_600_000,
        price_low=D("86000"),
        price_high=D("86100"),
        atr14=D("150"),
        bos_level=D("86400"),
        bos_ts_ms=CREATED + 2 * 3_600_000,
        status="fresh",
    )


class Market:
    def __init__(self) -> None:
        self.book = book({"86020": "30"})
        self.status = "live"

    def cycle(self, now_ms: int, *prices: tuple[int, str]) -> PublishCycle:
        live = self.status == "live"
        return PublishCycle(
            now_ms=now_ms,
            symbol="BTCEUR",
            status=self.status,
            book=BookSnapshotView.capture(self.book) if live else None,
            update_id=self.book.update_id if live else None,
            trades=tuple(trade(ts, price) for ts, price in prices),
        )


class Inbox:
    def __init__(self, broadcaster: OverlayBroadcaster) -> None:
        self.broadcaster = broadcaster
        self.channel = ""

    async def join(self) -> Inbox:
        self.channel = await self.broadcaster.layer.new_channel()
        await self.broadcaster.layer.group_add(self.broadcaster.group, self.channel)
        return self

    async def reactions(self) -> list[dict]:
        """Every `reaction` message pushed so far (a marker closes the batch)."""
        await self.broadcaster.send("marker", {})
        found = []
        while (message := await asyncio.wait_for(self.broadcaster.layer.receive(self.channel), 5))[
            "kind"
        ] != "marker":
            if message["kind"] == "reaction":
                found.append(message["data"])
        return found


async def start(**overrides) -> tuple[ReactionListener, Inbox, Market]:
    await sync_to_async(fresh_block)()
    broadcaster = OverlayBroadcaster("BTCEUR", InMemoryChannelLayer())
    inbox = await Inbox(broadcaster).join()
    zones = [bid_zone("86000", "86050")]
    listener = ReactionListener(load_config({}), broadcaster, zones=lambda: zones, **{**SHORT, **overrides})
    market = Market()
    await listener.on_cycle(market.cycle(T0 - 2_000))  # reads back, learns the fresh blocks
    return listener, inbox, market


async def stored() -> dict:
    row = await sync_to_async(OrderBlockReaction.objects.get)(block_id=BLOCK_ID)
    return reaction_overlay(store.reaction_of(row))


@pytest.mark.django_db
def test_the_default_steps_are_the_specs():
    assert SNAPSHOT_OFFSETS_MS == (60_000, 300_000, 900_000)
    assert OUTCOME_HORIZONS_MS == (3_600_000, 14_400_000, 86_400_000)
    params = ReactionListener(load_config({}), None).tracker.params
    assert (
        params.snapshot_offsets_ms == SNAPSHOT_OFFSETS_MS
        and params.outcome_horizons_ms == OUTCOME_HORIZONS_MS
    )
    assert params.pad_bins == 1 and params.zone.bin_size == 50


@pytest.mark.asyncio
async def test_a_touch_is_recorded_stored_and_pushed_then_its_snapshots_and_outcomes():
    listener, inbox, market = await start()
    await listener.on_cycle(market.cycle(T0 - 1_000, (T0 - 1_500, "86300")))
    await listener.on_cycle(market.cycle(T0 + 200, (T0, "86090"), (T0 + 100, "86110")))
    [pushed] = await inbox.reactions()
    assert pushed == await stored()
    assert pushed["touch_ts_ms"] == T0 and pushed["liquidity"][0]["qty"] == "50"
    assert pushed["backed"] is True and pushed["backing"]["zone_ids"] == ["BTCEUR:bid:86000-86050"]
    for now in range(T0 + 1_000, T0 + 7_001, 500):
        if now == T0 + 1_500:
            set_level(market.book, "86020", "0")  # pulled between the 1 s and the 2 s snapshots
        await listener.on_cycle(market.cycle(now, *([(now - 1, "86260")] if now == T0 + 3_500 else [])))
    final = await stored()
    assert [s["qty"] for s in final["liquidity"]] == ["50", "50", "20", "20"]
    assert final["outcomes"] == {"4s": "held", "5s": "held", "6s": "held"} and final["state"] == "done"
    pushes = await inbox.reactions()
    assert pushes[-1] == final
    assert len(pushes) == 7  # 3 snapshots, the move away, 3 outcomes (the last one with "done")
    health = listener.health()
    assert health["recorded"] == 1 and health["pending"] == 0 and health["failures"] == 0


@pytest.mark.asyncio
async def test_a_closed_candle_beyond_the_zone_invalidates_it():
    listener, _, market = await start()
    await listener.on_cycle(market.cycle(T0 + 200, (T0, "86090")))
    kline = Kline(
        "BTCEUR", "1h", T0 + 1_000 - 3_600_000, D("86100"), D("86150"), D("85900"), D("85950"), D(1), True
    )
    await listener.on_kline(kline)  # closes at T0 + 1 s below the zone
    for now in range(T0 + 1_000, T0 + 7_001, 1_000):
        await listener.on_cycle(market.cycle(now))
    assert (await stored())["outcomes"] == {"4s": "invalidated", "5s": "invalidated", "6s": "invalidated"}


@pytest.mark.asyncio
async def test_a_restarted_listener_resumes_a_pending_reaction_or_closes_it_as_unknown():
    listener, _, market = await start(**STEPPED)
    await listener.on_cycle(market.cycle(T0 + 200, (T0, "86090")))
    await listener.on_cycle(market.cycle(T0 + 1_200))  # the first snapshot; watched until here
    # a new process, 5 s later: the next step (20 s) is still ahead
    again = ReactionListener(load_config({}), None, **STEPPED)
    await again.on_cycle(market.cycle(T0 + 6_000))
    resumed = await stored()
    assert resumed["state"] == "pending" and "resumed at" in resumed["notes"][-1]
    assert again.tracker.pending and not again.tracker.blocks  # watched again, not touched again
    # and another, after the 20 s snapshot fell due while nothing ran
    third = ReactionListener(load_config({}), None, **STEPPED)
    await third.on_cycle(market.cycle(T0 + 25_000))
    closed = await stored()
    assert closed["state"] == "unknown" and "not running at the 20s snapshot" in closed["reason"]
    assert closed["liquidity"][1]["qty"] == "50" and closed["liquidity"][2]["qty"] is None
    assert closed["outcomes"] == {"40s": "unknown", "50s": "unknown", "1m": "unknown"}


@pytest.mark.asyncio
async def test_a_failed_write_is_retried_and_the_change_pushed_once_it_is_stored(monkeypatch):
    listener, inbox, market = await start()
    real = store.save_reactions
    failures = iter([True])

    def flaky(*args, **kwargs):
        if next(failures, False):
            raise OperationalError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "save_reactions", flaky)
    await listener.on_cycle(market.cycle(T0 + 200, (T0, "86090")))
    assert await inbox.reactions() == [] and listener.health()["write_failures"] == 1
    await listener.on_cycle(market.cycle(T0 + 700))
    [pushed] = await inbox.reactions()
    assert pushed == await stored() and listener.health()["recorded"] == 1


@pytest.mark.asyncio
async def test_a_touch_while_the_book_is_not_live_has_unknown_liquidity_then_snapshots_wait():
    listener, _, market = await start()
    market.status = "resyncing"
    await listener.on_cycle(market.cycle(T0 + 200, (T0, "86090")))
    touch = (await stored())["liquidity"][0]
    assert touch["qty"] is None and "no live book at the touch (book resyncing)" in touch["note"]
    market.status = "live"
    await listener.on_cycle(market.cycle(T0 + 1_500))
    assert (await stored())["liquidity"][1]["qty"] == "50"


@pytest.mark.asyncio
async def test_a_block_with_a_stored_reaction_is_never_recorded_again_even_if_the_restore_failed_once(
    monkeypatch,
):
    listener, _, market = await start()
    await listener.on_cycle(market.cycle(T0 + 200, (T0, "86090")))
    first = await stored()
    real = store.load_restored
    calls = iter([True])

    def flaky(symbol):
        if next(calls, False):
            raise OperationalError("database is locked")
        return real(symbol)

    monkeypatch.setattr(store, "load_restored", flaky)
    again = ReactionListener(load_config({}), None, **SHORT)
    await again.on_cycle(market.cycle(T0 + 60_000))  # the read back fails: watches nothing yet
    assert again.health()["watched_blocks"] == 0
    await again.on_cycle(market.cycle(T0 + 61_000, (T0 + 60_500, "86300")))  # read back, then the blocks
    await again.on_cycle(market.cycle(T0 + 62_000, (T0 + 61_500, "86050")))  # in the zone again
    assert again.health()["recorded"] == 0 and again.health()["watched_blocks"] == 0
    assert (await stored())["touch_ts_ms"] == first["touch_ts_ms"] == T0
