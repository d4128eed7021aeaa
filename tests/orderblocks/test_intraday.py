"""The 5m and 15m timeframes end to end: the real streamer and its REST client against the simulator over
loopback sockets (catch-up backfill within the retention, live klines into btc_eur_5m/btc_eur_15m,
a gap after a reconnect backfilled), the held open-candle pushes, and retention pruning in batches."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from apps.book.services.cycle import PublishCycle
from apps.book.services.rest_client import BinanceRestClient
from apps.book.services.streamer import OrderBookStreamer, StreamerSettings
from apps.orderblocks.domain.candles import Bar, parse_rest_kline
from apps.orderblocks.domain.timeframes import DAY_MS
from apps.orderblocks.models import Candle, Candle5m, Candle15m
from apps.orderblocks.services.candles import load_bars, prune_candles, store_bars
from apps.orderblocks.services.intraday import IntradayCandleListener, retention_cutoff_ms
from apps.orderblocks.services.live import OrderBlockListener
from apps.overlays.broadcast import OverlayBroadcaster
from apps.simulator.wire import kline_row
from tests.orderblocks.conftest import kline_event

pytestmark = pytest.mark.django_db(transaction=True)
STEP = {"5m": 300_000, "15m": 900_000}


def sim_closed(sim, tf: str, from_ms: int = 0) -> list[Bar]:
    """The simulator's closed candles of `tf` from `from_ms` on, as the REST wire gives them."""
    return [
        parse_rest_kline(kline_row(c), STEP[tf])[0]
        for c in sim.intraday[tf].query(from_ms, None, 10**9)
        if c.closed
    ]


class Pushes:
    """The channel-layer group the broadcaster sends to, read by one member."""

    def __init__(self) -> None:
        self.layer = InMemoryChannelLayer(capacity=100_000)
        self.broadcaster = OverlayBroadcaster(settings.CONFIG.symbol, layer=self.layer)
        self.channel = ""

    async def join(self) -> Pushes:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.broadcaster.group, self.channel)
        return self

    async def candle(self, predicate, timeout: float = 15.0) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.layer.receive(self.channel)
                if message["kind"] == "candle" and predicate(message["data"]):
                    return message["data"]

    def drain(self) -> list[dict]:
        queue = self.layer.channels.get(self.channel)
        out = []
        while queue is not None and not queue.empty():
            out.append(queue.get_nowait()[1])
        return out


def stream_settings(sim) -> StreamerSettings:
    return StreamerSettings(
        ws_url=sim.ws_url,
        rest_url=sim.rest_url,
        symbol="BTCEUR",
        publish_interval_ms=50,
        watchdog_s=1.5,
        backoff_base_s=0.05,
        backoff_cap_s=0.4,
        rest_timeout_s=2.0,
    )


async def run_streamer(sim, pushes: Pushes):
    """The real streamer with the intraday listener, sharing one REST client and weight budget."""
    stream = stream_settings(sim)
    rest = BinanceRestClient.with_budget_from(sim.rest_url, stream)
    listener = IntradayCandleListener(settings.CONFIG, pushes.broadcaster, rest_client=rest)
    streamer = OrderBookStreamer(stream, listeners=[listener], rest=rest)
    cycles = asyncio.Queue()
    streamer.observers.append(lambda published: cycles.put_nowait(published))
    task = asyncio.create_task(streamer.run())
    await cycles.get()
    await cycles.get()  # the first cycle's listeners have run: the catch-ups have started
    return streamer, listener, task


async def stop(streamer, listener, task) -> None:
    streamer.stop()
    await asyncio.wait_for(task, 10)
    await listener.aclose()


async def test_streamer_backfills_the_retention_window_and_stores_live_5m_and_15m_closes(sim):
    pushes = await Pushes().join()
    streamer, listener, task = await run_streamer(sim, pushes)
    try:
        await listener.wait_idle(timeout=60)
        five, fifteen = listener.backfills["5m"], listener.backfills["15m"]
        cutoff = five.ranges[0][0]  # now - CANDLE_RETENTION_D_INTRADAY (30 days) when it ran
        assert cutoff == pytest.approx(sim.candles.live.open_ms - 30 * DAY_MS, abs=3_600_000)
        assert await sync_to_async(load_bars)(tf="5m") == sim_closed(sim, "5m", cutoff)
        assert await sync_to_async(load_bars)(tf="15m") == sim_closed(sim, "15m", fifteen.ranges[0][0])
        assert five.inserted >= 30 * 288 - 1 and five.gaps_left == [] and fifteen.gaps_left == []
        # pages of 1000 at weight 2: ~8,640 5m candles in 9 requests, ~2,880 15m in 3
        assert (five.requests, fifteen.requests) == (9, 3)
        assert await sync_to_async(Candle.objects.count)() == 0  # the 1h table is not theirs

        live_open = sim.intraday["5m"].live.open_ms
        sim.close_candle("5m")
        pushed = await pushes.candle(lambda d: d["tf"] == "5m" and d["closed"])
        assert pushed["time"] == live_open // 1000
        await listener.wait_idle()
        stored = await sync_to_async(load_bars)(from_ms=live_open, tf="5m")
        assert [b.open_time_ms for b in stored] == [live_open]
        assert stored[0] == sim_closed(sim, "5m", live_open)[0]

        live_open = sim.intraday["15m"].live.open_ms
        sim.close_candle("15m")
        pushed = await pushes.candle(lambda d: d["tf"] == "15m" and d["closed"])
        assert pushed["time"] == live_open // 1000
        assert await sync_to_async(Candle15m.objects.filter(open_time_ms=live_open).exists)()
        # the open candles are pushed with their tf too (the simulator sends them every 2 s)
        await pushes.candle(lambda d: d["tf"] == "5m" and not d["closed"])
        assert listener.gaps_seen == {} and listener.bad_klines == 0
    finally:
        await stop(streamer, listener, task)


