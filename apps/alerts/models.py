"""Alerts as they fired, kept ALERT_RETENTION_D days, with the webhook delivery of each."""

from __future__ import annotations

from django.db import models


class Alert(models.Model):
    """One alert (apps.alerts.domain.alert.Alert) and how its webhook delivery went
    (apps.alerts.domain.delivery says what each ``delivery`` state means)."""

    key = models.CharField(max_length=32, unique=True)  # the idempotency key
    symbol = models.CharField(max_length=20)
    rule = models.CharField(max_length=40)  # Rule
    object_id = models.CharField(max_length=160)  # an order-block id, a zone id, "book"
    ts_ms = models.BigIntegerField()  # when the event happened
    title = models.CharField(max_length=80)
    text = models.CharField(max_length=500)
    details = models.JSONField(default=dict)
    delivery = models.CharField(max_length=10)  # Delivery: off | pending | retrying | delivered | given_up
    attempts = models.IntegerField(default=0)
    last_error = models.CharField(max_length=300, default="", blank=True)
    last_attempt_ts_ms = models.BigIntegerField(null=True)
    next_attempt_ts_ms = models.BigIntegerField(null=True)
    delivered_ts_ms = models.BigIntegerField(null=True)

    class Meta:
        db_table = "alerts"
        indexes = [
            models.Index(fields=["symbol", "ts_ms"], name="alerts_symbol_ts"),
            models.Index(fields=["delivery"], name="alerts_delivery"),
        ]
