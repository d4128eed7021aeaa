"""Reads of candles (every chart timeframe) and order blocks for the API and the push snapshot."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import closing
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import FloatField, Q, QuerySet
from django.db.models.functions import Cast

from apps.orderblocks.domain.enums import BlockStatus
from apps.orderblocks.domain.timeframes import (
    aggregate_candles,
    bucket_start,
    first_bucket_from,
    is_aggregated,
    timeframe_ms,
)
from apps.orderblocks.models import CANDLE_MODELS, Candle, OrderBlock
from apps.orderblocks.presentation import aggregated_candle_overlay, candle_overlay, orderblock_overlay


class CandleRow(NamedTuple):
    """The candle columns the chart needs, OHLCV already as floats (what the chart draws)."""

    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


_OHLCV = ("open", "high", "low", "close", "volume")
AGGREGATE_CHUNK = 2400  # 1h rows fetched at a time for 4h/1d (100 days)


def _float_rows(rows: QuerySet[Any]) -> QuerySet[Any]:
    """(open_time_ms, open, high, low, close, volume) with OHLCV cast to float by the database."""
    return rows.annotate(**{f"{name}_float": Cast(name, FloatField()) for name in _OHLCV}).values_list(
        "open_time_ms", *(f"{name}_float" for name in _OHLCV)
    )


def _fetched(rows: QuerySet[Any]) -> Generator[tuple[Any, ...], None, None]:
    """The rows of a values_list query as the database sends them, AGGREGATE_CHUNK at a time: the
    ORM's per-value converters cost ~10 us a row, most of a 1d answer's time (the floats come from
    the database's own cast)."""
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(AGGREGATE_CHUNK):
            yield from chunk


def candles(tf: str, from_ms: int | None, to_ms: int | None, limit: int) -> list[dict[str, Any]]:
    """Candles of timeframe `tf`, oldest first, chart-ready (``time`` in UTC seconds).

    With ``from_ms`` the first ``limit`` candles from there on; otherwise the last ``limit``
    candles up to ``to_ms`` (or up to now). 5m, 15m and 1h are the closed candles of their tables;
    4h and 1d are aggregated from the 1h table (`aggregated_candles`). The database casts OHLCV to
    float: building 1000 Decimals per request costs ~5x more and the chart plots floats anyway.
    """
    if is_aggregated(tf):
        return aggregated_candles(tf, from_ms, to_ms, limit)
    rows = CANDLE_MODELS[tf].objects.all()
    if from_ms is not None:
        rows = rows.filter(open_time_ms__gte=from_ms)
    if to_ms is not None:
        rows = rows.filter(open_time_ms__lte=to_ms)
    rows = rows.order_by("open_time_ms" if from_ms is not None else "-open_time_ms")
    picked = [CandleRow(*row) for row in _float_rows(rows)[:limit]]
    if from_ms is None:
        picked.reverse()
    return [candle_overlay(candle, closed=True) for candle in picked]


def aggregated_candles(tf: str, from_ms: int | None, to_ms: int | None, limit: int) -> list[dict[str, Any]]:
    """4h or 1d candles made from the 1h table: the buckets whose start lies in [from_ms, to_ms], the
    first ``limit`` from ``from_ms`` or the last ``limit`` up to ``to_ms``. The 1h rows are read in
    open-time order (the key) and only as many as those buckets hold; the newest bucket is the open
    candle while it is incomplete and nothing follows it (`aggregate_candles`)."""
    size = timeframe_ms(tf)
    rows = Candle.objects.all()
    if from_ms is not None:
        rows = rows.filter(open_time_ms__gte=first_bucket_from(from_ms, size))
    if to_ms is not None:
        rows = rows.filter(open_time_ms__lt=bucket_start(to_ms, size) + size)
    rows = rows.order_by("open_time_ms" if from_ms is not None else "-open_time_ms")
    picked: list[CandleRow] = []
    buckets: set[int] = set()
    with closing(_fetched(_float_rows(rows))) as fetched:
        for row in fetched:
            bucket = bucket_start(row[0], size)
            if bucket not in buckets:
                if len(buckets) == limit:
                    break
                buckets.add(bucket)
            picked.append(CandleRow(*row))
    if not picked:
        return []
    if from_ms is None:
        picked.reverse()
    after = bucket_start(picked[-1].open_time_ms, size) + size
    later = Candle.objects.filter(open_time_ms__gte=after).exists()
    return [aggregated_candle_overlay(c) for c in aggregate_candles(picked, size, later_exists=later)]


def orderblocks(
    symbol: str,
    statuses: Sequence[str] | None,
    from_ms: int | None,
    to_ms: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Order blocks whose life [created, valid_to or open] overlaps [from_ms, to_ms], oldest first.

    When more than ``limit`` match, the most recent ``limit`` are returned.
    """
    rows = OrderBlock.objects.filter(symbol=symbol)
    if statuses is not None:
        rows = rows.filter(status__in=list(statuses))
    if to_ms is not None:
        rows = rows.filter(created_ts_ms__lte=to_ms)
    if from_ms is not None:
        rows = rows.filter(Q(valid_to_ts_ms__isnull=True) | Q(valid_to_ts_ms__gte=from_ms))
    picked = list(rows.order_by("-created_ts_ms", "direction")[:limit])[::-1]
    return [orderblock_overlay(block) for block in picked]


def chart_orderblocks(symbol: str, invalid_since_ms: int) -> list[dict[str, Any]]:
    """What the chart draws: every fresh/touched block, plus invalid ones that ended after ``invalid_since_ms``."""
    rows = OrderBlock.objects.filter(symbol=symbol).filter(
        Q(status__in=[BlockStatus.FRESH, BlockStatus.TOUCHED])
        | Q(status=BlockStatus.INVALID, valid_to_ts_ms__gte=invalid_since_ms)
    )
    return [orderblock_overlay(block) for block in rows.order_by("created_ts_ms", "direction")]
