"""Reactions of order blocks to price arriving (see apps.reactions.domain.reaction for what each
field means). One row per block: a block gets at most one reaction, its first touch while the
service was live. Rows are kept REACTION_RETENTION_D days after the touch."""

from __future__ import annotations

from django.db import models

from apps.reactions.domain.enums import ReactionState

REACTION_STATES: tuple[str, ...] = tuple(state.value for state in ReactionState)


class OrderBlockReaction(models.Model):
    symbol = models.CharField(max_length=20)
    block_id = models.CharField(max_length=80, unique=True)  # symbol:direction:created_ts_ms
    direction = models.CharField(max_length=7)
    price_low = models.DecimalField(max_digits=24, decimal_places=8)  # the block's zone
    price_high = models.DecimalField(max_digits=24, decimal_places=8)
    atr14 = models.DecimalField(max_digits=24, decimal_places=8)
    valid_from_ts_ms = models.BigIntegerField()
    range_low = models.DecimalField(max_digits=24, decimal_places=8)  # padded by CONFLUENCE_PAD_BINS
    range_high = models.DecimalField(max_digits=24, decimal_places=8)
    touch_ts_ms = models.BigIntegerField()
    touch_price = models.DecimalField(max_digits=24, decimal_places=8)
    backed = models.BooleanField(null=True)
    backing_zone_ids = models.JSONField(default=list)
    backing_score = models.FloatField(null=True)
    offsets_ms = models.JSONField(default=list)  # the snapshot steps it was recorded with
    horizons_ms = models.JSONField(default=list)  # the outcome horizons it was recorded with
    snapshots = models.JSONField(default=list)  # [{at_ms, taken_ms, qty, notional, note} | null]
    zones = models.JSONField(default=list)  # [{id, price_low, price_high, first_status, event, ts_ms}]
    extreme_price = models.DecimalField(max_digits=24, decimal_places=8)
    moved_away_ts_ms = models.BigIntegerField(null=True)
    invalidated_ts_ms = models.BigIntegerField(null=True)
    outcomes = models.JSONField(default=list)  # one per horizon: "held" | ... | null (pending)
    state = models.CharField(max_length=8)  # ReactionState
    reason = models.TextField(default="")
    notes = models.JSONField(default=list)
    watched_until_ms = models.BigIntegerField()  # the service followed it up to here
    updated_ts_ms = models.BigIntegerField()

    class Meta:
        db_table = "orderblock_reactions"
        indexes = [
            models.Index(fields=["symbol", "touch_ts_ms"], name="reactions_symbol_touch"),
            models.Index(fields=["state"], name="reactions_state"),
        ]
