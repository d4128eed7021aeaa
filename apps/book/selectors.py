"""Reads of what the streamer published (any process can read; only the streamer writes)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError

from apps.book.models import PublishedBook
from apps.core.database_state import database_file_problem, error_line

BOOK_LIMIT_CAP = 100


def _effective_status(row: PublishedBook, now_ms: int) -> str:
    if row.status == "live" and now_ms - row.ts_ms > settings.CONFIG.stale_after_s * 1000:
        return "stale"
    return row.status


def _latest_row(symbol: str) -> PublishedBook | None:
    return PublishedBook.objects.filter(symbol=symbol).first()


def published_book(symbol: str, limit: int = 100, now_ms: int | None = None) -> dict[str, Any] | None:
    """The latest published book, top `limit` per side, or None before the first publication."""
    row = _latest_row(symbol)
    if row is None:
        return None
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return {
        "symbol": row.symbol,
        "update_id": row.update_id,
        "ts_ms": row.ts_ms,
        "status": _effective_status(row, now_ms),
        "bids": row.bids[:limit],
        "asks": row.asks[:limit],
    }


def book_document(symbol: str, limit: int) -> dict[str, Any]:
    """GET /api/book: the published book, or an empty "connecting" book before the first one."""
    data = published_book(symbol, limit)
    if data is None:
        return {
            "symbol": symbol,
            "update_id": None,
            "ts_ms": None,
            "status": "connecting",
            "bids": [],
            "asks": [],
        }
    return data


def _details_of(row: PublishedBook, status: str, now_ms: int) -> dict[str, Any]:
    """Since when, why, which attempt, the last error: as the streamer wrote them, except when its
    publications stopped (the row reads stale by age): then since its last publication."""
    health = row.health or {}
    details = {
        "since_ms": health.get("since_ms"),
        "reason": health.get("reason") or "",
        "attempt": health.get("attempt") or 0,
        "last_error": health.get("last_error"),
    }
    if status == "stale" and row.status == "live":
        details["since_ms"] = row.ts_ms
        details["reason"] = f"no publication for {(now_ms - row.ts_ms) // 1000} s"
    return details


def _status_of(symbol: str, row: PublishedBook | None, now_ms: int | None) -> dict[str, Any]:
    if row is None:
        return {
            "symbol": symbol,
            "status": "connecting",
            "update_id": None,
            "ts_ms": None,
            "age_s": None,
            "best_bid": None,
            "best_ask": None,
            "since_ms": None,
            "reason": "",
            "attempt": 0,
            "last_error": None,
        }
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    status = _effective_status(row, now_ms)
    return {
        "symbol": symbol,
        "status": status,
        "update_id": row.update_id,
        "ts_ms": row.ts_ms,
        "age_s": round((now_ms - row.ts_ms) / 1000, 3),
        "best_bid": row.bids[0][0] if row.bids else None,
        "best_ask": row.asks[0][0] if row.asks else None,
        **_details_of(row, status, now_ms),
    }


def stream_status(symbol: str, now_ms: int | None = None) -> dict[str, Any]:
    """{"status", "update_id", "ts_ms", "age_s", "best_bid", "best_ask", "since_ms", "reason", "attempt",
    "last_error"}; "connecting" before any data."""
    return _status_of(symbol, _latest_row(symbol), now_ms)


def missed_publications(age_s: float | None, interval_ms: int) -> int:
    """Publication cycles that should have written the row since it was last written: its age in
    intervals, less the one under way. A failing database (or a stopped streamer) makes it grow."""
    if age_s is None:
        return 0
    return max(0, int(age_s * 1000 // interval_ms) - 1)


def stream_health(symbol: str, now_ms: int | None = None) -> dict[str, Any]:
    """Status and the streamer's health counters, both from one read of the published row.

    `ok` needs a live book AND fewer than HEALTH_MAX_MISSED_PUBLICATIONS missing publications in a
    row: what readers see must be what the streamer has now, not what it last managed to write."""
    row = _latest_row(symbol)
    status = _status_of(symbol, row, now_ms)
    last_error = status["last_error"]
    config = settings.CONFIG
    missed = missed_publications(status["age_s"], config.publish_interval_ms)
    publishing = missed < config.health_max_missed_publications
    return {
        "symbol": symbol,
        "status": status["status"],
        "ok": status["status"] == "live" and publishing,
        "publishing": publishing,
        "since": status["since_ms"] / 1000 if status["since_ms"] is not None else None,
        "last_error": {"text": last_error["text"], "time": last_error["ts_ms"] / 1000}
        if last_error
        else None,
        "published_ts_ms": status["ts_ms"],
        "published_age_s": status["age_s"],
        "missed_publications": missed,
        "database": {"ok": True, "error": None},
        "stream": row.health if row is not None else {},
    }


def unreadable_health(symbol: str, problem: str) -> dict[str, Any]:
    """/api/health when the database cannot be read: not ok, and why."""
    return {
        "symbol": symbol,
        "status": "unknown",
        "ok": False,
        "since": None,
        "last_error": None,
        "published_ts_ms": None,
        "published_age_s": None,
        "missed_publications": None,
        "publishing": False,
        "database": {"ok": False, "error": problem},
        "stream": {},
    }


def health_document(symbol: str, details: bool | None = None) -> dict[str, Any]:
    """GET /api/health without its `web` part (the answering process adds its own). A database
    that fails or whose SQLite file is gone gives a not-ok document, never an exception.

    The demo simulator's control URL (`simulator_url`, which moves the market) is shown only with
    `details` (default: the HEALTH_DETAILS setting)."""
    details = settings.CONFIG.health_details if details is None else details
    problem = database_file_problem()
    if problem is not None:
        return unreadable_health(symbol, problem)
    try:
        data = stream_health(symbol)
    except DatabaseError as exc:
        return unreadable_health(symbol, error_line(exc))
    simulator_url = data["stream"].get("simulator_url")
    if not details:
        data["stream"] = {k: v for k, v in data["stream"].items() if k != "simulator_url"}
    elif simulator_url:  # only when `serve --simulator` feeds the stream
        data["simulator_url"] = simulator_url
    return data


def health_http_status(document: dict[str, Any], now_s: float, health_stale_s: float) -> int:
    """503 at once when the database fails or publications stopped; 503 once the book has not been
    live for longer than `health_stale_s` (or never was); else 200: load balancers and uptime
    monitors act on it; the body is the same either way."""
    if document["ok"]:
        return 200
    if not document.get("database", {}).get("ok", True) or not document.get("publishing", True):
        return 503  # the database cannot be read, or publications keep failing: readers get an old book
    since = document["since"]
    return 503 if since is None or now_s - since > health_stale_s else 200
