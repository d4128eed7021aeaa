"""Which blocks' confluence to push: only what moved beyond a rounding step. Pure.

The book changes every cycle, so a block's resting quantity and score do too; pushing each of them
every second would churn every client for nothing. A block is pushed again only when:
- it became measurable or unknown (``None`` <-> a reading), or
- its overlapping zones or its ``backed`` flag changed, or
- its quantity, score or one-hour average moved by at least ``change_step`` of the value last pushed:
  CONFLUENCE_CHANGE_PCT (10) percent of it (from 0 or None, any change; 0 % pushes any change).
  Measured from the value last pushed, not from the previous cycle, so a slow drift is pushed once it
  adds up, and a value wobbling around a boundary is not pushed at each wobble.
``SentReadings`` applies ``reading_changed`` to every block at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from apps.confluence.domain.measure import Reading, Readings

DEFAULT_FRACTION = 0.1


def change_step_units(value: int, fraction: float = DEFAULT_FRACTION) -> int:
    """The step of a whole number of units: ``fraction`` of it, at least one unit."""
    return max(1, int(abs(value) * fraction))


def change_step(value: float, fraction: float = DEFAULT_FRACTION) -> float:
    """The step of a float: ``fraction`` of it (0 for 0: any change counts)."""
    return abs(value) * fraction


def moved_units(sent: int, now: int, fraction: float = DEFAULT_FRACTION) -> bool:
    return now != sent and abs(now - sent) >= change_step_units(sent, fraction)


def moved(sent: float | None, now: float | None, fraction: float = DEFAULT_FRACTION) -> bool:
    if sent is None or now is None:
        return sent is not now
    return now != sent and abs(now - sent) >= change_step(sent, fraction)


def reading_changed(sent: Reading | None, now: Reading | None, fraction: float = DEFAULT_FRACTION) -> bool:
    """Whether a block's reading differs from the one last pushed by more than the steps."""
    if sent is None or now is None:
        return sent is not now
    return (
        sent.zones != now.zones
        or sent.backed != now.backed
        or moved_units(sent.qty, now.qty, fraction)
        or moved(sent.score, now.score, fraction)
        or moved(sent.avg_1h, now.avg_1h, fraction)
    )


class SentReadings:
    """The readings last pushed for the blocks, by position, as arrays, so a cycle tells
    which blocks to push with a few array operations (``changed``: ``reading_changed`` for every
    block at once) instead of a comparison per block."""

    def __init__(self, size: int, fraction: float = DEFAULT_FRACTION) -> None:
        self.fraction = fraction
        self.known = np.zeros(size, dtype=bool)
        self.qty = np.zeros(size, dtype=np.int64)
        self.qty_step = np.ones(size, dtype=np.int64)
        self.score = np.full(size, np.nan)
        self.score_step = np.zeros(size)
        self.avg = np.full(size, np.nan)
        self.avg_step = np.zeros(size)
        self.backed = np.zeros(size, dtype=bool)
        self.zones: dict[int, tuple[str, ...]] = {}

    @classmethod
    def of(
        cls, keys: Sequence[str], sent: Mapping[str, Reading], fraction: float = DEFAULT_FRACTION
    ) -> SentReadings:
        """For a (new) block list: the readings pushed last for those of its blocks that have one."""
        out = cls(len(keys), fraction)
        for at, key in enumerate(keys):
            reading = sent.get(key)
            if reading is not None:
                out.record(at, reading)
        return out

    def record(self, at: int, reading: Reading | None) -> None:
        """Remember what was pushed for the block at ``at`` (None: unknown)."""
        self.zones.pop(at, None)
        if reading is None:
            self.known[at] = False
            return
        self.known[at], self.backed[at] = True, reading.backed
        self.qty[at], self.qty_step[at] = reading.qty, change_step_units(reading.qty, self.fraction)
        for values, steps, value in (
            (self.score, self.score_step, reading.score),
            (self.avg, self.avg_step, reading.avg_1h),
        ):
            values[at] = np.nan if value is None else value
            steps[at] = 0.0 if value is None else change_step(value, self.fraction)
        if reading.zones:
            self.zones[at] = reading.zones

    def changed(self, now: Readings) -> list[int]:
        """The positions whose reading ``now`` differs from the one pushed (``reading_changed``)."""
        known = now.known
        with np.errstate(invalid="ignore"):  # inf - inf is NaN: not moved
            moved = (
                (np.abs(now.qty - self.qty) >= self.qty_step)  # the step is at least 1: a change
                | (now.backed != self.backed)
                | _moved_floats(self.score, self.score_step, now.score)
                | _moved_floats(self.avg, self.avg_step, now.avg_1h)
            )
        moved &= known & self.known
        moved |= known != self.known
        for at in {*self.zones, *now.zones}:
            if known[at] and self.known[at] and self.zones.get(at, ()) != now.zones.get(at, ()):
                moved[at] = True
        return moved.nonzero()[0].tolist()


def _moved_floats(sent: np.ndarray, steps: np.ndarray, now: np.ndarray) -> np.ndarray:
    """``moved`` elementwise (NaN = None): one is None, or they differ by at least the step."""
    apart = np.abs(now - sent)  # NaN where either is None
    return (np.isnan(sent) != np.isnan(now)) | ((apart >= steps) & (apart > 0))
