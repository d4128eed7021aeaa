"""The 4h and 1d candles the page shows, kept live from the 1h klines.

4h and 1d are never stored: /api/candles aggregates them from the 1h table (apps.orderblocks.selectors),
and the push sends the bucket a 1h candle belongs to each time the 1h candle is pushed, made by the
same rule (`aggregate_candles`): the bucket's stored hours plus the open 1h candle. The stored hours of
the current buckets are read once per bucket (and again at each 1h close), not at every open-candle
update.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async

from apps.orderblocks.domain.candles import HOUR_MS, Bar
from apps.orderblocks.domain.timeframes import AGGREGATED, aggregate_candles, bucket_start, timeframe_ms
from apps.orderblocks.presentation import aggregated_candle_overlay
from apps.orderblocks.services.candles import load_bars


class AggregatedCandles:
    def __init__(self) -> None:
        self._hours: dict[str, tuple[int, list[Bar]]] = {}  # tf -> (bucket start, its stored 1h candles)

    def forget(self) -> None:
        """Stored hours changed behind our back (a gap backfill): read them again when next needed."""
        self._hours.clear()

    async def _stored_hours(self, tf: str, start: int, *, refresh: bool) -> list[Bar]:
        cached = self._hours.get(tf)
        if refresh or cached is None or cached[0] != start:
            hours = await sync_to_async(load_bars)(from_ms=start, to_ms=start + timeframe_ms(tf) - 1)
            cached = self._hours[tf] = (start, hours)
        return cached[1]

    async def on_closed(self, bar: Bar) -> list[dict[str, Any]]:
        """After a 1h close was stored: the 4h and 1d candles it belongs to (closed once their last
        hour has closed, even with an hour missing at a gap)."""
        overlays = []
        for tf in AGGREGATED:
            size = timeframe_ms(tf)
            start = bucket_start(bar.open_time_ms, size)
            hours = await self._stored_hours(tf, start, refresh=True)
            ended = bar.open_time_ms + HOUR_MS >= start + size
            for candle in aggregate_candles(hours, size, later_exists=ended):
                overlays.append(aggregated_candle_overlay(candle, tf))
        return overlays

    async def with_open(self, bar: Bar) -> list[dict[str, Any]]:
        """The open 4h and 1d candles while the 1h candle `bar` is open."""
        overlays = []
        for tf in AGGREGATED:
            size = timeframe_ms(tf)
            start = bucket_start(bar.open_time_ms, size)
            stored = await self._stored_hours(tf, start, refresh=False)
            hours = [hour for hour in stored if hour.open_time_ms < bar.open_time_ms]
            for candle in aggregate_candles([*hours, bar], size, last_open=True):
                overlays.append(aggregated_candle_overlay(candle, tf))
        return overlays
