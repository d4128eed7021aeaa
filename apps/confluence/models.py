"""The latest confluence of the order blocks: what the streamer last pushed, for the API and snapshots."""

from __future__ import annotations

from django.db import models


class ConfluenceState(models.Model):
    """One row per symbol, rewritten whenever a block's confluence was pushed (or the reason it is not
    computed changed). ``document``: the JSON of apps.confluence.presentation.state_document: whether
    confluence is computed and why, and {block id: {"liquidity", "backed"}} of the blocks whose
    liquidity is known (any other block: liquidity null, not backed)."""

    symbol = models.CharField(max_length=20, unique=True)
    ts_ms = models.BigIntegerField()
    document = models.TextField()

    class Meta:
        db_table = "orderblock_confluence"
