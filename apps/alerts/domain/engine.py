"""The alert engine: the rules applied to what each publication cycle brings. Pure: no Django, no
I/O; time comes in as ``now_ms``.

Per cycle the listener feeds it the book's status (``on_status``), the trades since the previous
cycle (``on_trades``) and, when zones were computed, the zone tracker's update with the mid it was
computed at (``on_zones``); ``set_blocks`` hands it the active order blocks (fresh or touched) when
they change. Each returns the alerts that fired, in the order they happened:

- ``orderblock_entered``: a trade's price entered a fresh block (``price_entered_block``). A block
  fires this once: after price has been in it, it is no longer fresh (its stored status becomes
  touched at the candle close);
- ``zone_pulled_in_block`` / ``zone_broken_in_block``: a zone that was confirmed ended pulled or
  broken inside or within one bin of an active block (``zone_near_block``);
- ``zone_confirmed_near_mid``: a zone was confirmed with strength >= ALERT_MIN_STRENGTH within
  ALERT_NEAR_PCT of mid (``confirmed_zone_near_mid``);
- ``book_stale``: the book has not been live for more than ALERT_STALE_S (once per outage), and
  ``book_recovered`` when it is live again after an outage that was alerted (so the two pair up:
  a recovery is never held back by the cooldown, and never sent for an outage that was not).
A rule switched off fires nothing; a rule fires for one object at most once per ALERT_COOLDOWN_S
(``Cooldown``). ``restore`` continues the cooldowns (and the blocks already entered) after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from apps.alerts.domain.alert import Alert, Rule, make_alert
from apps.alerts.domain.rules import (
    AlertParams,
    Cooldown,
    book_not_live_too_long,
    confirmed_zone_near_mid,
    distance_pct,
    price_entered_block,
    zone_near_block,
)
from apps.book.domain.events import Trade
from apps.json_http.decimal_text import decimal_text
from apps.orderblocks.domain.blocks import BlockRecord
from apps.orderblocks.domain.enums import BlockStatus
from apps.orderblocks.presentation import orderblock_id
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import TrackerUpdate, ZoneRecord

LIVE_STATUS = "live"
BOOK_OBJECT = "book"
ENDED_RULES: dict[ZoneStatus, Rule] = {
    ZoneStatus.PULLED: Rule.ZONE_PULLED_IN_BLOCK,
    ZoneStatus.BROKEN: Rule.ZONE_BROKEN_IN_BLOCK,
}


def block_details(block: BlockRecord) -> dict[str, Any]:
    return {
        "id": orderblock_id(block.symbol, block.direction, block.created_ts_ms),
        "direction": str(block.direction),
        "status": str(block.status),
        "price_low": decimal_text(block.price_low),
        "price_high": decimal_text(block.price_high),
    }


def zone_details(zone: ZoneRecord) -> dict[str, Any]:
    return {
        "id": zone.id,
        "side": str(zone.side),
        "status": str(zone.status),
        "price_low": decimal_text(zone.price_low),
        "price_high": decimal_text(zone.price_high),
        "notional": decimal_text(zone.notional),
        "strength": round(float(zone.strength), 4),
    }


def _range(low: Decimal, high: Decimal) -> str:
    return f"{decimal_text(low)}-{decimal_text(high)}"


class AlertEngine:
    def __init__(self, params: AlertParams) -> None:
        self.params = params
        self.cooldown = Cooldown(params.cooldown_s)
        self.held_back = 0  # firings the cooldown held back
        self._blocks: tuple[BlockRecord, ...] = ()
        self._entered: set[str] = set()  # fresh blocks price has been in
        self._last_price: Decimal | None = None
        self._not_live_since_ms: int | None = None
        self._stale_decided = False  # this outage passed ALERT_STALE_S (alerted or held back)
        self._stale_alerted = False  # ... and its stale alert went out: its recovery will too

    # -- feeding -------------------------------------------------------------------------------
    def set_blocks(self, blocks: Iterable[BlockRecord]) -> None:
        """The active order blocks (invalid ones are ignored)."""
        self._blocks = tuple(b for b in blocks if b.status != BlockStatus.INVALID)
        known = {self._block_id(b) for b in self._blocks}
        self._entered &= known

    def restore(self, fired: Iterable[tuple[str, str, int]], entered: Iterable[str] = ()) -> None:
        """Continue after a restart: ``fired`` are (rule, object_id, ts_ms) of recent alerts (their
        cooldowns go on), ``entered`` the ids of fresh blocks price already entered."""
        for rule, object_id, ts_ms in fired:
            self.cooldown.note(rule, object_id, ts_ms)
            if rule == Rule.ORDERBLOCK_ENTERED:
                self._entered.add(object_id)
        self._entered.update(entered)

    def on_trades(self, trades: Sequence[Trade], now_ms: int) -> list[Alert]:
        if not trades:
            return []
        previous = self._last_price
        self._last_price = trades[-1].price
        prices = [t.price for t in trades]
        if previous is not None:
            prices.append(previous)
        low, high = min(prices), max(prices)
        alerts = []
        for block in self._blocks:
            if block.status != BlockStatus.FRESH or block.price_low > high or block.price_high < low:
                continue
            block_id = self._block_id(block)
            if block_id in self._entered:
                continue
            alert = self._entry(block, block_id, previous, trades)
            if alert is not None:
                alerts.append(alert)
        alerts.sort(key=lambda a: a.ts_ms)
        return alerts

    def on_zones(self, update: TrackerUpdate, mid: Decimal | None, now_ms: int) -> list[Alert]:
        records = {r.id: r for r in (*update.added, *update.changed)}
        alerts = []
        for transition in update.transitions:
            record = records.get(transition.zone_id)
            if record is None:
                continue
            alert = None
            if transition.old == ZoneStatus.CONFIRMED and transition.new in ENDED_RULES:
                alert = self._ended_in_block(record, ENDED_RULES[transition.new], transition.reason)
            elif transition.new == ZoneStatus.CONFIRMED and mid is not None:
                alert = self._confirmed_near_mid(record, mid)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def on_status(self, status: str, now_ms: int) -> list[Alert]:
        if status == LIVE_STATUS:
            alert = self._recovered(now_ms) if self._stale_alerted else None
            self._not_live_since_ms = None
            self._stale_decided = self._stale_alerted = False
            return [alert] if alert is not None else []
        if self._not_live_since_ms is None:
            self._not_live_since_ms = now_ms
        since = self._not_live_since_ms
        if self._stale_decided or not book_not_live_too_long(since, now_ms, self.params.stale_s):
            return []
        self._stale_decided = True
        alert = self._stale(status, since, now_ms)
        self._stale_alerted = alert is not None
        return [alert] if alert is not None else []

    # -- the rules -----------------------------------------------------------------------------
    def _entry(
        self, block: BlockRecord, block_id: str, previous: Decimal | None, trades: Sequence[Trade]
    ) -> Alert | None:
        for trade in trades:
            entered = trade.ts_ms >= block.valid_from_ts_ms and price_entered_block(
                previous, trade.price, block.price_low, block.price_high
            )
            previous = trade.price
            if not entered:
                continue
            self._entered.add(block_id)
            text = (
                f"{self.params.symbol}: price {decimal_text(trade.price)} entered fresh "
                f"{block.direction} order block {_range(block.price_low, block.price_high)}"
            )
            details = {"price": decimal_text(trade.price), "block": block_details(block)}
            return self._fire(Rule.ORDERBLOCK_ENTERED, block_id, trade.ts_ms, text, details)
        return None

    def _ended_in_block(self, zone: ZoneRecord, rule: Rule, reason: str) -> Alert | None:
        p = self.params
        near = [
            b
            for b in self._blocks
            if zone_near_block(zone.price_low, zone.price_high, b.price_low, b.price_high, p.bin_size)
        ]
        if not near:
            return None
        block = near[0]
        where = (
            "inside" if block.price_low <= zone.price_low and zone.price_high <= block.price_high else "at"
        )
        text = (
            f"{p.symbol}: confirmed {zone.side} zone {_range(zone.price_low, zone.price_high)} "
            f"(strength {zone.strength:.1f}) {zone.status} {where} {block.status} {block.direction} "
            f"order block {_range(block.price_low, block.price_high)}"
        )
        details: dict[str, Any] = {
            "zone": zone_details(zone),
            "reason": reason,
            "blocks": [block_details(b) for b in near],
        }
        return self._fire(rule, zone.id, zone.ts_ms, text, details)

    def _confirmed_near_mid(self, zone: ZoneRecord, mid: Decimal) -> Alert | None:
        p = self.params
        if not confirmed_zone_near_mid(
            zone.price_low, zone.price_high, zone.strength, mid, p.min_strength, p.near_pct
        ):
            return None
        away = distance_pct(zone.price_low, zone.price_high, mid)
        text = (
            f"{p.symbol}: new confirmed {zone.side} zone {_range(zone.price_low, zone.price_high)}, "
            f"strength {zone.strength:.1f}, {away:.2f}% from mid {decimal_text(mid)}"
        )
        details = {"zone": zone_details(zone), "mid": decimal_text(mid), "distance_pct": f"{away:.4f}"}
        return self._fire(Rule.ZONE_CONFIRMED_NEAR_MID, zone.id, zone.ts_ms, text, details)

    def _stale(self, status: str, since_ms: int, now_ms: int) -> Alert | None:
        down_s = (now_ms - since_ms) / 1000
        text = f"{self.params.symbol}: order book not live for {down_s:.0f} s (status: {status})"
        details = {"status": status, "not_live_since_ms": since_ms, "stale_s": self.params.stale_s}
        return self._fire(Rule.BOOK_STALE, BOOK_OBJECT, now_ms, text, details)

    def _recovered(self, now_ms: int) -> Alert | None:
        """The outage's stale alert went out: so does its end, whatever the cooldown."""
        since_ms = self._not_live_since_ms if self._not_live_since_ms is not None else now_ms
        outage_s = (now_ms - since_ms) / 1000
        text = f"{self.params.symbol}: order book live again after {outage_s:.0f} s"
        details = {"not_live_since_ms": since_ms, "outage_s": round(outage_s, 3)}
        return self._fire(Rule.BOOK_RECOVERED, BOOK_OBJECT, now_ms, text, details, cooldown=False)

    def _fire(
        self,
        rule: Rule,
        object_id: str,
        ts_ms: int,
        text: str,
        details: Mapping[str, Any],
        *,
        cooldown: bool = True,
    ) -> Alert | None:
        if not self.params.enabled(rule):
            return None
        if cooldown and not self.cooldown.allows(rule, object_id, ts_ms):
            self.held_back += 1
            return None
        self.cooldown.note(rule, object_id, ts_ms)
        return make_alert(self.params.symbol, rule, object_id, ts_ms, text, details)

    def _block_id(self, block: BlockRecord) -> str:
        return orderblock_id(block.symbol, block.direction, block.created_ts_ms)
