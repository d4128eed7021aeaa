"""The alert rules, one function each, and the cooldown. Pure: plain values in, a decision out.

- ``price_entered_block``: price enters an order block's range: the previous price was outside it and
  the move to this trade's price reaches it (lands inside or passes through, so a jump over a narrow
  block between two trades still counts).
- ``zone_near_block``: a zone is inside an order block or within one zone bin of it: their price
  ranges overlap once the block is widened by ``bin_size`` on each side (edges count).
- ``confirmed_zone_near_mid``: a zone's strength is at least ``min_strength`` and its nearest edge is
  within ``near_pct`` percent of mid (0 when mid is inside it).
- ``book_not_live_too_long``: the book has not been live for more than ``stale_s`` seconds.
- ``Cooldown``: a rule fires for one object (a block, a zone, the book) at most once per
  ``cooldown_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apps.alerts.domain.alert import Rule

MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class AlertParams:
    symbol: str
    orderblock_entered: bool = True  # ALERT_RULE_ORDERBLOCK_ENTERED
    zone_ended_in_block: bool = True  # ALERT_RULE_ZONE_ENDED_IN_BLOCK
    zone_confirmed_near_mid: bool = True  # ALERT_RULE_ZONE_CONFIRMED_NEAR_MID
    book_stale: bool = True  # ALERT_RULE_BOOK_STALE (the stale alert and its recovery)
    min_strength: float = 8.0
    near_pct: Decimal = Decimal("0.5")
    stale_s: float = 30.0
    cooldown_s: float = 300.0
    bin_size: Decimal = Decimal("50")  # the zones' bin (ZONE_BIN_SIZE): "within one bin"

    @classmethod
    def from_config(cls, config: Any) -> AlertParams:
        return cls(
            symbol=config.symbol,
            orderblock_entered=bool(config.alert_rule_orderblock_entered),
            zone_ended_in_block=bool(config.alert_rule_zone_ended_in_block),
            zone_confirmed_near_mid=bool(config.alert_rule_zone_confirmed_near_mid),
            book_stale=bool(config.alert_rule_book_stale),
            min_strength=float(config.alert_min_strength),
            near_pct=Decimal(config.alert_near_pct),
            stale_s=float(config.alert_stale_s),
            cooldown_s=float(config.alert_cooldown_s),
            bin_size=Decimal(config.zone_bin_size),
        )

    def enabled(self, rule: Rule) -> bool:
        if rule == Rule.ORDERBLOCK_ENTERED:
            return self.orderblock_entered
        if rule in (Rule.ZONE_PULLED_IN_BLOCK, Rule.ZONE_BROKEN_IN_BLOCK):
            return self.zone_ended_in_block
        if rule == Rule.ZONE_CONFIRMED_NEAR_MID:
            return self.zone_confirmed_near_mid
        return self.book_stale


def price_entered_block(previous: Decimal | None, price: Decimal, low: Decimal, high: Decimal) -> bool:
    """Price entered [low, high] with this trade: it was outside before and the move from
    ``previous`` to ``price`` reaches the range. No previous price: nothing to enter from."""
    if previous is None or low <= previous <= high:
        return False
    return min(previous, price) <= high and max(previous, price) >= low


def zone_near_block(
    zone_low: Decimal, zone_high: Decimal, block_low: Decimal, block_high: Decimal, bin_size: Decimal
) -> bool:
    """The zone lies inside the block or within one bin of it (the ranges, the block widened by one
    bin on each side, overlap or touch)."""
    return zone_low <= block_high + bin_size and zone_high >= block_low - bin_size


def distance_pct(low: Decimal, high: Decimal, mid: Decimal) -> Decimal:
    """How far the range's nearest edge is from mid, in percent of mid (0 when mid is inside)."""
    if low <= mid <= high:
        return Decimal(0)
    return min(abs(low - mid), abs(high - mid)) * 100 / mid


def confirmed_zone_near_mid(
    zone_low: Decimal,
    zone_high: Decimal,
    strength: float,
    mid: Decimal,
    min_strength: float,
    near_pct: Decimal,
) -> bool:
    return strength >= min_strength and mid > 0 and distance_pct(zone_low, zone_high, mid) <= near_pct


def book_not_live_too_long(not_live_since_ms: int | None, now_ms: int, stale_s: float) -> bool:
    """Not live for more than ``stale_s`` seconds (``not_live_since_ms`` None: live now)."""
    return not_live_since_ms is not None and now_ms - not_live_since_ms > stale_s * MS_PER_S


class Cooldown:
    """When each (rule, object) last fired; a firing within ``cooldown_s`` of the last is held back."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_ms = cooldown_s * MS_PER_S
        self._last: dict[tuple[str, str], int] = {}

    def allows(self, rule: str, object_id: str, now_ms: int) -> bool:
        last = self._last.get((rule, object_id))
        return last is None or now_ms - last >= self.cooldown_ms

    def note(self, rule: str, object_id: str, now_ms: int) -> None:
        last = self._last.get((rule, object_id))
        if last is None or now_ms > last:
            self._last[(rule, object_id)] = now_ms

    def forget_expired(self, now_ms: int) -> None:
        """Drop entries whose cooldown is over (they allow anyway): memory stays bounded."""
        self._last = {k: t for k, t in self._last.items() if now_ms - t < self.cooldown_ms}

    def __len__(self) -> int:
        return len(self._last)
