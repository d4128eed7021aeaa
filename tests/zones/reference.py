"""A deliberately naive, line-by-line reading of the zone rules, used as an oracle in tests.

No numpy, no cleverness: bins in a dict, the median by ``statistics.median`` over an explicitly
clipped window, walls merged in a plain loop.
"""

from __future__ import annotations

import math
import statistics
from decimal import ROUND_HALF_UP, Decimal

from apps.zones.domain.detection import ZoneParams


def reference_zones(bids, asks, trusted_window, params: ZoneParams):
    """[(side, price_low, price_high, notional, [wall bin indices])] for both sides."""
    bids = [(p, q) for p, q in bids if q > 0]
    asks = [(p, q) for p, q in asks if q > 0]
    best_bid = max(p for p, _ in bids)
    best_ask = min(p for p, _ in asks)
    mid = (best_bid + best_ask) / 2
    low = mid * (1 - params.range_pct / 100)
    high = mid * (1 + params.range_pct / 100)
    if trusted_window is not None:
        low = max(low, trusted_window[0])
        high = min(high, trusted_window[1])
    result = []
    for side, levels in (
        ("bid", [(p, q) for p, q in bids if p >= low]),
        ("ask", [(p, q) for p, q in asks if p <= high]),
    ):
        result.extend(_side(side, levels, params))
    return result


def _index(price: Decimal, side: str, params: ZoneParams) -> int:
    ratio = price / params.bin_size
    if params.rounding == "half_up":
        return int(ratio.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return math.floor(ratio) if side == "bid" else math.ceil(ratio)


def _bounds(index: int, side: str, params: ZoneParams):
    b = params.bin_size
    if params.rounding == "half_up":
        return index * b - b / 2, index * b + b / 2
    return (index * b, (index + 1) * b) if side == "bid" else ((index - 1) * b, index * b)


def _side(side, levels, params: ZoneParams):
    if not levels:
        return []
    vol: dict[int, Decimal] = {}
    notional: dict[int, Decimal] = {}
    for p, q in levels:
        i = _index(p, side, params)
        vol[i] = vol.get(i, Decimal(0)) + (q if params.volume_mode == "qty" else q * p)
        notional[i] = notional.get(i, Decimal(0)) + q * p
    first, last = min(vol), max(vol)
    series = {i: float(vol.get(i, 0)) for i in range(first, last + 1)}
    walls = []
    for i in range(first, last + 1):
        window = [
            series[j] for j in range(i - params.baseline_k, i + params.baseline_k + 1) if first <= j <= last
        ]
        baseline = statistics.median(window)
        score = series[i] / max(baseline, params.baseline_eps)
        if score >= params.wall_multiplier and series[i] > 0:
            walls.append(i)
    groups: list[list[int]] = []
    for i in walls:
        if groups and i - groups[-1][-1] - 1 <= params.max_gap_bins:
            groups[-1].append(i)
        else:
            groups.append([i])
    zones = []
    for group in groups:
        lows, highs = zip(*(_bounds(i, side, params) for i in group), strict=True)
        zones.append((side, min(lows), max(highs), sum(notional[i] for i in group), group))
    return zones
