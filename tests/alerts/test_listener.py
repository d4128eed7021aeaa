"""The alert listener over a real database, fed publication cycles as the streamer makes them: it
reads the active blocks, fires on the cycle's trades and status, stores and pushes each alert once,
and a restarted listener continues (no second alert for a block already entered, cooldowns go on)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.alerts.models import Alert as AlertRow
from apps.alerts.services.live import AlertListener
from apps.book.services.cycle import PublishCycle
from apps.orderblocks.models import OrderBlock
from tests.alerts.scenes import block, trade

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]
NOW_MS = int(time.time() * 1000)


class Pushes:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def send(self, kind: str, data: Any) -> None:
        self.sent.append((kind, data))

    def alerts(self) -> list[dict[str, Any]]:
        return [data for kind, data in self.sent if kind == "alert"]


def cycle(now_ms: int, status: str = "live", trades=()) -> PublishCycle:
    return PublishCycle(
        now_ms=now_ms, symbol="BTCEUR", status=status, book=None, update_id=None, trades=tuple(trades)
    )


def store_block() -> None:
    record = block("60000", "60200")
    OrderBlock.objects.create(**record.as_row())


async def test_entering_a_stored_block_alerts_once_and_a_restarted_listener_does_not_repeat_it():
    await sync_to_async(store_block)()
    pushes = Pushes()
    listener = AlertListener(settings.CONFIG, pushes)
    await listener.on_cycle(cycle(NOW_MS, trades=[trade("60500", NOW_MS - 10)]))
    await listener.on_cycle(cycle(NOW_MS + 1000, trades=[trade("60150", NOW_MS + 990)]))
    await listener.on_cycle(cycle(NOW_MS + 2000, trades=[trade("60600", NOW_MS + 1990)]))
    await listener.on_cycle(cycle(NOW_MS + 3000, trades=[trade("60100", NOW_MS + 2990)]))
    (pushed,) = pushes.alerts()
    assert pushed["rule"] == "orderblock_entered" and pushed["ts_ms"] == NOW_MS + 990
    assert pushed["delivery"] == {"state": "off", "attempts": 0, "last_error": None}  # no webhook set
    rows = await sync_to_async(list)(AlertRow.objects.values_list("key", "delivery"))
    assert rows == [(pushed["key"], "off")]
    assert listener.health()["fired"] == 1 and listener.health()["active_blocks"] == 1

    restarted_pushes = Pushes()
    restarted = AlertListener(settings.CONFIG, restarted_pushes)
    await restarted.on_cycle(cycle(NOW_MS + 4000, trades=[trade("60700", NOW_MS + 3990)]))
    await restarted.on_cycle(cycle(NOW_MS + 5000, trades=[trade("60050", NOW_MS + 4990)]))
    assert restarted_pushes.alerts() == []


async def test_a_stale_book_alerts_and_recovers_and_the_cooldown_survives_a_restart():
    pushes = Pushes()
    listener = AlertListener(settings.CONFIG, pushes)
    for i, status in enumerate(["syncing"] * 32 + ["live"]):
        await listener.on_cycle(cycle(NOW_MS + i * 1000, status=status))
    assert [a["rule"] for a in pushes.alerts()] == ["book_stale", "book_recovered"]
    assert "not live for 31 s (status: syncing)" in pushes.alerts()[0]["text"]

    restarted_pushes = Pushes()
    restarted = AlertListener(settings.CONFIG, restarted_pushes)
    for i, status in enumerate(["backoff"] * 32 + ["live"]):
        await restarted.on_cycle(cycle(NOW_MS + 60_000 + i * 1000, status=status))
    assert restarted_pushes.alerts() == []  # within ALERT_COOLDOWN_S of the first outage's alert
    assert restarted.health()["held_back_by_cooldown"] == 1
