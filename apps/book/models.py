"""Derived, small, rolling order-book data. The raw book itself lives in RAM only."""

from __future__ import annotations

from django.db import models


class OrderbookMetric(models.Model):
    """One row per publication cycle (default every second), kept for METRICS_RETENTION_H."""

    ts_ms = models.BigIntegerField(db_index=True)
    symbol = models.CharField(max_length=20)
    best_bid = models.DecimalField(max_digits=24, decimal_places=8)
    best_ask = models.DecimalField(max_digits=24, decimal_places=8)
    spread = models.DecimalField(max_digits=24, decimal_places=8)
    mid = models.DecimalField(max_digits=24, decimal_places=8)
    imbalance_topn = models.FloatField()
    update_id = models.BigIntegerField()

    class Meta:
        db_table = "orderbook_metrics"
        indexes = [models.Index(fields=["symbol", "ts_ms"], name="metrics_symbol_ts")]


class PublishedBook(models.Model):
    """The latest published book (top N per side) and stream health, one row per symbol.

    Written by the single streamer each cycle and on every state change; read by any
    number of web processes (GET /api/book, /api/health).
    """

    symbol = models.CharField(max_length=20, unique=True)
    update_id = models.BigIntegerField(null=True)
    ts_ms = models.BigIntegerField()
    status = models.CharField(max_length=16)
    bids = models.JSONField(default=list)
    asks = models.JSONField(default=list)
    health = models.JSONField(default=dict)

    class Meta:
        db_table = "orderbook_published"


class DataSource(models.Model):
    """Where this database's market data came from: one row per source that ever wrote to it.

    `kind` is "binance" (the Binance protocol at `url`), "simulator" (the bundled simulator, `make
    demo`), "import" (a candle file) or "replay" (`serve --replay`, `url` the recording's files).
    `serve` refuses to mix simulated, real and replayed data (apps/book/domain/data_source.py)."""

    kind = models.CharField(max_length=16)
    url = models.CharField(max_length=500)
    first_write_ts_ms = models.BigIntegerField()

    class Meta:
        db_table = "data_sources"
        constraints = [models.UniqueConstraint(fields=["kind", "url"], name="data_source_kind_url")]
