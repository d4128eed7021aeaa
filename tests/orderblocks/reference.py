"""A literal, slow, loop-by-loop transcription of the order-block rules, used to check the vectorised
engine. Bullish and bearish are written out separately (the engine derives bearish by negation)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RefBlock:
    direction: str
    ob: int
    bos: int
    swing: int
    low: float
    high: float
    level: float
    touched: int  # -1 none
    invalid: int  # -1 none


def ref_atr(h, lo, c, period=14, method="wilder"):
    n = len(h)
    tr = []
    for i in range(n):
        if i == 0:
            tr.append(h[0] - lo[0])
        else:
            tr.append(max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])))
    atr = [math.nan] * n
    for i in range(period - 1, n):
        if method == "sma":
            atr[i] = sum(tr[i - period + 1 : i + 1]) / period
        elif i == period - 1:
            atr[i] = sum(tr[:period]) / period
        else:
            atr[i] = (atr[i - 1] * (period - 1) + tr[i]) / period
    return atr


def reference_blocks(o, h, lo, c, *, period=14, method="wilder", n=3, k=1.2, mode="conservative"):
    size = len(c)
    atr = ref_atr(h, lo, c, period, method)
    found: dict[tuple[str, int], RefBlock] = {}

    def strong(i):
        return not math.isnan(atr[i]) and h[i] - lo[i] >= k * atr[i]

    # bullish
    last = None
    broken = set()
    for t in range(size):
        s = t - n
        if s >= n and h[s] == max(h[s - n : s + n + 1]):
            last = s
        if last is None or last in broken or not c[t] > h[last]:
            continue
        broken.add(last)
        leg = range(last + 1, t + 1)
        origin = min(leg, key=lambda i: (lo[i], -i))
        disp = next((i for i in range(origin, t + 1) if c[i] > o[i] and strong(i)), None)
        if disp is None:
            continue
        ob = next((i for i in range(disp - 1, last, -1) if c[i] < o[i]), None)
        if ob is None:
            continue
        zlow, zhigh = lo[ob], (o[ob] if mode == "conservative" else h[ob])
        if any(c[j] < zlow for j in range(ob + 1, t + 1)):
            continue
        if ("bullish", ob) in found:
            continue
        touched = invalid = -1
        for j in range(t + 1, size):
            if c[j] < zlow:
                invalid = j
                break
            if touched < 0 and lo[j] <= zhigh and h[j] >= zlow:
                touched = j
        found[("bullish", ob)] = RefBlock("bullish", ob, t, last, zlow, zhigh, h[last], touched, invalid)

    # bearish
    last = None
    broken = set()
    for t in range(size):
        s = t - n
        if s >= n and lo[s] == min(lo[s - n : s + n + 1]):
            last = s
        if last is None or last in broken or not c[t] < lo[last]:
            continue
        broken.add(last)
        leg = range(last + 1, t + 1)
        origin = max(leg, key=lambda i: (h[i], i))
        disp = next((i for i in range(origin, t + 1) if c[i] < o[i] and strong(i)), None)
        if disp is None:
            continue
        ob = next((i for i in range(disp - 1, last, -1) if c[i] > o[i]), None)
        if ob is None:
            continue
        zlow, zhigh = (o[ob] if mode == "conservative" else lo[ob]), h[ob]
        if any(c[j] > zhigh for j in range(ob + 1, t + 1)):
            continue
        if ("bearish", ob) in found:
            continue
        touched = invalid = -1
        for j in range(t + 1, size):
            if c[j] > zhigh:
                invalid = j
                break
            if touched < 0 and lo[j] <= zhigh and h[j] >= zlow:
                touched = j
        found[("bearish", ob)] = RefBlock("bearish", ob, t, last, zlow, zhigh, lo[last], touched, invalid)

    return sorted(found.values(), key=lambda b: (b.bos, b.direction != "bullish"))
