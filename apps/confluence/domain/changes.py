"""Which blocks' confluence to push: only what moved beyond a rounding step. Pure.

The book changes every cycle, so a block's resting quantity and score do too, by a little; pushing
each of them every second would churn every client for nothing. A block is pushed again only when:
- it became measurable or unknown (``None`` <-> a reading), or
- its overlapping zones or its ``backed`` flag changed, or
- its quantity, score or one-hour average moved by at least ``change_step`` of the value last pushed:
  one unit of that value's second significant digit (12.4 -> 1, 5.1 -> 0.1, 0.35 -> 0.01; from 0 or
  None, any change). Measured from the value last pushed, not from the previous cycle, so a slow
  drift is pushed once it adds up, and a value wobbling around a rounding boundary is not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from apps.confluence.domain.measure import Reading

SIGNIFICANT_DIGITS = 2


def change_step_units(value: int) -> int:
    """One unit of the second significant digit of a whole number (1 for values below 100)."""
    digits = len(str(abs(value)))
    return 10 ** max(0, digits - SIGNIFICANT_DIGITS)


def change_step(value: float) -> float:
    """One unit of the second significant digit of a float (0 for 0: any change counts)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return 10.0 ** (math.floor(math.log10(abs(value))) - (SIGNIFICANT_DIGITS - 1))


def moved_units(sent: int, now: int) -> bool:
    return abs(now - sent) >= change_step_units(sent) if now != sent else False


def moved(sent: float | None, now: float | None) -> bool:
    if sent is None or now is None:
        return sent is not now
    if now == sent:
        return False
    step = change_step(sent)
    return step == 0 or abs(now - sent) >= step


def reading_changed(sent: Reading | None, now: Reading | None) -> bool:
    """Whether a block's reading differs from the one last pushed by more than the rounding steps."""
    if sent is None or now is None:
        return sent is not now
    return (
        sent.zones != now.zones
        or sent.backed != now.backed
        or moved_units(sent.qty, now.qty)
        or moved(sent.score, now.score)
        or moved(sent.avg_1h, now.avg_1h)
    )


def changed_keys(sent: Mapping[str, Reading], now: Mapping[str, Reading]) -> list[str]:
    """The blocks to push: every block of ``now`` (this cycle's readings, unknown blocks absent) whose
    reading changed against ``sent`` (the readings last pushed, unknown ones absent), then every block
    of ``sent`` that ``now`` does not have (now unknown, or gone: it is pushed as unknown)."""
    changed = [key for key, reading in now.items() if reading_changed(sent.get(key), reading)]
    changed += [key for key in sent if key not in now]
    return changed
