"""Alerts end to end in real time: the real streamer on the simulator's sockets, the zone listener and
the alert listener wired as in the service, an active order block in the database, and a webhook
receiver on loopback that answers 500 and then times out before it accepts. A confirmed wall inside
the block, pulled, fires the pulled-zone alert once: stored, pushed as kind "alert", and delivered
to the receiver exactly once (after three attempts with one idempotency key)."""

from __future__ import annotations

import dataclasses
import time
from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from apps.alerts.models import Alert as AlertRow
from apps.alerts.services.live import AlertListener
from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.orderblocks.models import OrderBlock
from apps.overlays.broadcast import OverlayBroadcaster
from apps.simulator.server import BinanceSimulator
from apps.zones.services.live import ZoneCycleListener
from tests.alerts.receiver import WebhookReceiver
from tests.book.streaming import start_pushing, wall_size
from tests.group_watch import GroupWatch, ZoneWatch

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True), pytest.mark.slow]
HOUR_MS = 3_600_000


class AlertWatch(GroupWatch):
    """Every "alert" message pushed to the symbol's group."""

    kind = "alert"

    def __init__(self, layer: ThrottledInMemoryChannelLayer) -> None:
        super().__init__(layer)
        self.alerts: list[dict[str, Any]] = []

    def take(self, data: Any) -> None:
        self.alerts.append(data)

    def of(self, rule: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["rule"] == rule]

    async def first(self, rule: str, timeout: float) -> dict[str, Any]:
        return await self.until(lambda: next(iter(self.of(rule)), None), timeout)


def active_block_around(price: Decimal, now_ms: int) -> OrderBlock:
    created = now_ms - now_ms % HOUR_MS - 10 * HOUR_MS
    return OrderBlock.objects.create(
        symbol="BTCEUR",
        direction="bullish",
        created_ts_ms=created,
        valid_from_ts_ms=created + 3 * HOUR_MS,
        valid_to_ts_ms=None,
        price_low=price - 60,
        price_high=price + 60,
        atr14=Decimal("300"),
        bos_level=price + 900,
        bos_ts_ms=created + 2 * HOUR_MS,
        touched_ts_ms=None,
        status="fresh",
    )


async def test_pulling_a_confirmed_wall_in_an_active_block_alerts_once_delivered_once():
    async with (
        BinanceSimulator(
            depth_interval_s=0.1, seed=21, random_fast_moves=False, background_walls=False
        ) as sim,
        WebhookReceiver(plan=["500", "timeout"]) as receiver,
    ):
        config = dataclasses.replace(
            settings.CONFIG,
            zone_confirm_s=5.0,  # confirmation in seconds, not the default 30
            zone_discard_s=2.0,  # ... and a pulled wall is not "too brief to count"
            alert_webhook_url=receiver.url,
            alert_webhook_timeout_s=0.5,
            alert_webhook_backoff_s=0.1,
        )
        cent = Decimal("0.01")
        wall_price = (sim.mid * Decimal("0.997")).quantize(cent, ROUND_DOWN)
        block = await sync_to_async(active_block_around)(wall_price, int(time.time() * 1000))

        layer = ThrottledInMemoryChannelLayer(capacity=10_000)
        broadcaster = OverlayBroadcaster("BTCEUR", layer)
        zones = ZoneCycleListener(config, broadcaster)
        alerts = AlertListener(config, broadcaster, zones=zones)
        zone_watch, alert_watch = ZoneWatch(layer), AlertWatch(layer)
        h = start_pushing(
            sim, broadcaster, [zones, alerts], watches=[zone_watch, alert_watch], publish_interval_ms=1000
        )
        try:
            await h.live()
            wall = sim.place_wall("bid", wall_price, wall_size(sim, "bid", wall_price))
            confirmed = await zone_watch.zone("bid", wall_price, "confirmed", timeout=30)
            assert alert_watch.of("zone_pulled_in_block") == []  # nothing while the wall stands

            sim.pull_wall(wall)
            alert = await alert_watch.first("zone_pulled_in_block", timeout=15)
            assert alert["object_id"] == confirmed["id"]
            assert alert["details"]["blocks"][0]["id"] == f"BTCEUR:bullish:{block.created_ts_ms}"
            assert alert["details"]["zone"]["status"] == "pulled"
            assert alert["delivery"]["state"] == "pending"

            await receiver.until(lambda: receiver.accepted[alert["key"]] == 1, timeout=15)
            await alerts.sender.wait_idle(timeout=10)
            await h.live(after_update_id=sim.update_id)  # a few more cycles: no second alert
            await h.live(after_update_id=sim.update_id)
            assert alerts.sender.health()["running"]
        finally:
            await h.stop()  # the streamer's shutdown closes the listeners: the webhook sender stops

    assert not alerts.sender.health()["running"]
    assert h.mismatches == []
    assert len(alert_watch.of("zone_pulled_in_block")) == 1
    assert [a.answer for a in receiver.tries(alert["key"])] == ["500", "timeout", "200"]
    assert receiver.accepted[alert["key"]] == 1
    assert {a.body["idempotency_key"] for a in receiver.tries(alert["key"])} == {alert["key"]}
    row = await sync_to_async(AlertRow.objects.get)(key=alert["key"])
    assert (row.rule, row.delivery, row.attempts) == ("zone_pulled_in_block", "delivered", 3)
    rows = await sync_to_async(list)(AlertRow.objects.filter(rule="zone_pulled_in_block"))
    assert len(rows) == 1
