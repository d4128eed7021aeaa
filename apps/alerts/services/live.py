"""The alert cycle: apply the alert rules to each publication cycle, store, push and deliver.

Plugged into the streamer as a ``StreamListener``, after the zone listener. Per cycle:
1. the first cycle restores what fired before a restart (cooldowns, blocks already entered) and
   starts the webhook sender, if ALERT_WEBHOOK_URL is set;
2. the active order blocks are (re)read when an order-block run finished (the order-block listener's
   ``runs`` moved) and every ``blocks_every_s`` (a run made by the command, outside the streamer);
3. the rules see the book's status, the cycle's trades and, if the zone listener computed zones
   since the last cycle, its update (``ZoneFeed.latest``: handed in at wiring, no global lookup);
4. the alerts that fired are stored (a key already stored is not stored, pushed or sent again),
   pushed one by one as kind "alert", and handed to the webhook sender, which returns at once;
5. every ``prune_every_s`` alerts older than ALERT_RETENTION_D are deleted in batches.
A database failure is counted and logged; the alerts of that cycle are still pushed and sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from apps.alerts.domain.alert import Alert, Rule
from apps.alerts.domain.delivery import Delivery
from apps.alerts.domain.engine import AlertEngine
from apps.alerts.domain.rules import AlertParams
from apps.alerts.presentation import alert_overlay
from apps.alerts.services import store
from apps.alerts.services.webhook import WebhookSender, WebhookSettings
from apps.book.domain.events import Kline
from apps.book.services.cycle import DeltaSink, PublishCycle
from apps.core.sync_threads import in_sync_thread
from apps.orderblocks.domain.blocks import BlockRecord
from apps.orderblocks.presentation import orderblock_id
from apps.orderblocks.services.blocks import stored_blocks
from apps.zones.services.live import ZoneCycleResult

log = logging.getLogger("apps.alerts.live")


class ZoneFeed(Protocol):
    """The zone listener (apps.zones.services.live.ZoneCycleListener): its last computed cycle."""

    @property
    def latest(self) -> ZoneCycleResult | None: ...


class BlockRuns(Protocol):
    """The order-block listener: how many hourly runs it finished."""

    @property
    def runs(self) -> int: ...


def active_blocks(symbol: str) -> list[BlockRecord]:
    return list(stored_blocks(symbol, open_only=True).values())


class AlertListener:
    """StreamListener for alerts. ``on_cycle`` never raises on a database, push or webhook failure."""

    def __init__(
        self,
        config: Any,
        broadcaster: DeltaSink | None,
        *,
        zones: ZoneFeed | None = None,
        orderblocks: BlockRuns | None = None,
        sender: WebhookSender | None = None,
        load_blocks: Callable[[str], list[BlockRecord]] = active_blocks,
        blocks_every_s: float = 60.0,
        prune_every_s: float = 600.0,
    ) -> None:
        self.symbol: str = config.symbol
        self.params = AlertParams.from_config(config)
        self.engine = AlertEngine(self.params)
        self.broadcaster = broadcaster
        self.zones = zones
        self.orderblocks = orderblocks
        webhook = WebhookSettings.from_config(config)
        self.sender = (
            sender if sender is not None else (WebhookSender(webhook, self.symbol) if webhook else None)
        )
        self.load_blocks = load_blocks
        self.retention_ms = int(float(config.alert_retention_d) * 86_400_000)
        self.blocks_every_ms = int(blocks_every_s * 1000)
        self.prune_every_ms = int(prune_every_s * 1000)
        self.fired = 0
        self.failures = 0
        self.write_failures = 0
        self.last_error: dict[str, Any] | None = None
        self.block_count = 0
        self._restored = False
        self._zones_seen_ms = -1
        self._runs_seen: int | None = None
        self._next_blocks_ms: int | None = None
        self._next_prune_ms: int | None = None

    # -- StreamListener ------------------------------------------------------------------------
    async def on_kline(self, kline: Kline) -> None:
        return None

    async def on_cycle(self, cycle: PublishCycle) -> None:
        try:
            await self._cycle(cycle)
        except Exception as exc:
            self.failures += 1
            self.last_error = {"text": f"{type(exc).__name__}: {exc}"[:300], "ts_ms": cycle.now_ms}
            raise

    def health(self) -> dict[str, Any]:
        """/api/health's "alerts" section."""
        return {
            "fired": self.fired,
            "held_back_by_cooldown": self.engine.held_back,
            "active_blocks": self.block_count,
            "failures": self.failures,
            "write_failures": self.write_failures,
            "last_error": self.last_error,
            "webhook": self.sender.health() if self.sender is not None else None,
        }

    async def aclose(self) -> None:
        if self.sender is not None:
            await self.sender.aclose()

    # -- the cycle -----------------------------------------------------------------------------
    async def _cycle(self, cycle: PublishCycle) -> None:
        now_ms = cycle.now_ms
        trades = tuple(cycle.trades)
        if not self._restored:
            await self._restore(now_ms)
        elif self._blocks_due(now_ms):
            await self._load_blocks(now_ms)
        alerts = self.engine.on_status(cycle.status, now_ms)
        alerts += self.engine.on_trades(trades, now_ms)
        latest = self.zones.latest if self.zones is not None else None
        if latest is not None and latest.now_ms > self._zones_seen_ms:
            self._zones_seen_ms = latest.now_ms
            alerts += self.engine.on_zones(latest.update, latest.mid, now_ms)
        if alerts:
            await self._emit(alerts)
        await self._maybe_prune(now_ms)

    def _blocks_due(self, now_ms: int) -> bool:
        runs = self.orderblocks.runs if self.orderblocks is not None else None
        return runs != self._runs_seen or self._next_blocks_ms is None or now_ms >= self._next_blocks_ms

    async def _load_blocks(self, now_ms: int) -> list[BlockRecord] | None:
        self._runs_seen = self.orderblocks.runs if self.orderblocks is not None else None
        self._next_blocks_ms = now_ms + self.blocks_every_ms
        try:
            blocks = await in_sync_thread(self.load_blocks)(self.symbol)
        except Exception as exc:  # keep the blocks we have; try again at the next due time
            log.warning("alert rules: order blocks not read reason=%r", exc)
            return None
        self.engine.set_blocks(blocks)
        self.block_count = len(blocks)
        return blocks

    async def _restore(self, now_ms: int) -> None:
        """Continue after a restart: the cooldowns of alerts that fired within ALERT_COOLDOWN_S,
        and the fresh blocks price already entered (they fire once)."""
        self._restored = True
        if self.sender is not None:
            self.sender.start()
        blocks = await self._load_blocks(now_ms) or []
        since_ms = now_ms - int(self.params.cooldown_s * 1000)
        ids = [orderblock_id(b.symbol, b.direction, b.created_ts_ms) for b in blocks]
        try:
            fired = await in_sync_thread(store.fired_since)(self.symbol, since_ms)
            entered = await in_sync_thread(store.entered_blocks)(self.symbol, ids, Rule.ORDERBLOCK_ENTERED)
        except Exception as exc:
            log.warning("alert restore failed reason=%r; cooldowns start empty", exc)
            return
        self.engine.restore(fired, entered)
        if fired or entered:
            log.info("alerts restored: %d recent, %d blocks already entered", len(fired), len(entered))

    async def _emit(self, alerts: Sequence[Alert]) -> None:
        delivery = Delivery.PENDING if self.sender is not None else Delivery.OFF
        try:
            new = await in_sync_thread(store.insert_alerts)(alerts, delivery)
        except Exception as exc:
            self.write_failures += 1
            log.warning("alerts not stored reason=%r; pushed and sent anyway", exc)
            new = list(alerts)
        for alert in new:
            log.info("alert %s object=%s key=%s: %s", alert.rule, alert.object_id, alert.key, alert.text)
            overlay = alert_overlay(alert)
            if self.broadcaster is not None:
                push = {**overlay, "delivery": {"state": str(delivery), "attempts": 0, "last_error": None}}
                await self.broadcaster.send("alert", push)
            if self.sender is not None:
                self.sender.submit(overlay)
        self.fired += len(new)

    async def _maybe_prune(self, now_ms: int) -> None:
        if self._next_prune_ms is not None and now_ms < self._next_prune_ms:
            return
        self._next_prune_ms = now_ms + self.prune_every_ms
        self.engine.cooldown.forget_expired(now_ms)
        try:
            deleted = await in_sync_thread(store.prune)(now_ms - self.retention_ms)
        except Exception as exc:
            log.warning("alert prune failed reason=%r", exc)
            return
        if deleted:
            log.info("alerts pruned: %d older than %g days", deleted, self.retention_ms / 86_400_000)
