"""Backfill a candle table (1h, or the chart's 5m/15m) from Binance `GET /api/v3/klines` (pages of
1000, weight 2 each, through the shared-weight-budget REST client, which waits out 429/418
Retry-After windows).

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
from apps.orderblocks.domain.timeframes import timeframe_ms
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
    tf: str = "1h"

    def describe(self) -> str:
        gaps = sum(g.missing for g in self.gaps_left)
        what = "backfill" if self.tf == "1h" else f"backfill {self.tf}"
        unit = "hours" if self.tf == "1h" else f"{self.tf} candles"
        return (
            f"{what}: {self.requests} requests, {self.received} candles received, {self.inserted} new, "
            f"{self.updated} updated; stored history {self.first_ms}..{self.last_ms}; "
            f"{len(self.gaps_left)} gaps ({gaps} missing {unit}) left"
        )


def _quiet(_: str) -> None:
    return None


def gap_text(gap: Gap) -> str:
    if gap.interval_ms == HOUR_MS:
        return f"{gap.missing} missing hour(s) from {gap.first_missing_ms} to {gap.last_missing_ms}"
    minutes = gap.interval_ms // 60_000
    return f"{gap.missing} missing {minutes}m candle(s) from {gap.first_missing_ms} to {gap.last_missing_ms}"


@dataclass
class _Backfill:
    """One backfill run of one timeframe: fetches pages forward and stores each as it arrives."""

    source: KlineSource
    symbol: str
    tf: str
    now_ms: int
    say: Progress
    summary: BackfillSummary

    async def fetch(self, start_ms: int, end_ms: int | None, limit: int) -> list[list[Any]]:
        self.summary.requests += 1
        return await self.source.get_klines(self.symbol, self.tf, start_ms, end_ms, limit)

    async def pull(self, start_ms: int, end_ms: int | None, label: str) -> None:
        summary = self.summary
        summary.ranges.append((start_ms, end_ms))
        pages = klines_forward(
            self.fetch,
            start_ms,
            end_ms,
            self.now_ms,
            limit=KLINE_PAGE_LIMIT,
            interval_ms=timeframe_ms(self.tf),
        )
        async for page in pages:
            stored = await sync_to_async(store_bars)(page.bars, self.tf)
            summary.received += stored.received
            summary.inserted += stored.inserted
            summary.updated += stored.updated
            last = page.bars[-1].open_time_ms if page.bars else None
            self.say(f"{label}: {summary.received} candles received, {summary.inserted} new (up to {last})")


async def backfill_candles(
    source: KlineSource,
    symbol: str,
    *,
    tf: str = "1h",
    since_ms: int | None = None,
    keep_from_ms: int | None = None,
    now_ms: int | None = None,
    fill_gaps: bool = True,
    progress: Progress | None = None,
) -> BackfillSummary:
    """Fetch and store every closed candle of `tf` (1h, 5m, 15m) after the last stored one (from
    `since_ms`, or the exchange's first candle, when the table is empty or `since_ms` is older), then
    the gaps. Nothing that opened before `keep_from_ms` is asked for (the intraday retention window)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    step = timeframe_ms(tf)
    run = _Backfill(source, symbol, tf, now, progress or _quiet, BackfillSummary(tf=tf))
    floor = keep_from_ms or 0
    latest = await sync_to_async(latest_open_time_ms)(tf)
    earliest = await sync_to_async(earliest_open_time_ms)(tf)
    if latest is None:
        await run.pull(max(since_ms or 0, floor), None, "backfill")
    else:
        if since_ms is not None and earliest is not None and max(since_ms, floor) < earliest:
            await run.pull(max(since_ms, floor), earliest - step, "backfill before the first stored candle")
        await run.pull(max(latest + step, floor), None, "backfill after the last stored candle")
    if fill_gaps:
        gaps = await sync_to_async(candle_gaps)(from_ms=keep_from_ms, tf=tf)
        for number, gap in enumerate(gaps, start=1):
            run.say(f"gap {number}/{len(gaps)}: {gap_text(gap)}")
            await run.pull(gap.first_missing_ms, gap.last_missing_ms, f"gap {number}/{len(gaps)}")
    return await _finish(run.summary, keep_from_ms)


async def _finish(summary: BackfillSummary, keep_from_ms: int | None) -> BackfillSummary:
    tf = summary.tf
    summary.gaps_left = await sync_to_async(candle_gaps)(from_ms=keep_from_ms, tf=tf)
    summary.first_ms = await sync_to_async(earliest_open_time_ms)(tf)
    summary.last_ms = await sync_to_async(latest_open_time_ms)(tf)
    for gap in summary.gaps_left:
        log.warning("candle history gap: %s (the exchange returned no candles for it)", gap_text(gap))
    log.info("%s", summary.describe())
    return summary


async def backfill_from(
    rest_url: str,
    *,
    tf: str = "1h",
    since_ms: int | None = None,
    keep_from_ms: int | None = None,
    progress: Progress | None = None,
) -> BackfillSummary:
    """Backfill with a REST client of its own (its own weight budget, seeded from the exchange's
    X-MBX-USED-WEIGHT-1M header). Used by `serve --simulator` and the backfill_candles command."""
    from apps.book.services.rest_client import BinanceRestClient

    config = settings.CONFIG
    client = BinanceRestClient.with_budget_from(rest_url, config)
    try:
        return await backfill_candles(
            client, config.symbol, tf=tf, since_ms=since_ms, keep_from_ms=keep_from_ms, progress=progress
        )
    finally:
        await client.aclose()
