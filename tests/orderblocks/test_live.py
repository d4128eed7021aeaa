"""OrderBlockListener with hand-built kline objects: closed candles stored and pushed, open-candle
updates pushed with the publication cycle, the incremental run after each close pushing new blocks, gaps backfilled from the
simulator."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from apps.book.domain.wire import WireError, parse_kline
from apps.book.services.rest_client import BinanceRestClient
from apps.orderblocks.domain.timeframes import bucket_start, timeframe_ms
from apps.orderblocks.models import Candle
from apps.orderblocks.services.candles import load_bars, store_bars
from apps.orderblocks.services.live import OrderBlockListener
from apps.overlays.broadcast import OverlayBroadcaster
from tests.orderblocks import scenarios as sc
from tests.orderblocks.conftest import k_object, kline_event, sim_bars

pytestmark = pytest.mark.django_db(transaction=True)


async def subscribe():
    layer = InMemoryChannelLayer()
    broadcaster = OverlayBroadcaster(settings.CONFIG.symbol, layer=layer)
    channel = await layer.new_channel()
    await layer.group_add(broadcaster.group, channel)
    return broadcaster, layer, channel


async def receive(layer, channel, timeout=10.0):
    message = await asyncio.wait_for(layer.receive(channel), timeout)
    return message["kind"], message["data"]


def pending(layer, channel):
    queue = layer.channels.get(channel)
    return 0 if queue is None else queue.qsize()


def listener_for(broadcaster, **config_changes):
    config = replace(settings.CONFIG, **{"ob_run_delay_s": 0, **config_changes})
    return OrderBlockListener(config, broadcaster)


async def test_closed_kline_is_stored_and_pushed_and_the_run_pushes_the_new_block():
    bars = sc.as_bars(sc.BASE)  # bar 20 is the break that creates the block at bar 19
    await sync_to_async(store_bars)(bars[:20])
    broadcaster, layer, channel = await subscribe()
    listener = listener_for(broadcaster)

    await listener.on_kline(kline_event(bars[20], closed=True))
    kind, data = await receive(layer, channel)
    assert kind == "candle"
    assert data == {
        "time": bars[20].open_time_ms // 1000,
        "open": 104.5,
        "high": 115.0,
        "low": 104.2,
        "close": 114.0,
        "volume": 1.5,
        "closed": True,
        "tf": "1h",
    }
    # the 4h and 1d candles that hour belongs to follow it (tests/orderblocks/test_timeframes.py)
    for tf in ("4h", "1d"):
        kind, data = await receive(layer, channel)
        bucket = bucket_start(bars[20].open_time_ms, timeframe_ms(tf)) // 1000
        assert (kind, data["tf"], data["time"]) == ("candle", tf, bucket)
    kind, data = await receive(layer, channel)
    assert kind == "orderblocks"
    assert [b["id"] for b in data["added"]] == [f"BTCEUR:bullish:{bars[19].open_time_ms}"]
    assert data["added"][0]["status"] == "fresh"
    assert data["changed"] == []
    assert await sync_to_async(load_bars)() == bars[:21]
    await listener.wait_idle()
    assert listener.runs == 1


async def test_the_next_close_pushes_changed_blocks_only():
    bars = sc.as_bars([*sc.BASE, (117.5, 118, 105, 105.5)])  # bar 24 touches the block
    await sync_to_async(store_bars)(bars[:24])
    broadcaster, layer, channel = await subscribe()
    listener = listener_for(broadcaster)
    await listener.on_kline(kline_event(bars[23], closed=True))  # already stored: first run is a full one
    await listener.wait_idle()
    while pending(layer, channel):
        await layer.receive(channel)
    await listener.on_kline(kline_event(bars[24], closed=True))
    for tf in ("1h", "4h", "1d"):
        kind, data = await receive(layer, channel)
        assert (kind, data["tf"]) == ("candle", tf)
    kind, data = await receive(layer, channel)
    assert kind == "orderblocks"
    assert data["added"] == []
    assert [(b["status"], b["touched_ts_ms"]) for b in data["changed"]] == [
        ("touched", bars[24].open_time_ms)
    ]
    assert listener.last_run.mode == "incremental"


async def test_open_candle_updates_go_out_with_the_next_cycle_latest_only():
    bar = sc.as_bars(sc.BASE)[20]
    broadcaster, layer, channel = await subscribe()
    listener = listener_for(broadcaster)
    for step in range(5):  # five updates between two publication cycles
        await listener.on_kline(kline_event(replace(bar, close=bar.close - step), closed=False))
    assert pending(layer, channel) == 0  # nothing until the cycle
    await listener.on_cycle(None)
    await listener.on_cycle(None)  # no update since: nothing more
    await listener.on_kline(kline_event(replace(bar, close=bar.close - 9), closed=False))
    await listener.on_cycle(None)
    closes = []
    while pending(layer, channel):
        kind, data = await receive(layer, channel)
        assert kind == "candle" and data["closed"] is False
        if data["tf"] == "1h":  # each followed by its 4h and 1d candles (test_timeframes.py)
            closes.append(data["close"])
    assert closes == [float(bar.close - 4), float(bar.close - 9)]
    assert await sync_to_async(Candle.objects.count)() == 0  # open candles are never stored
    assert listener.runs == 0


async def test_a_close_supersedes_the_held_open_update_of_that_candle():
    bar = sc.as_bars(sc.BASE)[20]
    broadcaster, layer, channel = await subscribe()
    listener = listener_for(broadcaster)
    await listener.on_kline(kline_event(replace(bar, close=bar.close - 1), closed=False))
    await listener.on_kline(kline_event(bar, closed=True))
    await listener.on_cycle(None)
    await listener.wait_idle()
    kinds = []
    while pending(layer, channel):
        kind, data = await receive(layer, channel)
        if data.get("tf") in (None, "1h"):
            kinds.append((kind, data.get("closed")))
    assert ("candle", False) not in kinds and kinds[0] == ("candle", True)


async def test_other_intervals_symbols_and_bad_klines_are_ignored():
    bar = sc.as_bars(sc.BASE)[20]
    broadcaster, layer, channel = await subscribe()
    listener = listener_for(broadcaster)
    await listener.on_kline(kline_event(bar, closed=True, interval="1m"))
    await listener.on_kline(kline_event(bar, closed=True, symbol="ETHEUR"))
    with pytest.raises(WireError, match="lacks field"):  # malformed: a bad frame, never reaches the listener
        parse_kline({"t": 1, "x": True})
    await listener.on_kline(parse_kline({**k_object(bar, closed=True), "h": "1"}))  # high below low
    await listener.wait_idle()
    assert listener.bad_klines == 1
    assert pending(layer, channel) == 0
    assert await sync_to_async(Candle.objects.count)() == 0


async def test_closes_during_a_run_are_covered_by_one_more_run():
    bars = sc.random_bars(9, 400)
    await sync_to_async(store_bars)(bars[:390])
    broadcaster, _layer, _channel = await subscribe()
    listener = listener_for(broadcaster, ob_run_delay_s=1)
    for bar in bars[390:]:  # ten closes within the run delay
        await listener.on_kline(kline_event(bar, closed=True))
    await listener.wait_idle()
    assert listener.runs == 1
    assert listener.last_run.through_ts_ms == bars[-1].open_time_ms


async def test_a_gap_before_a_closed_candle_is_backfilled_from_rest_before_the_run(sim):
    history = sim_bars(sim)
    await sync_to_async(store_bars)(history[:1900])
    broadcaster, _layer, _channel = await subscribe()
    client = BinanceRestClient(sim.rest_url)
    config = replace(settings.CONFIG, ob_run_delay_s=0)
    listener = OrderBlockListener(config, broadcaster, rest_client=client)
    try:
        await listener.on_kline(kline_event(history[-1], closed=True))  # 99 hours after the last stored
        await listener.wait_idle()
    finally:
        await client.aclose()
    assert listener.gaps_seen == 1
    assert await sync_to_async(load_bars)() == history
    assert listener.last_run.bars == 2000  # the run saw the filled history
