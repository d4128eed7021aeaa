"""1h candles (the spec's OHLCV source table) and detected order blocks."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.orderblocks.domain.enums import BlockStatus

OB_STATUSES: tuple[str, ...] = tuple(status.value for status in BlockStatus)  # the API's ?status=


class Candle(models.Model):
    """One closed 1h candle. The table name is the CANDLE_TABLE setting (default btc_eur_1h).

    The open time is the primary key, so an existing OHLCV table with just the columns
    open_time_ms, open, high, low, close, volume can be used as it is (the migration only creates the
    table when it is missing).
    """

    open_time_ms = models.BigIntegerField(primary_key=True)
    open = models.DecimalField(max_digits=24, decimal_places=8)
    high = models.DecimalField(max_digits=24, decimal_places=8)
    low = models.DecimalField(max_digits=24, decimal_places=8)
    close = models.DecimalField(max_digits=24, decimal_places=8)
    volume = models.DecimalField(max_digits=30, decimal_places=8)

    class Meta:
        db_table = settings.CONFIG.candle_table
        ordering = ["open_time_ms"]


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
