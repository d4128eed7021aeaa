"""Candles (1h: the spec's OHLCV source table; 5m and 15m for the chart) and detected order blocks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.orderblocks.domain.enums import BlockStatus
from apps.orderblocks.domain.timeframes import intraday_table_name

OB_STATUSES: tuple[str, ...] = tuple(status.value for status in BlockStatus)  # the API's ?status=


class CandleColumns(models.Model):
    """The columns of every candle table: the open time (UTC ms) is the primary key."""

    open_time_ms = models.BigIntegerField(primary_key=True)
    open = models.DecimalField(max_digits=24, decimal_places=8)
    high = models.DecimalField(max_digits=24, decimal_places=8)
    low = models.DecimalField(max_digits=24, decimal_places=8)
    close = models.DecimalField(max_digits=24, decimal_places=8)
    volume = models.DecimalField(max_digits=30, decimal_places=8)

    objects = models.Manager()  # declared here so code written for any candle table type-checks

    class Meta:
        abstract = True
        ordering = ["open_time_ms"]


class Candle(CandleColumns):
    """One closed 1h candle. The table name is the CANDLE_TABLE setting (default btc_eur_1h).

    The open time is the primary key, so an existing OHLCV table with just the columns
    open_time_ms, open, high, low, close, volume can be used as it is (the migration only creates the
    table when it is missing).
    """

    class Meta(CandleColumns.Meta):
        db_table = settings.CONFIG.candle_table


class Candle5m(CandleColumns):
    """One closed 5m candle (the chart's 5m timeframe), kept CANDLE_RETENTION_D_INTRADAY days.
    Table: CANDLE_TABLE's name with `_5m` for its `_1h` (default btc_eur_5m)."""

    class Meta(CandleColumns.Meta):
        db_table = intraday_table_name(settings.CONFIG.candle_table, "5m")


class Candle15m(CandleColumns):
    """One closed 15m candle, as Candle5m (default table btc_eur_15m)."""

    class Meta(CandleColumns.Meta):
        db_table = intraday_table_name(settings.CONFIG.candle_table, "15m")


# the stored timeframes and their tables (4h and 1d are aggregated from 1h: apps.orderblocks.selectors)
CANDLE_MODELS: dict[str, type[CandleColumns]] = {"5m": Candle5m, "15m": Candle15m, "1h": Candle}


class OrderBlock(models.Model):
    """One order block; see apps.orderblocks.domain.blocks for what each timestamp means."""

    symbol = models.CharField(max_length=20)
    direction = models.CharField(max_length=7)  # Direction: "bullish" | "bearish"
    created_ts_ms = models.BigIntegerField()  # open time of the OB bar
    valid_from_ts_ms = models.BigIntegerField()
    valid_to_ts_ms = models.BigIntegerField(null=True)
    price_low = models.DecimalField(max_digits=24, decimal_places=8)
    price_high = models.DecimalField(max_digits=24, decimal_places=8)
    atr14 = models.DecimalField(max_digits=24, decimal_places=8)
    bos_level = models.DecimalField(max_digits=24, decimal_places=8)
    bos_ts_ms = models.BigIntegerField()
    touched_ts_ms = models.BigIntegerField(null=True)
    status = models.CharField(max_length=8)  # BlockStatus: "fresh" | "touched" | "invalid"

    class Meta:
        db_table = "order_blocks_1h"
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "direction", "created_ts_ms"], name="ob_unique_symbol_dir_created"
            )
        ]


class OrderBlockRun(models.Model):
    """Where the last order-block run for a symbol stopped, so the hourly run can be incremental.

    `candles_through` is how many candles had an open time <= `computed_through_ts_ms` at that run:
    if the count differs later, older history changed (import/backfill) and a full run is due.
    `params` fingerprints the engine settings: a change forces a full run too.
    """

    symbol = models.CharField(max_length=20, unique=True)
    computed_through_ts_ms = models.BigIntegerField()
    candles_through = models.BigIntegerField()
    params = models.CharField(max_length=200)
    mode = models.CharField(max_length=12)  # "full" | "incremental"
    finished_at_ms = models.BigIntegerField()

    class Meta:
        db_table = "order_blocks_1h_runs"
