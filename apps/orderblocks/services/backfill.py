"""Backfill the candle table from Binance `GET /api/v3/klines` (pages of 1000, weight 2 each, through
the shared-weight-budget REST client, which waits out 429/418 Retry-After windows).

Every page is stored as it arrives, so an interrupted backfill resumes from the last stored candle.
Gaps inside the stored history are requested too; what the exchange has no data for stays a gap
and is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.orderblocks.domain.candles import HOUR_MS, KLINE_PAGE_LIMIT, Gap, klines_forward
from apps.orderblocks.services.candles import (
    candle_gaps,
    earliest_open_time_ms,
    latest_open_time_ms,
    store_bars,
)

log = logging.getLogger("apps.orderblocks.backfill")

Progress = Callable[[str], None]


class KlineSource(Protocol):
    """What backfill needs from apps.book.services.rest_client.BinanceRestClient."""

    async def get_klines(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list[Any]]: ...


@dataclass
class BackfillSummary:
    requests: int = 0
    received: int = 0
    inserted: int = 0
    updated: int = 0
    ranges: list[tuple[int, int | None]] = field(default_factory=list)
    gaps_left: list[Gap] = field(default_factory=list)
    first_ms: int | None = None
    last_ms: int | None = None

    def describe(self) -> str:
        gaps = sum(g.missing for g in self.gaps_left)
        return (
            f"backfill: {self.requests} requests, {self.received} candles received, {self.inserted} new, "
            f"{self.updated} updated; stored history {self.first_ms}..{self.last_ms}; "
            f"{len(self.gaps_left)} gaps ({gaps} missing hours) left"
        )


def _quiet(_: str) -> None:
    return None


def gap_text(gap: Gap) -> str:
    return f"{gap.missing} missing hour(s) from {gap.first_missing_ms} to {gap.last_missing_ms}"


async def backfill_candles(
    source: KlineSource,
    symbol: str,
    *,
    since_ms: int | None = None,
    now_ms: int | None = None,
    fill_gaps: bool = True,
    progress: Progress | None = None,
) -> BackfillSummary:
    """Fetch and store every closed 1h candle after the last stored one (from `since_ms`, or the
    exchange's first candle, when the table is empty or `since_ms` is older), then the gaps."""
    say = progress or _quiet
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    summary = BackfillSummary()
    latest = await sync_to_async(latest_open_time_ms)()
    earliest = await sync_to_async(earliest_open_time_ms)()

    async def fetch(start_ms: int, end_ms: int | None, limit: int) -> list[list[Any]]:
        summary.requests += 1
        return await source.get_klines(symbol, "1h", start_ms, end_ms, limit)

    async def pull(start_ms: int, end_ms: int | None, label: str) -> None:
        summary.ranges.append((start_ms, end_ms))
        async for page in klines_forward(fetch, start_ms, end_ms, now, limit=KLINE_PAGE_LIMIT):
            stored = await sync_to_async(store_bars)(page.bars)
            summary.received += stored.received
            summary.inserted += stored.inserted
            summary.updated += stored.updated
            last = page.bars[-1].open_time_ms if page.bars else None
            say(f"{label}: {summary.received} candles received, {summary.inserted} new (up to {last})")

    if latest is None:
        await pull(since_ms if since_ms is not None else 0, None, "backfill")
    else:
        if since_ms is not None and earliest is not None and since_ms < earliest:
            await pull(since_ms, earliest - HOUR_MS, "backfill before the first stored candle")
        await pull(latest + HOUR_MS, None, "backfill after the last stored candle")
    if fill_gaps:
        gaps = await sync_to_async(candle_gaps)()
        for number, gap in enumerate(gaps, start=1):
            say(f"gap {number}/{len(gaps)}: {gap_text(gap)}")
            await pull(gap.first_missing_ms, gap.last_missing_ms, f"gap {number}/{len(gaps)}")
    summary.gaps_left = await sync_to_async(candle_gaps)()
    summary.first_ms = await sync_to_async(earliest_open_time_ms)()
    summary.last_ms = await sync_to_async(latest_open_time_ms)()
    for gap in summary.gaps_left:
        log.warning("candle history gap: %s (the exchange returned no candles for it)", gap_text(gap))
    log.info("%s", summary.describe())
    return summary


async def backfill_from(
    rest_url: str, *, since_ms: int | None = None, progress: Progress | None = None
) -> BackfillSummary:
    """Backfill with a REST client of its own (its own weight budget, seeded from the exchange's
    X-MBX-USED-WEIGHT-1M header). Used by `serve --simulator` and the backfill_candles command."""
    from apps.book.services.rest_client import BinanceRestClient

    config = settings.CONFIG
    client = BinanceRestClient.with_budget_from(rest_url, config)
    try:
        return await backfill_candles(client, config.symbol, since_ms=since_ms, progress=progress)
    finally:
        await client.aclose()
