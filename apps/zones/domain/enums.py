"""The zone statuses. Pure.

A ``StrEnum``: each member is the very string the API, the push messages, the logs and the
``status`` columns carry ("candidate", "confirmed", ...), so it compares, hashes and serialises as
that string. The book side of a zone is ``apps.book.domain.events.Side`` ("bid" / "ask").
"""

from __future__ import annotations

from enum import StrEnum


class ZoneStatus(StrEnum):
    CANDIDATE = "candidate"  # seen, not (yet) confirmed
    CONFIRMED = "confirmed"  # persisted and strong long enough; never revoked
    BROKEN = "broken"  # gone with trades at/through it or the mid reaching it; lingers
    PULLED = "pulled"  # gone without that (the spoofing signal); lingers
    DISCARDED = "discarded"  # gone after living < discard_s: history only, leaves at once
    MERGED = "merged"  # gone into a zone that now covers it: history only, leaves at once
    EXPIRED = "expired"  # a transition's end only (lingered linger_s and left); never stored


LIVE_STATUSES: tuple[ZoneStatus, ...] = (ZoneStatus.CANDIDATE, ZoneStatus.CONFIRMED)
ENDED_STATUSES: tuple[ZoneStatus, ...] = (ZoneStatus.BROKEN, ZoneStatus.PULLED)  # linger, then leave
CURRENT_STATUSES: tuple[ZoneStatus, ...] = (*LIVE_STATUSES, *ENDED_STATUSES)  # orderbook_zones_current
