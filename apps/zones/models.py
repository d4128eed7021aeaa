"""Liquidity zones: the current set (upserted each cycle) and a rolling history."""

from __future__ import annotations

from django.db import models

from apps.zones.domain.ended import HISTORY_STATUSES
from apps.zones.domain.enums import CURRENT_STATUSES

ZONE_STATUSES: tuple[str, ...] = tuple(status.value for status in CURRENT_STATUSES)  # the API's ?status=
ENDED_ZONE_STATUSES: tuple[str, ...] = tuple(status.value for status in HISTORY_STATUSES)  # /zones/history


class ZoneFields(models.Model):
    ts_ms = models.BigIntegerField()
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=3)  # Side: "bid" | "ask"
    price_low = models.DecimalField(max_digits=24, decimal_places=8)
    price_high = models.DecimalField(max_digits=24, decimal_places=8)
    notional = models.DecimalField(max_digits=30, decimal_places=8)
    strength = models.FloatField()
    persistence_s = models.FloatField()
    status = models.CharField(max_length=10)  # ZoneStatus
    first_seen_ts_ms = models.BigIntegerField()
    last_seen_ts_ms = models.BigIntegerField()
    book_update_id = models.BigIntegerField()

    class Meta:
        abstract = True


class ZoneCurrent(ZoneFields):
    """Zones on screen now: candidates, confirmed, and broken/pulled ones lingering."""

    id = models.CharField(primary_key=True, max_length=120)

    class Meta:
        db_table = "orderbook_zones_current"
        indexes = [models.Index(fields=["symbol", "status"], name="zones_cur_symbol_status")]


class ZoneHistory(ZoneFields):
    """Every zone state per cycle in which it changed, for replay and debugging."""

    zone_id = models.CharField(max_length=120, db_index=True)

    class Meta:
        db_table = "orderbook_zones_history"
        indexes = [models.Index(fields=["symbol", "ts_ms"], name="zones_hist_symbol_ts")]
        # one state per zone per cycle: re-writing a cycle is idempotent
        constraints = [models.UniqueConstraint(fields=["zone_id", "ts_ms"], name="zones_hist_zone_ts_unique")]


class ZoneEnded(models.Model):
    """One row per zone that ended (broken, pulled, merged; not discarded), written in the cycle it
    ended and kept ZONE_HISTORY_H: what GET /api/zones/history reads (one indexed range read; deriving
    it from orderbook_zones_history means scanning every state change of the period)."""

    zone_id = models.CharField(max_length=120)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=3)
    status = models.CharField(max_length=10)  # how it ended: broken | pulled | merged
    end_reason = models.CharField(max_length=300)
    price_low = models.DecimalField(max_digits=24, decimal_places=8)  # its range when it ended
    price_high = models.DecimalField(max_digits=24, decimal_places=8)
    peak_notional = models.DecimalField(max_digits=30, decimal_places=8)
    peak_strength = models.FloatField()
    first_seen_ts_ms = models.BigIntegerField()
    last_seen_ts_ms = models.BigIntegerField()
    ended_ts_ms = models.BigIntegerField()

    class Meta:
        db_table = "orderbook_zones_ended"
        indexes = [models.Index(fields=["symbol", "ended_ts_ms"], name="zones_ended_symbol_ts")]
        # one row per zone life (an id can come back later for a new zone at the same range)
        constraints = [
            models.UniqueConstraint(fields=["zone_id", "first_seen_ts_ms"], name="zones_ended_zone_unique")
        ]
