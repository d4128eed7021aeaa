"""Webhook delivery of alerts: what is sent and what an attempt's outcome means. Pure.

- The body (``webhook_body``) carries the alert's one-line text twice, as ``text`` (Slack,
  Mattermost) and ``content`` (Discord), plus ``idempotency_key`` and the structured ``alert`` (as
  GET /api/alerts shows it), so the common chat webhooks accept it as it is and a program gets
  everything.
- An attempt succeeds on any 2xx answer. A 4xx other than 408 (timeout), 425 and 429 (too many
  requests) says the receiver refuses this body: retrying cannot help, the delivery gives up at
  once. Anything else (5xx, a timeout, a refused connection) is retried after
  ``retry_delay_s``: ALERT_WEBHOOK_BACKOFF_S doubling per attempt, at most ``MAX_RETRY_DELAY_S``,
  until ALERT_WEBHOOK_MAX_ATTEMPTS attempts were made; then it gives up.
- Delivery states (the ``delivery`` column): ``off`` (no ALERT_WEBHOOK_URL), ``pending`` (not tried
  yet), ``retrying`` (the last attempt failed, ``last_error`` says how; another is scheduled),
  ``delivered``, ``given_up`` (``last_error`` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_RETRY_DELAY_S = 60.0
RETRYABLE_4XX = frozenset({408, 425, 429})


class Delivery(StrEnum):
    OFF = "off"
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    GIVEN_UP = "given_up"


OPEN_DELIVERIES: tuple[Delivery, ...] = (Delivery.PENDING, Delivery.RETRYING)  # resumed after a restart


def webhook_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON POSTed for one alert (``alert`` as presented by the API)."""
    return {
        "text": alert["text"],
        "content": alert["text"],
        "idempotency_key": alert["key"],
        "alert": dict(alert),
    }


def retry_delay_s(attempts: int, backoff_s: float, cap_s: float = MAX_RETRY_DELAY_S) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1, 2, ...): backoff_s * 2^(n-1)."""
    return min(cap_s, backoff_s * 2 ** max(0, attempts - 1))


def is_permanent_refusal(status_code: int) -> bool:
    """An HTTP answer that retrying the same body cannot change."""
    return 400 <= status_code < 500 and status_code not in RETRYABLE_4XX


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """The state after an attempt: ``retry_in_s`` is set only when another attempt is due."""

    delivery: Delivery
    attempts: int
    last_error: str
    retry_in_s: float | None = None


def after_attempt(
    attempts_before: int,
    status_code: int | None,
    error: str,
    max_attempts: int,
    backoff_s: float,
) -> AttemptOutcome:
    """The outcome of one more attempt: ``status_code`` is the HTTP answer (None when there was
    none: ``error`` says what happened instead)."""
    attempts = attempts_before + 1
    if status_code is not None and 200 <= status_code < 300:
        return AttemptOutcome(Delivery.DELIVERED, attempts, "")
    problem = error or f"HTTP {status_code}"
    if status_code is not None and is_permanent_refusal(status_code):
        return AttemptOutcome(Delivery.GIVEN_UP, attempts, f"{problem} (refused; not retried)")
    if attempts >= max_attempts:
        return AttemptOutcome(Delivery.GIVEN_UP, attempts, f"{problem} (gave up after {attempts} attempts)")
    return AttemptOutcome(Delivery.RETRYING, attempts, problem, retry_delay_s(attempts, backoff_s))
