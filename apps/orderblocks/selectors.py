"""Reads of 1h candles and order blocks for the API and the push snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db.models import FloatField, Q
from django.db.models.functions import Cast

from apps.orderblocks.domain.enums import BlockStatus
from apps.orderblocks.models import Candle, OrderBlock
from apps.orderblocks.presentation import candle_overlay, orderblock_overlay


class CandleRow(NamedTuple):
    """The candle columns the chart needs, OHLCV already as floats (what the chart draws)."""

    open_time_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


_OHLCV = ("open", "high", "low", "close", "volume")


def candles(from_ms: int | None, to_ms: int | None, limit: int) -> list[dict[str, Any]]:
    """Closed 1h candles, oldest first, chart-ready (``time`` in UTC seconds).

    With ``from_ms`` the first ``limit`` candles from there on; otherwise the last ``limit``
    candles up to ``to_ms`` (or up to now). The database casts OHLCV to float: building 1000
    Decimals per request costs ~5x more and the chart plots floats anyway.
    """
    rows = Candle.objects.all()
    if from_ms is not None:
        rows = rows.filter(open_time_ms__gte=from_ms)
    if to_ms is not None:
        rows = rows.filter(open_time_ms__lte=to_ms)
    rows = rows.order_by("open_time_ms" if from_ms is not None else "-open_time_ms")
    columns = rows.annotate(**{f"{name}_float": Cast(name, FloatField()) for name in _OHLCV}).values_list(
        "open_time_ms", *(f"{name}_float" for name in _OHLCV)
    )[:limit]
    picked = [CandleRow(*row) for row in columns]
    if from_ms is None:
        picked.reverse()
    return [candle_overlay(candle, closed=True) for candle in picked]


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
