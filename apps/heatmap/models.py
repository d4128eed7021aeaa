"""Heatmap columns (derived, small, rolling) and the latest depth profile. No raw book data."""

from __future__ import annotations

from django.db import models


class HeatmapColumn(models.Model):
    """One finished column: HEATMAP_COLUMN_S of live cycles binned on one grid, kept for
    HEATMAP_RETENTION_H. ``data``: little-endian float32 bid means, bid maxima, ask means, ask
    maxima (apps/heatmap/domain/packing.py); NaN = a bin the column did not observe."""

    symbol = models.CharField(max_length=20)
    bin_size = models.DecimalField(max_digits=24, decimal_places=8)
    column_s = models.IntegerField()
    t = models.BigIntegerField()  # UTC seconds at which the column starts
    live_cycles = models.IntegerField()
    bid_first = models.BigIntegerField()  # bin index of the first bid value (its lower edge / bin_size)
    bid_count = models.IntegerField()
    ask_first = models.BigIntegerField()
    ask_count = models.IntegerField()
    data = models.BinaryField()

    class Meta:
        db_table = "heatmap_columns"
        # one column per grid and start: writing a column again changes nothing; the range reads
        # of the API use this index
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "bin_size", "column_s", "t"], name="heatmap_column_unique"
            )
        ]


class HeatmapDepth(models.Model):
    """The latest depth profile of a symbol (the overlay state's ``depth``): one row, rewritten
    every live cycle, and once with live=false when the book stops being live."""

    symbol = models.CharField(max_length=20, unique=True)
    ts_ms = models.BigIntegerField()
    profile = models.TextField()  # the JSON of apps.heatmap.presentation.depth_overlay

    class Meta:
        db_table = "heatmap_depth"
