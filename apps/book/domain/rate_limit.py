"""REST request-weight accounting shared by every Binance REST call. Pure: time is passed in.

- Weight: Binance counts request weight per minute (6000 for spot) and reports what is used in
  `X-MBX-USED-WEIGHT-1M`; the budget is seeded from that header and keeps a reserve free.
- Bans: a 429 or 418 carries `Retry-After`; until it expires no REST call of any kind is made.
- Snapshots: `SnapshotPacing` spaces consecutive snapshot requests (0.5 s doubling to 30 s, reset
  once the book stayed live for a minute), so a storm of gaps costs at most ~2,000 weight in its first
  minute and 500 a minute after that: the weight budget, not a snapshot count, is the only limit.

Worst case once the exchange is healthy again (and its last Retry-After has run out): the pending pause
(at most the cap, 30 s) plus one snapshot request, then the book is live.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


def depth_weight(limit: int) -> int:
    """Binance's request weight of GET /api/v3/depth for a given `limit` (documented table)."""
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


@dataclass
class WeightBudget:
    limit_per_minute: int = 6000
    reserve: int = 1000
    used: int = 0
    minute: int = -1
    blocked_until: float = 0.0
    block_reason: str = ""
    bans_429: int = 0
    bans_418: int = 0
    _snapshot_times: deque[float] = field(default_factory=deque)

    def _roll(self, now: float) -> None:
        minute = int(now // 60)
        if minute != self.minute:
            self.minute = minute
            self.used = 0

    def wait_for(self, weight: int, now: float) -> float:
        """Seconds to wait before a request of `weight` may be sent (0 = send now)."""
        if now < self.blocked_until:
            return self.blocked_until - now
        self._roll(now)
        if self.used + weight > self.limit_per_minute - self.reserve:
            return (self.minute + 1) * 60 - now
        return 0.0

    def spend(self, weight: int, now: float, *, snapshot: bool = False) -> None:
        self._roll(now)
        self.used += weight
        if snapshot:
            self._snapshot_times.append(now)
            while self._snapshot_times and self._snapshot_times[0] <= now - 600:
                self._snapshot_times.popleft()

    def observe_used(self, used_weight: int, now: float) -> None:
        """Seed from the exchange's `X-MBX-USED-WEIGHT-1M` header (the exchange is authoritative)."""
        self._roll(now)
        self.used = max(self.used, used_weight)

    def block(self, retry_after_s: float, now: float, reason: str) -> None:
        """A 429/418: no REST call of any kind before `now + retry_after_s`."""
        if reason == "418":
            self.bans_418 += 1
        elif reason == "429":
            self.bans_429 += 1
        until = now + max(retry_after_s, 0.0)
        if until > self.blocked_until:
            self.blocked_until = until
            self.block_reason = reason

    def adopt_exchange_limit(self, limit_per_minute: int) -> None:
        """The exchange's own REQUEST_WEIGHT per minute (exchangeInfo rateLimits) replaces the setting."""
        if limit_per_minute > self.reserve:
            self.limit_per_minute = limit_per_minute

    def snapshots_in_window(self, now: float) -> int:
        return sum(1 for t in self._snapshot_times if t > now - 600)


@dataclass
class SnapshotPacing:
    """The pause before each depth snapshot request: 0 for the first, then `base_s` doubling up to
    `cap_s` for each further one (a resync after a resync, a retry after a failure, a snapshot too old),
    until the book has stayed live for `reset_after_live_s`. No jitter: one client, and the bound on
    weight and on recovery time must hold for every draw."""

    base_s: float = 0.5
    cap_s: float = 30.0
    reset_after_live_s: float = 60.0
    requests: int = 0  # snapshot requests since the last reset
    live_since: float | None = None

    def went_live(self, now: float) -> None:
        self.live_since = now

    def next_pause(self, now: float) -> float:
        """Seconds to wait before the next snapshot request (counts the request)."""
        if self.live_since is not None and now - self.live_since >= self.reset_after_live_s:
            self.requests = 0
        self.live_since = None
        pause = 0.0 if self.requests == 0 else min(self.cap_s, self.base_s * 2 ** min(self.requests - 1, 32))
        self.requests += 1
        return pause
