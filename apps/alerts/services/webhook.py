"""Webhook delivery of alerts, off the publication path.

``WebhookSender`` runs one background task. ``submit`` only puts the alert on a bounded queue and
returns at once (never awaits), so a publication cycle is never held by a slow or dead receiver.
The task POSTs each alert (apps/alerts/domain/delivery.py: body, what counts as success, backoff),
with the alert's key as ``Idempotency-Key`` header (and ``idempotency_key`` in the body), one
attempt at a time, and records every attempt's outcome in the alert's row. Never duplicated: a key
is sent again only after an attempt that did not succeed; a receiver that got a timed-out attempt
anyway sees the same key on the retry. When the queue is full the alert stays ``pending`` in the
table and is read from there once the queue has drained. On start the task resumes the table's
unfinished deliveries (``pending``/``retrying``) at their scheduled time; those older than
``RESUME_MAX_AGE_S`` are given up with the reason recorded (an alert an hour late is noise).
The URL is never logged (chat webhook URLs carry their secret in the path).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlparse

import httpx

from apps.alerts.domain.delivery import AttemptOutcome, Delivery, after_attempt, webhook_body
from apps.alerts.presentation import alert_overlay
from apps.alerts.services import store
from apps.core.sync_threads import in_sync_thread

log = logging.getLogger("apps.alerts.webhook")

QUEUE_SIZE = 1000
RESUME_MAX_AGE_S = 3600.0
USER_AGENT = "liquidity-map-alerts/1"


@dataclass(frozen=True)
class WebhookSettings:
    url: str
    timeout_s: float = 5.0
    max_attempts: int = 8
    backoff_s: float = 1.0

    @classmethod
    def from_config(cls, config: Any) -> WebhookSettings | None:
        """None when ALERT_WEBHOOK_URL is not set (delivery is off)."""
        if not config.alert_webhook_url:
            return None
        return cls(
            url=config.alert_webhook_url,
            timeout_s=float(config.alert_webhook_timeout_s),
            max_attempts=int(config.alert_webhook_max_attempts),
            backoff_s=float(config.alert_webhook_backoff_s),
        )

    @property
    def host(self) -> str:
        return urlparse(self.url).netloc  # what the log and /api/health may show


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    key: str
    body: bytes
    attempts: int = 0  # made so far


def delivery_job(alert: Mapping[str, Any], attempts: int = 0) -> DeliveryJob:
    body = json.dumps(webhook_body(alert), separators=(",", ":"), default=str).encode()
    return DeliveryJob(alert["key"], body, attempts)


class RedactedUrl(logging.Filter):
    """Shows the webhook URL as scheme://host/... in httpx's own request log lines."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url.rstrip("/")
        parsed = urlparse(url)
        self.shown = f"{parsed.scheme}://{parsed.netloc}/..."

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(str(a).rstrip("/") == self.url for a in record.args):
            record.args = tuple(self.shown if str(a).rstrip("/") == self.url else a for a in record.args)
        return True


