"""Timeframes: the UTC bucket rule, 4h/1d aggregation from 1h (boundaries, partial buckets, the open
candle), GET /api/candles?tf= (validation, selection, the same candles the push sends)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from apps.orderblocks.domain.candles import Bar
from apps.orderblocks.domain.timeframes import (
    DAY_MS,
    HOUR_MS,
    TIMEFRAMES,
    UnknownTimeframeError,
    aggregate_candles,
    bucket_start,
    first_bucket_from,
    intraday_table_name,
    timeframe_ms,
)
from apps.orderblocks.models import Candle5m, Candle15m
from apps.orderblocks.services.aggregates import AggregatedCandles
from apps.orderblocks.services.candles import store_bars

H4 = 4 * HOUR_MS


def utc_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def bar(open_time_ms: int, o: str, h: str, low: str, c: str, v: str = "1.5") -> Bar:
    return Bar(open_time_ms, Decimal(o), Decimal(h), Decimal(low), Decimal(c), Decimal(v))


def hours(first_ms: int, count: int, *, skip: tuple[int, ...] = ()) -> list[Bar]:
    """`count` hours from `first_ms`: hour i opens at 100+i, closes at 101+i, range +-2, volume 0.1*(i+1)."""
    return [
        bar(first_ms + i * HOUR_MS, f"{100 + i}", f"{103 + i}", f"{98 + i}", f"{101 + i}", f"{(i + 1) / 10}")
        for i in range(count)
        if i not in skip
    ]


# ----------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    "time, tf, start",
    [
        ("2026-03-04 00:00", "4h", "2026-03-04 00:00"),
        ("2026-03-04 03:59:59.999", "4h", "2026-03-04 00:00"),
        ("2026-03-04 04:00", "4h", "2026-03-04 04:00"),
        ("2026-03-04 13:00", "4h", "2026-03-04 12:00"),
        ("2026-03-04 23:59", "4h", "2026-03-04 20:00"),
        ("2026-03-04 23:59:59.999", "1d", "2026-03-04 00:00"),
        ("2026-03-05 00:00", "1d", "2026-03-05 00:00"),
        ("2026-03-04 13:07", "15m", "2026-03-04 13:00"),
        ("2026-03-04 13:07", "5m", "2026-03-04 13:05"),
        ("1970-01-01 05:00", "4h", "1970-01-01 04:00"),
    ],
)
def test_buckets_are_utc_aligned(time, tf, start):
    assert bucket_start(utc_ms(time), timeframe_ms(tf)) == utc_ms(start)


def test_first_bucket_from_rounds_up_to_a_bucket_start():
    assert first_bucket_from(utc_ms("2026-03-04 04:00"), H4) == utc_ms("2026-03-04 04:00")
    assert first_bucket_from(utc_ms("2026-03-04 04:00:00.001"), H4) == utc_ms("2026-03-04 08:00")


def test_timeframes_and_their_tables():
    assert TIMEFRAMES == ("5m", "15m", "1h", "4h", "1d")
    with pytest.raises(UnknownTimeframeError, match="unknown timeframe '2h'"):
        timeframe_ms("2h")
    assert intraday_table_name("btc_eur_1h", "5m") == "btc_eur_5m"
    assert intraday_table_name("ohlcv", "15m") == "ohlcv_15m"
    long_name = "t" * 63
    assert intraday_table_name(long_name, "15m") == "t" * 59 + "_15m"
    assert (Candle5m._meta.db_table, Candle15m._meta.db_table) == ("btc_eur_5m", "btc_eur_15m")


def test_a_complete_4h_bucket_is_open_of_the_first_close_of_the_last_extremes_and_summed_volume():
    day = utc_ms("2026-03-04 00:00")
    (candle,) = aggregate_candles(hours(day, 4), H4)
    assert (candle.open_time_ms, candle.open, candle.high, candle.low, candle.close) == (
        day,
        Decimal(100),
        Decimal(106),
        Decimal(98),
        Decimal(104),
    )
    assert candle.volume == Decimal("1.0") and candle.parts == 4 and candle.closed


def test_buckets_split_at_utc_boundaries_not_at_the_first_candle():
    first = utc_ms("2026-03-04 02:00")  # 02:00 .. 09:00: buckets 00-04 (2 hours), 04-08 (4), 08-12 (2)
    candles = aggregate_candles(hours(first, 8), H4)
    assert [(c.open_time_ms, c.parts, c.closed) for c in candles] == [
        (utc_ms("2026-03-04 00:00"), 2, True),  # starts in the history: later candles exist
        (utc_ms("2026-03-04 04:00"), 4, True),
        (utc_ms("2026-03-04 08:00"), 2, False),  # the newest, incomplete: the open candle
    ]
    assert candles[1].open == Decimal(102) and candles[1].close == Decimal(106)
    day = aggregate_candles(hours(utc_ms("2026-03-04 22:00"), 4), DAY_MS)
    assert [(c.open_time_ms, c.parts) for c in day] == [
        (utc_ms("2026-03-04 00:00"), 2),
        (utc_ms("2026-03-05 00:00"), 2),
    ]


def test_a_bucket_with_a_gap_is_made_of_the_hours_it_has_and_closed_once_a_later_hour_exists():
    day = utc_ms("2026-03-04 00:00")
    gap = hours(day, 8, skip=(1, 2))  # 01:00 and 02:00 missing
    first, second = aggregate_candles(gap, H4)
    assert (first.parts, first.closed, first.open, first.close) == (2, True, Decimal(100), Decimal(104))
    assert first.high == Decimal(106) and first.volume == Decimal("0.5")  # hours 0 and 3
    assert (second.parts, second.closed) == (4, True)
    # the newest bucket with a gap and nothing after it: open, until a later hour is stored
    (alone,) = aggregate_candles(hours(day, 4, skip=(2,)), H4)
    assert (alone.parts, alone.closed) == (3, False)
    (followed,) = aggregate_candles(hours(day, 4, skip=(2,)), H4, later_exists=True)
    assert followed.closed


def test_the_open_hour_keeps_its_bucket_open_even_when_it_is_the_fourth():
    day = utc_ms("2026-03-04 00:00")
    (candle,) = aggregate_candles(hours(day, 4), H4, last_open=True)
    assert candle.parts == 4 and not candle.closed


def test_floats_aggregate_the_same_way():
    day = utc_ms("2026-03-04 00:00")
    as_floats = [
        Bar(b.open_time_ms, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume))
        for b in hours(day, 24)
    ]
    (exact,) = aggregate_candles(hours(day, 24), DAY_MS)
    (approx,) = aggregate_candles(as_floats, DAY_MS)
    assert (approx.open, approx.high, approx.low, approx.close) == (
        float(exact.open),
        float(exact.high),
        float(exact.low),
        float(exact.close),
    )
    assert approx.volume == pytest.approx(float(exact.volume)) and approx.parts == exact.parts == 24


# ----------------------------------------------------------------------------- the API


def api(**params):
    response = Client().get("/api/candles", params)
    return response.status_code, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, detail",
    [
        ({"tf": "2h"}, "must be one of 5m, 15m, 1h, 4h, 1d, got '2h'"),
        ({"tf": ""}, "must be one of"),
        ({"tf": "1H"}, "must be one of"),
        ({"tf": ["1h", "4h"]}, "given more than once"),
    ],
)
def test_a_bad_timeframe_is_a_400_naming_tf(params, detail):
    status, body = api(**params)
    assert status == 400
    assert body["error"] == "bad_parameter" and body["parameter"] == "tf" and detail in body["detail"]


@pytest.mark.django_db
def test_4h_and_1d_candles_come_from_the_1h_table():
    day = utc_ms("2026-03-02 00:00")
    store_bars(hours(day, 24 * 2 + 6, skip=(30, 31)))  # two days and 6 hours; 06:00, 07:00 of day 2 missing
    _, body = api(tf="4h")
    candles = body["candles"]
    assert body["interval"] == "4h" and len(candles) == 14
    assert [c["time"] for c in candles] == [(day + i * H4) // 1000 for i in range(14)]
    assert [c["hours"] for c in candles[6:9]] == [4, 2, 4]  # the gap: day 2 04:00-08:00 has 2 hours
    assert [c["closed"] for c in candles[-2:]] == [True, False]  # day 3 04:00: 2 of 4 hours, the open one
    assert candles[0] == {
        "time": day // 1000,
        "open": 100.0,
        "high": 106.0,
        "low": 98.0,
        "close": 104.0,
        "volume": pytest.approx(1.0),
        "closed": True,
        "hours": 4,
    }
    _, body = api(tf="1d")
    assert [(c["time"], c["hours"], c["closed"]) for c in body["candles"]] == [
        (day // 1000, 24, True),
        ((day + DAY_MS) // 1000, 22, True),  # two hours missing, later hours exist
        ((day + 2 * DAY_MS) // 1000, 6, False),
    ]
    assert body["candles"][1]["open"] == 124.0 and body["candles"][1]["close"] == 148.0


@pytest.mark.django_db
def test_aggregated_candles_are_selected_by_their_start_time():
    day = utc_ms("2026-03-02 00:00")
    store_bars(hours(day, 24 * 3))
    s = day // 1000
    _, body = api(tf="4h", limit=2)  # the last two, up to now
    assert [c["time"] for c in body["candles"]] == [s + 16 * 3600 + 2 * 86400, s + 20 * 3600 + 2 * 86400]
    _, body = api(tf="4h", to=s + 9 * 3600, limit=3)  # to inside the 08:00 bucket: it is included whole
    assert [c["time"] for c in body["candles"]] == [s, s + 4 * 3600, s + 8 * 3600]
    assert body["candles"][-1]["hours"] == 4 and body["candles"][-1]["closed"] is True
    _, body = api(tf="4h", **{"from": s + 1, "limit": 2})  # from inside a bucket: the next bucket on
    assert [c["time"] for c in body["candles"]] == [s + 4 * 3600, s + 8 * 3600]
    _, body = api(tf="1d", **{"from": s, "to": s + 86400})
    assert [c["time"] for c in body["candles"]] == [s, s + 86400]
    _, body = api(tf="1d", to=s - 1)
    assert body["candles"] == []


@pytest.mark.django_db
def test_5m_and_15m_come_from_their_own_tables():
    t0 = utc_ms("2026-03-02 10:00")
    five = [bar(t0 + i * 300_000, "10", "12", "9", "11") for i in range(6)]
    store_bars(five, "5m")
    store_bars([bar(t0, "10", "12", "9", "11", "4.5")], "15m")
    _, body = api(tf="5m", limit=4)
    assert body["interval"] == "5m"
    assert [c["time"] for c in body["candles"]] == [(t0 + i * 300_000) // 1000 for i in range(2, 6)]
    assert "hours" not in body["candles"][0]
    _, body = api(tf="15m")
    assert [(c["time"], c["volume"]) for c in body["candles"]] == [(t0 // 1000, 4.5)]
    _, body = api()  # the 1h table is empty: the intraday tables are separate
    assert body["interval"] == "1h" and body["candles"] == []


@pytest.mark.django_db(transaction=True)
async def test_the_pushed_4h_and_1d_candles_are_the_ones_the_api_answers():
    day = utc_ms("2026-03-02 00:00")
    stored = hours(day, 14)  # 00:00 .. 13:00 closed
    await sync_to_async(store_bars)(stored)
    aggregates = AggregatedCandles()
    open_hour = bar(day + 14 * HOUR_MS, "114", "130", "90", "120", "2")
    pushed = await aggregates.with_open(open_hour)
    four, one_day = pushed
    assert (four["tf"], four["time"], four["hours"], four["closed"]) == (
        "4h",
        (day + 12 * HOUR_MS) // 1000,
        3,
        False,
    )
    assert (four["open"], four["high"], four["low"], four["close"]) == (112.0, 130.0, 90.0, 120.0)
    assert (one_day["tf"], one_day["hours"], one_day["volume"]) == ("1d", 15, pytest.approx(10.5 + 2))
    # the hour closes and is stored: the push and the API agree
    await sync_to_async(store_bars)([open_hour])
    closed = await aggregates.on_closed(open_hour)
    _, body = await sync_to_async(api)(tf="4h")
    assert {k: v for k, v in closed[0].items() if k != "tf"} == body["candles"][-1]
    assert closed[0]["closed"] is False  # 12:00-16:00 still has an hour to go
    last = bar(day + 15 * HOUR_MS, "115", "118", "113", "117")
    await sync_to_async(store_bars)([last])
    four, one_day = await aggregates.on_closed(last)
    assert (four["hours"], four["closed"]) == (4, True) and (one_day["hours"], one_day["closed"]) == (
        16,
        False,
    )
