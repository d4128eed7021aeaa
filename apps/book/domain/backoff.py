"""Exponential reconnect backoff with full jitter (AWS style). Pure: randomness is passed in."""

from __future__ import annotations

import random


class Backoff:
    """delay(n) = uniform(0, min(cap, base * 2**n)); `reset()` after a connection proved healthy."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self) -> float:
        return min(self.cap_s, self.base_s * (2 ** min(self.attempt, 32)))

    def next_delay(self) -> float:
        delay = self._rng.uniform(0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
