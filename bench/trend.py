"""Is a quantity still growing at the end of a long run? The least-squares slope over the last half.

A leak keeps a steady slope to the end; caches filling up and allocator fragmentation grow early and
flatten out, so the first half (which holds the warm-up) is left out of the fit.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def last_half_slope_per_hour(samples: Sequence[tuple[float, float]]) -> float | None:
    """(seconds, value) samples -> value units per hour over the samples at or after half the last
    sample's time; None with fewer than 3 such samples or when they all share one time."""
    if not samples:
        return None
    half = samples[-1][0] / 2
    points = [(t, value) for t, value in samples if t >= half]
    if len(points) < 3:
        return None
    try:
        fit = statistics.linear_regression([t for t, _ in points], [value for _, value in points])
    except statistics.StatisticsError:  # every sample at the same time
        return None
    return fit.slope * 3600
