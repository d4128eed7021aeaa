"""What an alert is. Pure.

An ``Alert`` is one thing a trader wants to hear about the moment it happens (a rule fired, see
apps/alerts/domain/rules.py). Its ``key`` is derived from what fired (symbol, rule, object, the
event's time), so the same event always yields the same key: it is the row's unique key in storage
(an event seen twice is stored once) and the webhook's idempotency key (a receiver that sees a
retried delivery can drop it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Rule(StrEnum):
    """The ``rule`` of an alert: the very string the API, the push and the ``rule`` column carry."""

    ORDERBLOCK_ENTERED = "orderblock_entered"  # price entered a fresh order block
    ZONE_PULLED_IN_BLOCK = "zone_pulled_in_block"  # a confirmed zone in/next to an active block was pulled
    ZONE_BROKEN_IN_BLOCK = "zone_broken_in_block"  # ... or broken
    ZONE_CONFIRMED_NEAR_MID = "zone_confirmed_near_mid"  # a new strong confirmed zone near mid
    BOOK_STALE = "book_stale"  # the book has not been live for longer than ALERT_STALE_S
    BOOK_RECOVERED = "book_recovered"  # ... and is live again


TITLES: dict[Rule, str] = {
    Rule.ORDERBLOCK_ENTERED: "Price entered an order block",
    Rule.ZONE_PULLED_IN_BLOCK: "Zone pulled in an order block",
    Rule.ZONE_BROKEN_IN_BLOCK: "Zone broken in an order block",
    Rule.ZONE_CONFIRMED_NEAR_MID: "Strong zone confirmed near mid",
    Rule.BOOK_STALE: "Order book not live",
    Rule.BOOK_RECOVERED: "Order book live again",
}


def alert_key(symbol: str, rule: str, object_id: str, event_ts_ms: int) -> str:
    """The alert's idempotency key: the same event always gives the same 32 hex digits."""
    text = f"{symbol}|{rule}|{object_id}|{event_ts_ms}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, with the field names of the ``alerts`` table."""

    key: str
    symbol: str
    rule: Rule
    object_id: str  # what it is about: an order-block id, a zone id, "book"
    ts_ms: int  # when the event happened (a trade's time, the cycle a zone ended, ...)
    title: str
    text: str  # one line a person reads: what happened, where
    details: Mapping[str, Any] = field(default_factory=dict)  # JSON-ready: decimals as strings


def make_alert(
    symbol: str, rule: Rule, object_id: str, ts_ms: int, text: str, details: Mapping[str, Any]
) -> Alert:
    return Alert(
        key=alert_key(symbol, rule, object_id, ts_ms),
        symbol=symbol,
        rule=rule,
        object_id=object_id,
        ts_ms=ts_ms,
        title=TITLES[rule],
        text=text,
        details=dict(details),
    )
