"""Rows for the web tests, written through the real models."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from apps.book.models import OrderbookMetric, PublishedBook
from apps.orderblocks.models import Candle, OrderBlock
from apps.zones.models import ZoneCurrent

SYMBOL = "BTCEUR"
HOUR_MS = 3_600_000
T0_MS = 1_700_000_000_000 - 1_700_000_000_000 % HOUR_MS  # an hour boundary


def make_candle(i: int, base: int = 87000) -> Candle:
    o = Decimal(base + i * 10)
    return Candle.objects.create(
        open_time_ms=T0_MS + i * HOUR_MS,
        open=o,
        high=o + 60,
        low=o - 40,
        close=o + 20,
        volume=Decimal("12.5"),
    )


def make_block(
    direction: str,
    created_i: int,
    status: str = "fresh",
    valid_to_i: int | None = None,
    low: str = "86900",
    high: str = "86950",
) -> OrderBlock:
    return OrderBlock.objects.create(
        symbol=SYMBOL,
        direction=direction,
        created_ts_ms=T0_MS + created_i * HOUR_MS,
        valid_from_ts_ms=T0_MS + (created_i + 3) * HOUR_MS,
        valid_to_ts_ms=None if valid_to_i is None else T0_MS + valid_to_i * HOUR_MS,
        price_low=Decimal(low),
        price_high=Decimal(high),
        atr14=Decimal("120.5"),
        bos_level=Decimal("87100"),
        bos_ts_ms=T0_MS + (created_i + 2) * HOUR_MS,
        touched_ts_ms=T0_MS + (created_i + 5) * HOUR_MS if status != "fresh" else None,
        status=status,
    )


def make_zone(
    zone_id: str,
    side: str,
    low: str,
    high: str,
    status: str = "candidate",
    first_seen_ms: int = T0_MS + 5 * HOUR_MS + 1234,
    strength: float = 6.5,
) -> ZoneCurrent:
    return ZoneCurrent.objects.create(
        id=zone_id,
        ts_ms=first_seen_ms + 60_000,
        symbol=SYMBOL,
        side=side,
        price_low=Decimal(low),
        price_high=Decimal(high),
        notional=Decimal("123456.78"),
        strength=strength,
        persistence_s=60.0,
        status=status,
        first_seen_ts_ms=first_seen_ms,
        last_seen_ts_ms=first_seen_ms + 60_000,
        book_update_id=42,
    )


def make_metric(ts_ms: int, bid: str = "87000.01", ask: str = "87000.02") -> OrderbookMetric:
    b, a = Decimal(bid), Decimal(ask)
    return OrderbookMetric.objects.create(
        ts_ms=ts_ms,
        symbol=SYMBOL,
        best_bid=b,
        best_ask=a,
        spread=a - b,
        mid=(a + b) / 2,
        imbalance_topn=0.25,
        update_id=ts_ms // 1000,
    )


def make_published(status: str = "live", ts_ms: int | None = None) -> PublishedBook:
    """The streamer's published row; by default published just now (so not stale)."""
    return PublishedBook.objects.create(
        symbol=SYMBOL,
        update_id=99,
        ts_ms=int(time.time() * 1000) if ts_ms is None else ts_ms,
        status=status,
        bids=[["87000.01", "1.5"]],
        asks=[["87000.02", "2"]],
        health={"stream": {"reconnects": 0}},
    )


@pytest.fixture
def seeded(db):
    for i in range(48):
        make_candle(i)
    make_block("bullish", 3, "fresh")
    make_block("bearish", 10, "touched", low="87200", high="87260")
    make_block("bullish", 20, "invalid", valid_to_i=30)
    make_zone(f"{SYMBOL}:bid:86950:87000", "bid", "86950", "87000", "confirmed")
    make_zone(f"{SYMBOL}:ask:87100:87150", "ask", "87100", "87150", "candidate")
    make_zone(f"{SYMBOL}:ask:87300:87350", "ask", "87300", "87350", "pulled")
    for k in range(10):
        make_metric(T0_MS + 47 * HOUR_MS + k * 1000)
    make_published()


@pytest.fixture
def seeded_once(django_db_blocker):
    """The `seeded` rows for tests that manage the DB themselves (one seeding per test function)."""
    with django_db_blocker.unblock():
        if not OrderbookMetric.objects.exists():
            for i in range(48):
                make_candle(i)
            make_block("bullish", 3, "fresh")
            make_block("bearish", 10, "touched", low="87200", high="87260")
            make_zone(f"{SYMBOL}:bid:86950:87000", "bid", "86950", "87000", "confirmed")
            make_metric(T0_MS + 47 * HOUR_MS)
