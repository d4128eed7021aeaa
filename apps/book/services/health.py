"""The `stream` section of /api/health, collected from the streamer's parts at each publication.

Its keys are part of the API: the page, the soaks and the tests read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apps.book.domain.events import Side
from apps.book.domain.sync import DepthSynchronizer
from apps.book.services.book_session import BookSession
from apps.book.services.connection import Connections
from apps.book.services.connection_loop import ConnectionLoop
from apps.book.services.frame_router import FrameRouter
from apps.book.services.handover import MakeBeforeBreak
from apps.book.services.publish_loop import PublicationLoop
from apps.book.services.rest_client import BinanceRestClient
from apps.book.services.status import StreamStatus
from apps.book.services.watchdog import Watchdog
from apps.json_http.decimal_text import decimal_text


@dataclass(frozen=True)
class HealthCollector:
    symbol: str
    sync: DepthSynchronizer
    status: StreamStatus
    watchdog: Watchdog
    connections: Connections
    connection: ConnectionLoop
    handover: MakeBeforeBreak
    session: BookSession
    router: FrameRouter
    publication: PublicationLoop
    rest: BinanceRestClient
    # named entries other components add (e.g. "zones": why zones are paused), read at each call
    sections: Mapping[str, Callable[[], Any]]

    def collect(self) -> dict[str, Any]:
        sync, book = self.sync, self.sync.book
        window = book.trusted_window if sync.ready else None
        connection_age = self.connections.age()
        return {
            "symbol": self.symbol,
            "state": sync.state.value,
            "status": self.status.current,
            **self.status.details(),
            "update_id": book.update_id if sync.ready else None,
            "levels": {"bids": book.depth(Side.BID), "asks": book.depth(Side.ASK)},
            "last_event_age_s": round(self.watchdog.age(), 3),
            "last_event_ms": self.watchdog.last_event_ms,
            "connected_since_ms": self.connections.connected_since_ms,
            "connection_age_s": round(connection_age, 1) if connection_age is not None else None,
            "reconnects": dict(self.connection.reconnects),
            "resyncs": dict(sync.resyncs),
            "splices": sync.splices,
            "handovers": self.handover.handovers,
            "snapshots": self.session.snapshots_fetched,
            "snapshots_too_old": self.session.snapshots_too_old,
            "events_applied": sync.events_applied,
            "events_ignored": dict(sync.ignored),
            "buffered": sync.buffered,
            "frames": dict(self.router.frames),
            "bad_frames": dict(self.router.bad_frames),
            "listener_errors": dict(self.publication.listener_errors),
            "last_backoff_s": round(self.connection.last_backoff_s, 3),
            "published": self.publication.published,
            "storage": self.publication.failures.as_dict(),
            "rest": rest_health(self.rest),
            "trusted_window": [decimal_text(window[0]), decimal_text(window[1])] if window else None,
            **{name: section() for name, section in self.sections.items()},
        }


def rest_health(rest: BinanceRestClient) -> dict[str, Any]:
    """The REST client's weight budget, read on the client's own clock."""
    budget, now = rest.budget, rest.monotonic()
    return {
        "weight_used_1m": budget.used,
        "weight_limit_1m": budget.limit_per_minute,
        "requests": rest.counters.get("requests", 0),
        "retries": rest.counters.get("retries", 0),
        "count_429": budget.bans_429,
        "count_418": budget.bans_418,
        "blocked_for_s": round(max(0.0, budget.blocked_until - now), 3),
        "snapshots_last_10min": budget.snapshots_in_window(now),
    }