class WebhookSender:
    def __init__(
        self,
        settings: WebhookSettings,
        symbol: str,
        *,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.symbol = symbol
        self.clock = clock
        self.monotonic = monotonic
        self.queue: asyncio.Queue[DeliveryJob] = asyncio.Queue(maxsize=queue_size)
        self._scheduled: list[tuple[float, int, DeliveryJob]] = []  # (due, order, job): retries
        self._order = itertools.count()
        self._open: set[str] = set()  # keys queued, scheduled or being sent
        self._idle = asyncio.Event()
        self._idle.set()
        self._backlog = False  # alerts were left in the table because the queue was full
        self._task: asyncio.Task[None] | None = None
        self.counts = {
            "attempts": 0,
            "delivered": 0,
            "retries": 0,
            "given_up": 0,
            "queue_full": 0,
            "record_failures": 0,
        }
        self.last_error: str | None = None

    # -- the publication side (never awaits) ---------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="alert-webhook")

    async def _run(self) -> None:
        redact = RedactedUrl(self.settings.url)
        logging.getLogger("httpx").addFilter(redact)
        try:
            await self._deliver_forever()
        finally:
            logging.getLogger("httpx").removeFilter(redact)

    def submit(self, alert: Mapping[str, Any]) -> None:
        """Queue one stored alert for delivery; returns at once."""
        key = alert["key"]
        if key in self._open:
            return
        try:
            self.queue.put_nowait(delivery_job(alert))
        except asyncio.QueueFull:
            self.counts["queue_full"] += 1
            self._backlog = True  # it stays pending in the table
            return
        self._open.add(key)
        self._idle.clear()

    def health(self) -> dict[str, Any]:
        return {
            "host": self.settings.host,
            "running": self._task is not None and not self._task.done(),  # false before start, after aclose
            "queued": self.queue.qsize(),
            "scheduled": len(self._scheduled),
            **self.counts,
            "last_error": self.last_error,
        }

    async def wait_idle(self, timeout: float) -> None:
        """Until nothing is queued, scheduled or being sent (tests, shutdown)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- the delivery task ---------------------------------------------------------------------
    async def _deliver_forever(self) -> None:
        async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
            await self._resume()
            while True:
                job = await self._next_job()
                try:
                    await self._attempt(client, job)
                except Exception as exc:  # never let the task die: the job is retried
                    log.exception("alert delivery failed unexpectedly key=%s", job.key)
                    self._retry(job, AttemptOutcome(Delivery.RETRYING, job.attempts, repr(exc), 1.0))

    async def _next_job(self) -> DeliveryJob:
        while True:
            now = self.monotonic()
            if self._scheduled and self._scheduled[0][0] <= now:
                return heapq.heappop(self._scheduled)[2]
            if not self.queue.empty():
                return self.queue.get_nowait()
            if self._backlog:
                self._backlog = False
                await self._resume()
                continue
            if not self._open:
                self._idle.set()
            wait = self._scheduled[0][0] - now if self._scheduled else None
            try:
                return await asyncio.wait_for(self.queue.get(), wait)
            except TimeoutError:
                continue

    async def _attempt(self, client: httpx.AsyncClient, job: DeliveryJob) -> None:
        status, error = None, ""
        headers = {"Content-Type": "application/json", "Idempotency-Key": job.key, "User-Agent": USER_AGENT}
        try:
            response = await client.post(self.settings.url, content=job.body, headers=headers)
            status = response.status_code
        except httpx.TimeoutException:
            error = f"timed out after {self.settings.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        self.counts["attempts"] += 1
        s = self.settings
        outcome = after_attempt(job.attempts, status, error, s.max_attempts, s.backoff_s)
        await self._record(job.key, outcome)
        if outcome.delivery == Delivery.DELIVERED:
            self.counts["delivered"] += 1
            log.info("alert delivered key=%s to %s attempts=%d", job.key, s.host, outcome.attempts)
            self._done(job.key)
        elif outcome.delivery == Delivery.GIVEN_UP:
            self.counts["given_up"] += 1
            self.last_error = outcome.last_error
            log.warning("alert delivery given up key=%s to %s reason=%s", job.key, s.host, outcome.last_error)
            self._done(job.key)
        else:
            self.last_error = outcome.last_error
            log.info(
                "alert delivery attempt %d failed key=%s to %s reason=%s; retry in %.1f s",
                outcome.attempts,
                job.key,
                s.host,
                outcome.last_error,
                outcome.retry_in_s or 0.0,
            )
            self._retry(job, outcome)

    def _retry(self, job: DeliveryJob, outcome: AttemptOutcome) -> None:
        self.counts["retries"] += 1
        due = self.monotonic() + (outcome.retry_in_s or 0.0)
        heapq.heappush(self._scheduled, (due, next(self._order), replace(job, attempts=outcome.attempts)))

    def _done(self, key: str) -> None:
        self._open.discard(key)

    async def _record(self, key: str, outcome: AttemptOutcome) -> None:
        try:
            await in_sync_thread(store.record_attempt)(key, outcome, int(self.clock() * 1000))
        except Exception as exc:  # the delivery itself stands; the row says less than it should
            self.counts["record_failures"] += 1
            log.warning("alert delivery not recorded key=%s reason=%r", key, exc)

    async def _resume(self) -> None:
        """Take up the table's unfinished deliveries (after a restart, or a full queue)."""
        try:
            rows = await in_sync_thread(store.open_deliveries)(self.symbol)
        except Exception as exc:
            log.warning("alert deliveries not resumed reason=%r", exc)
            return
        now_ms = int(self.clock() * 1000)
        old = {r.key for r in rows if now_ms - r.ts_ms > RESUME_MAX_AGE_S * 1000 and r.key not in self._open}
        if old:
            reason = f"not delivered within {RESUME_MAX_AGE_S / 60:g} min of firing (service down or receiver unreachable)"
            await in_sync_thread(store.give_up)(sorted(old), reason)
            self.counts["given_up"] += len(old)
            log.warning("alert deliveries given up: %d older than %g s", len(old), RESUME_MAX_AGE_S)
        resumed = 0
        for row in rows:
            if row.key in self._open or row.key in old:
                continue
            wait_s = max(0.0, ((row.next_attempt_ts_ms or now_ms) - now_ms) / 1000)
            job = delivery_job(alert_overlay(row), row.attempts)
            heapq.heappush(self._scheduled, (self.monotonic() + wait_s, next(self._order), job))
            self._open.add(row.key)
            resumed += 1
        if resumed:
            self._idle.clear()
            log.info("alert deliveries resumed: %d", resumed)
