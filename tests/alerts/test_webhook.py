"""Webhook delivery against a real HTTP receiver on loopback that answers 500 and times out on
earlier attempts: delivered exactly once in the end, with the same idempotency key each time; given
up after ALERT_WEBHOOK_MAX_ATTEMPTS (recorded); resumed after a restart; never blocks the caller."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import sync_to_async

from apps.alerts.domain.alert import Rule, make_alert
from apps.alerts.domain.delivery import Delivery
from apps.alerts.models import Alert as AlertRow
from apps.alerts.presentation import alert_overlay
from apps.alerts.services import store
from apps.alerts.services.webhook import WebhookSender, WebhookSettings
from tests.alerts.receiver import WebhookReceiver
from tests.alerts.scenes import SYMBOL

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def fired(i: int, age_s: float = 1.0):
    ts_ms = int((time.time() - age_s) * 1000)
    return make_alert(SYMBOL, Rule.ZONE_PULLED_IN_BLOCK, f"zone-{i}", ts_ms, f"zone {i} pulled", {"n": i})


async def stored(*alerts):
    await sync_to_async(store.insert_alerts)(list(alerts), Delivery.PENDING)
    return alerts


async def row(key: str) -> AlertRow:
    return await sync_to_async(AlertRow.objects.get)(key=key)


def sender_for(receiver: WebhookReceiver, **overrides) -> WebhookSender:
    settings = WebhookSettings(url=receiver.url, timeout_s=0.5, max_attempts=5, backoff_s=0.05)
    for name, value in overrides.items():
        settings = WebhookSettings(**{**settings.__dict__, name: value})
    return WebhookSender(settings, SYMBOL)


async def test_a_500_then_a_timeout_then_success_delivers_exactly_once_with_one_key():
    async with WebhookReceiver(plan=["500", "timeout"]) as receiver:
        sender = sender_for(receiver)
        (alert,) = await stored(fired(1))
        sender.start()
        sender.submit(alert_overlay(alert))
        await receiver.until(lambda: len(receiver.attempts) == 2, timeout=10)  # the receiver hangs now
        (other,) = await stored(fired(9))
        sender.submit(alert_overlay(other))  # handing over does not wait for the hanging attempt
        assert sender.queue.qsize() == 1 and len(receiver.attempts) == 2
        await sender.wait_idle(timeout=10)
        await sender.aclose()

    assert [a.answer for a in receiver.tries(alert.key)] == ["500", "timeout", "200"]
    assert receiver.accepted == {alert.key: 1, other.key: 1}
    for attempt in receiver.tries(alert.key):
        assert attempt.content_type == "application/json"
        assert attempt.body["idempotency_key"] == alert.key
        assert attempt.body["text"] == attempt.body["content"] == "zone 1 pulled"
        assert attempt.body["alert"]["rule"] == "zone_pulled_in_block"
        assert attempt.body["alert"]["details"] == {"n": 1}
    done = await row(alert.key)
    assert (done.delivery, done.attempts, done.last_error) == ("delivered", 3, "")
    assert done.delivered_ts_ms is not None and done.next_attempt_ts_ms is None
    assert [a.answer for a in receiver.tries(other.key)] == ["500", "timeout", "200"]  # the same plan
    assert ((await row(other.key)).delivery, (await row(other.key)).attempts) == ("delivered", 3)
    assert sender.counts["delivered"] == 2 and sender.counts["retries"] == 4


async def test_delivery_gives_up_after_max_attempts_and_records_it():
    async with WebhookReceiver(plan=["500", "timeout", "500", "500"]) as receiver:
        sender = sender_for(receiver, max_attempts=3)
        (alert,) = await stored(fired(2))
        sender.start()
        sender.submit(alert_overlay(alert))
        await sender.wait_idle(timeout=10)
        await sender.aclose()
    assert [a.answer for a in receiver.attempts] == ["500", "timeout", "500"]
    assert receiver.accepted == {}
    given_up = await row(alert.key)
    assert (given_up.delivery, given_up.attempts) == ("given_up", 3)
    assert given_up.last_error == "HTTP 500 (gave up after 3 attempts)"
    assert sender.counts["given_up"] == 1 and sender.health()["last_error"] == given_up.last_error


async def test_a_refusal_is_not_retried_and_the_url_is_never_logged(caplog):
    async with WebhookReceiver(plan=["400"]) as receiver:
        sender = sender_for(receiver)
        (alert,) = await stored(fired(3))
        sender.start()
        sender.submit(alert_overlay(alert))
        await sender.wait_idle(timeout=10)
        await sender.aclose()
    assert len(receiver.attempts) == 1
    refused = await row(alert.key)
    assert (refused.delivery, refused.attempts, refused.last_error) == (
        "given_up",
        1,
        "HTTP 400 (refused; not retried)",
    )
    assert "secret-token" not in caplog.text and "127.0.0.1" in caplog.text


async def test_unfinished_deliveries_resume_after_a_restart_and_stale_ones_are_given_up():
    async with WebhookReceiver() as receiver:
        recent, old = fired(4), fired(5, age_s=2 * 3600)
        await stored(recent, old)
        await sync_to_async(AlertRow.objects.filter(key=recent.key).update)(delivery="retrying", attempts=2)
        sender = sender_for(receiver)  # a new process: nothing submitted, the table has them
        sender.start()
        await receiver.until(lambda: receiver.accepted[recent.key] == 1, timeout=10)
        await sender.wait_idle(timeout=10)
        await sender.aclose()
    assert [a.key for a in receiver.attempts] == [recent.key]
    resumed = await row(recent.key)
    assert (resumed.delivery, resumed.attempts) == ("delivered", 3)
    dropped = await row(old.key)
    assert dropped.delivery == "given_up" and "not delivered within 60 min" in dropped.last_error


async def test_alerts_left_out_of_a_full_queue_are_delivered_from_the_table_once_each():
    async with WebhookReceiver() as receiver:
        alerts = await stored(fired(6), fired(7), fired(8))
        settings = WebhookSettings(url=receiver.url, timeout_s=0.5, max_attempts=5, backoff_s=0.05)
        sender = WebhookSender(settings, SYMBOL, queue_size=1)
        for alert in alerts:  # before the task runs: one fits, two stay pending in the table
            sender.submit(alert_overlay(alert))
        assert sender.counts["queue_full"] == 2
        sender.start()
        await receiver.until(lambda: len(receiver.accepted) == 3, timeout=10)
        await sender.wait_idle(timeout=10)
        await sender.aclose()
    assert receiver.accepted == {a.key: 1 for a in alerts}
    assert len(receiver.attempts) == 3