async def test_candles_closed_while_disconnected_are_backfilled_at_the_next_close(sim):
    pushes = await Pushes().join()
    streamer, listener, task = await run_streamer(sim, pushes)
    try:
        await listener.wait_idle(timeout=60)
        opened = sim.connections_opened
        await sim.refuse_connections(3.0)
        await sim.disconnect()
        missed = [sim.close_candle("5m") for _ in range(3)]  # nobody hears these closes
        missed_open = [await armed for armed in missed]
        await sim.wait_for_connections_opened(opened + 1, timeout=20)
        live_open = sim.intraday["5m"].live.open_ms
        sim.close_candle("5m")
        await pushes.candle(lambda d: d["tf"] == "5m" and d["closed"] and d["time"] == live_open // 1000)
        await listener.wait_idle()
        assert listener.gaps_seen["5m"] == 1
        times = await sync_to_async(
            lambda: list(
                Candle5m.objects.filter(open_time_ms__gte=missed_open[0]).values_list(
                    "open_time_ms", flat=True
                )
            )
        )()
        assert times == [*missed_open, live_open]  # the three missed closes came over REST
    finally:
        await stop(streamer, listener, task)


def flat(open_time_ms: int, price: str = "100") -> Bar:
    p = Decimal(price)
    return Bar(open_time_ms, p, p, p, p, Decimal("1"))


async def test_open_updates_are_held_per_timeframe_and_other_klines_ignored():
    pushes = await Pushes().join()
    listener = IntradayCandleListener(settings.CONFIG, pushes.broadcaster)  # no REST client: no catch-up
    t = 1_800_000_000_000 - 1_800_000_000_000 % 900_000
    for price in ("100", "101", "102"):
        await listener.on_kline(kline_event(flat(t, price), closed=False, interval="5m"))
    await listener.on_kline(kline_event(flat(t, "200"), closed=False, interval="15m"))
    await listener.on_kline(kline_event(flat(t, "300"), closed=True, interval="1h"))  # not this listener's
    await listener.on_kline(kline_event(flat(t, "300"), closed=True, interval="5m", symbol="ETHEUR"))
    await listener.on_kline(kline_event(flat(t + 1, "300"), closed=True, interval="5m"))  # off the 5m grid
    assert pushes.drain() == []
    await listener.on_cycle(PublishCycle(now_ms=t, symbol="BTCEUR", status="live", book=None, update_id=None))
    sent = [(m["data"]["tf"], m["data"]["close"], m["data"]["closed"]) for m in pushes.drain()]
    assert sent == [("5m", 102.0, False), ("15m", 200.0, False)]
    assert listener.bad_klines == 1
    counts = await sync_to_async(lambda: (Candle.objects.count(), Candle5m.objects.count()))()
    assert counts == (0, 0)


async def test_the_order_block_listener_does_not_react_to_5m_or_15m_closes():
    pushes = await Pushes().join()
    listener = OrderBlockListener(replace(settings.CONFIG, ob_run_delay_s=0), pushes.broadcaster)
    t = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000
    for tf in ("5m", "15m"):
        await listener.on_kline(kline_event(flat(t), closed=True, interval=tf))
    await listener.wait_idle()
    assert listener.runs == 0 and pushes.drain() == []


async def test_retention_prunes_old_candles_in_batches():
    now = 1_800_000_000_000
    cutoff = retention_cutoff_ms(now, 30)
    old = [flat(cutoff - (i + 1) * 300_000) for i in range(7)]
    recent = [flat(cutoff + i * 300_000) for i in range(3)]
    await sync_to_async(store_bars)([*old, *recent], "5m")
    first = await sync_to_async(prune_candles)("5m", cutoff, batch_size=3, max_batches=2)
    assert (first.deleted, first.finished) == (6, False)  # two batches of 3, one old candle left
    second = await sync_to_async(prune_candles)("5m", cutoff, batch_size=3, max_batches=2)
    assert (second.deleted, second.finished) == (1, True)
    assert await sync_to_async(load_bars)(tf="5m") == recent

    # the listener prunes both intraday tables off the cycle, at most every PRUNE_EVERY_MS
    await sync_to_async(store_bars)(old, "5m")
    await sync_to_async(store_bars)([flat(cutoff - 900_000), flat(cutoff)], "15m")
    pushes = await Pushes().join()
    listener = IntradayCandleListener(settings.CONFIG, pushes.broadcaster)
    cycle = PublishCycle(now_ms=now, symbol="BTCEUR", status="live", book=None, update_id=None)
    await listener.on_cycle(cycle)
    await listener.wait_idle()
    assert listener.pruned == {"5m": 7, "15m": 1}
    assert [b.open_time_ms for b in await sync_to_async(load_bars)(tf="15m")] == [cutoff]
    await sync_to_async(store_bars)(old, "5m")
    await listener.on_cycle(replace(cycle, now_ms=now + 60_000))  # not due yet
    await listener.wait_idle()
    assert listener.pruned["5m"] == 7
    await listener.on_cycle(replace(cycle, now_ms=now + 600_000))
    await listener.wait_idle()
    # ten minutes later the window moved on by two 5m candles: the 7 old ones and 2 of the recent ones
    assert listener.pruned["5m"] == 7 + 9
    assert await sync_to_async(load_bars)(tf="5m") == recent[2:]
