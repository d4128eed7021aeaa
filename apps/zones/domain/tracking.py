"""Zone identity and life cycle across publication cycles.

Pure: no Django, no I/O; time comes in as ``now_ms``. One ``ZoneTracker`` per symbol.

- Identity: a detected zone continues a tracked zone on the same side when their price ranges
  overlap, the tracked range widened by ``match_tolerance`` (one bin) on each side so an edge, or a
  one-bin zone, moving by a bin keeps its id. Largest overlap wins (then larger notional); in a
  split the larger part keeps the id. Ids are ``symbol:side:low-high`` of the bounds at first sight
  (``@first_seen_ts_ms`` appended only if that id is still in use by another zone).
- persistence_s = (now - first_seen) / 1000 (``persistence_s``: the one definition, which the store
  also runs as SQL for zones only seen again).
- candidate -> confirmed once persistence_s >= confirm_s and strength >= strength_threshold in each
  of the last ``confirm_cycles`` cycles (a cycle in which the zone was missing counts as failing)
  (``is_confirmable``). Confirmation is not revoked.
- Missing for ``grace_cycles`` cycles in a row: the zone has disappeared. Lived < discard_s ->
  discarded (leaves at once). Still covered by a zone seen now -> merged into it (leaves at once).
  Otherwise broken if trades printed at or through its range since it was last seen, or the mid
  crossed into it; pulled if the liquidity vanished without that (the spoofing signal)
  (``ZoneTracker._end``). Broken and pulled zones linger in the current set for ``linger_s``, then leave.
- Statuses are ``ZoneStatus`` members (apps/zones/domain/enums.py), sides ``Side`` members: both
  are the plain strings they name.
- A zone seen again whose bounds, notional, strength and status are unchanged is only
  "refreshed" (its last_seen/persistence move on in storage; nothing is pushed for it).
- Cycles where the book is not live do not advance anything (``observe_trades`` only records trade
  evidence), so an outage never reads as every zone vanishing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, overload

from apps.book.domain.events import Side, Trade
from apps.zones.domain.detection import DetectedZone
from apps.zones.domain.enums import ENDED_STATUSES, LIVE_STATUSES, ZoneStatus

MS_PER_S = 1000.0


@overload
def persistence_s(first_seen_ts_ms: int, now_ms: int) -> float: ...
@overload
def persistence_s(first_seen_ts_ms: Any, now_ms: Any) -> Any: ...
def persistence_s(first_seen_ts_ms: Any, now_ms: Any) -> Any:
    """Seconds since the zone was first seen: (now_ms - first_seen_ts_ms) / 1000.

    Plain ``-`` and ``/`` only, so the store passes database expressions (a column and the cycle's
    time) and the database computes this same rule; the float divisor makes it a true division
    there too. On ints it equals ``(now_ms - first_seen_ts_ms) / 1000`` exactly.
    """
    return (now_ms - first_seen_ts_ms) / MS_PER_S


@dataclass(frozen=True, slots=True)
class TrackerParams:
    symbol: str
    confirm_s: float = 30.0
    confirm_cycles: int = 5
    strength_threshold: float = 4.0
    grace_cycles: int = 2
    discard_s: float = 10.0
    linger_s: float = 60.0
    match_tolerance: Decimal = Decimal("50")  # one bin

    @classmethod
    def from_config(cls, config: Any) -> TrackerParams:
        return cls(
            symbol=config.symbol,
            confirm_s=float(config.zone_confirm_s),
            confirm_cycles=int(config.zone_confirm_cycles),
            strength_threshold=float(config.zone_strength_threshold),
            grace_cycles=int(config.zone_grace_cycles),
            discard_s=float(config.zone_discard_s),
            linger_s=float(config.zone_linger_s),
            match_tolerance=Decimal(config.zone_bin_size),
        )


@dataclass(frozen=True, slots=True)
class ZoneRecord:
    """One zone as stored in orderbook_zones_current (attribute names match the model)."""

    id: str
    ts_ms: int  # cycle in which this state was reached
    symbol: str
    side: Side
    price_low: Decimal
    price_high: Decimal
    notional: Decimal
    strength: float
    persistence_s: float
    status: ZoneStatus  # candidate | confirmed | broken | pulled (history also: discarded | merged)
    first_seen_ts_ms: int
    last_seen_ts_ms: int
    book_update_id: int


@dataclass(frozen=True, slots=True)
class ZoneTransition:
    """One state change, for the log: ``old`` None means the zone is new."""

    zone_id: str
    old: ZoneStatus | None
    new: ZoneStatus  # candidate | confirmed | broken | pulled | discarded | merged | expired
    reason: str


@dataclass(frozen=True, slots=True)
class TrackerUpdate:
    """What one cycle changed in the current set."""

    added: tuple[ZoneRecord, ...] = ()
    changed: tuple[ZoneRecord, ...] = ()
    removed: tuple[str, ...] = ()
    # seen again with the same bounds, notional, strength and status: only last_seen_ts_ms,
    # persistence_s, ts_ms and book_update_id moved on (stored, not pushed, not in history)
    refreshed: tuple[str, ...] = ()
    transitions: tuple[ZoneTransition, ...] = ()
    history: tuple[ZoneRecord, ...] = ()  # added + changed + final states of zones that left at once

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


@dataclass(slots=True)
class _Tracked:
    record: ZoneRecord
    strengths: deque[float | None]
    missing: int = 0
    traded_inside: bool = False
    crossed: bool = False
    ended_ms: int | None = None
    evidence: list[str] = field(default_factory=list)
    # (ts_ms, book_update_id) of a sighting not yet folded into ``record``: a zone seen again with
    # the same shape only moves its clock, so the record is rebuilt lazily (cheap with many zones)
    seen: tuple[int, int] | None = None

    def synced(self) -> ZoneRecord:
        if self.seen is not None:
            now_ms, update_id = self.seen
            self.record = replace(
                self.record,
                ts_ms=now_ms,
                last_seen_ts_ms=now_ms,
                persistence_s=persistence_s(self.record.first_seen_ts_ms, now_ms),
                book_update_id=update_id,
            )
            self.seen = None
        return self.record

    @property
    def side(self) -> Side:
        return self.record.side

    @property
    def live(self) -> bool:
        return self.record.status in LIVE_STATUSES


def zone_id(symbol: str, side: Side, price_low: Decimal, price_high: Decimal) -> str:
    return f"{symbol}:{side}:{_plain(price_low)}-{_plain(price_high)}"


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _overlap(low_a: Decimal, high_a: Decimal, low_b: Decimal, high_b: Decimal) -> Decimal:
    return min(high_a, high_b) - max(low_a, low_b)


def is_confirmable(
    status: ZoneStatus, persistence: float, strengths: Iterable[float | None], params: TrackerParams
) -> bool:
    """A candidate confirms once persistence_s >= confirm_s and strength >= strength_threshold in
    each of the last ``confirm_cycles`` cycles (``strengths``, None for a cycle it was missing)."""
    if status != ZoneStatus.CANDIDATE or persistence < params.confirm_s:
        return False
    recent = list(strengths)[-params.confirm_cycles :] if params.confirm_cycles > 0 else []
    return len(recent) >= params.confirm_cycles and all(
        s is not None and s >= params.strength_threshold for s in recent
    )


@dataclass(slots=True)
class _Changes:
    """What one cycle changed so far, in the order it happened."""

    added: list[ZoneRecord] = field(default_factory=list)
    changed: list[ZoneRecord] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    transitions: list[ZoneTransition] = field(default_factory=list)
    history: list[ZoneRecord] = field(default_factory=list)

    def result(self) -> TrackerUpdate:
        return TrackerUpdate(
            added=tuple(sorted(self.added, key=_order)),
            changed=tuple(sorted(self.changed, key=_order)),
            removed=tuple(self.removed),
            refreshed=tuple(self.refreshed),
            transitions=tuple(self.transitions),
            history=tuple(self.history),
        )


class ZoneTracker:
    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self._zones: dict[str, _Tracked] = {}

    # -- reading -------------------------------------------------------------------------------
    def current(self) -> list[ZoneRecord]:
        """Every zone in the current set (live and lingering), by side then price."""
        return sorted((t.synced() for t in self._zones.values()), key=_order)

    def __len__(self) -> int:
        return len(self._zones)

    # -- feeding -------------------------------------------------------------------------------
    def restore(self, records: Iterable[ZoneRecord]) -> None:
        """Continue from a stored current set (e.g. after a restart). Lingering zones keep their
        end time (their ts_ms); live ones start a fresh confirmation window."""
        for record in records:
            tracked = _Tracked(record=record, strengths=deque(maxlen=self.params.confirm_cycles))
            if record.status not in LIVE_STATUSES:
                tracked.ended_ms = record.ts_ms
            self._zones[record.id] = tracked

    def observe_trades(self, trades: Sequence[Trade]) -> None:
        """Record trade evidence without advancing the cycle (the book is not live)."""
        tape = _TradeTape(trades)
        for tracked in self._zones.values():
            if tracked.live:
                tape.note(tracked)

    def update(
        self,
        now_ms: int,
        detected: Sequence[DetectedZone],
        mid: Decimal,
        trades: Sequence[Trade],
        update_id: int,
    ) -> TrackerUpdate:
        """Advance one live cycle: ``detected`` are this cycle's zones, ``trades`` happened since
        the previous cycle, ``mid`` is this cycle's mid price."""
        changes = _Changes()
        self._expire(now_ms, changes)  # lingering zones whose time is up leave first
        live = [t for t in self._zones.values() if t.live]
        tape = _TradeTape(trades)
        for tracked in live:
            tape.note(tracked)
        matches = match_zones(live, detected, self.params.match_tolerance)
        for position, zone in enumerate(detected):
            match = matches.get(position)
            if match is None:
                self._add(now_ms, zone, update_id, changes)
            else:
                self._follow(match, now_ms, zone, update_id, changes)
        seen = {tracked.record.id for tracked in matches.values()}
        for tracked in live:
            if tracked.record.id not in seen:
                self._miss(tracked, now_ms, detected, mid, changes)
        return changes.result()

    # -- internals -----------------------------------------------------------------------------
    def _expire(self, now_ms: int, changes: _Changes) -> None:
        linger_ms = self.params.linger_s * 1000
        for tracked in list(self._zones.values()):
            if tracked.ended_ms is not None and now_ms - tracked.ended_ms >= linger_ms:
                r = tracked.record
                del self._zones[r.id]
                changes.removed.append(r.id)
                reason = f"shown {self.params.linger_s:g} s after it ended"
                changes.transitions.append(ZoneTransition(r.id, r.status, ZoneStatus.EXPIRED, reason))

    def _add(self, now_ms: int, zone: DetectedZone, update_id: int, changes: _Changes) -> None:
        """A zone no tracked zone continues: a new candidate."""
        record = self._create(now_ms, zone, update_id)
        changes.transitions.append(ZoneTransition(record.id, None, ZoneStatus.CANDIDATE, "new wall cluster"))
        tracked = self._zones[record.id]
        promoted = self._maybe_confirm(tracked, now_ms)
        if promoted:
            changes.transitions.append(promoted)
        changes.added.append(tracked.record)
        changes.history.append(tracked.record)

    def _follow(
        self, tracked: _Tracked, now_ms: int, zone: DetectedZone, update_id: int, changes: _Changes
    ) -> None:
        """A tracked zone seen again as ``zone``: refreshed if nothing shown changed, else changed."""
        before = tracked.record
        tracked.missing = 0
        tracked.traded_inside = tracked.crossed = False
        tracked.evidence.clear()
        tracked.strengths.append(zone.strength)
        persistence = persistence_s(before.first_seen_ts_ms, now_ms)
        same_shape = (
            zone.price_low == before.price_low
            and zone.price_high == before.price_high
            and zone.notional == before.notional
            and zone.strength == before.strength
        )
        if same_shape and not is_confirmable(before.status, persistence, tracked.strengths, self.params):
            tracked.seen = (now_ms, update_id)
            changes.refreshed.append(before.id)
            return
        tracked.seen = None
        tracked.record = replace(
            before,
            ts_ms=now_ms,
            price_low=zone.price_low,
            price_high=zone.price_high,
            notional=zone.notional,
            strength=zone.strength,
            last_seen_ts_ms=now_ms,
            persistence_s=persistence,
            book_update_id=update_id,
        )
        promoted = self._maybe_confirm(tracked, now_ms)
        if promoted:
            changes.transitions.append(promoted)
        changes.changed.append(tracked.record)
        changes.history.append(tracked.record)

    def _miss(
        self,
        tracked: _Tracked,
        now_ms: int,
        detected: Sequence[DetectedZone],
        mid: Decimal,
        changes: _Changes,
    ) -> None:
        """A live zone not seen this cycle: gone after ``grace_cycles`` such cycles in a row."""
        tracked.missing += 1
        tracked.strengths.append(None)
        self._note_mid(tracked, mid)
        if tracked.missing < self.params.grace_cycles:
            return
        ended = self._end(tracked, now_ms, detected)
        changes.transitions.append(ended)
        if ended.new in ENDED_STATUSES:
            changes.changed.append(tracked.record)
            changes.history.append(tracked.record)
        else:
            del self._zones[tracked.record.id]
            changes.removed.append(tracked.record.id)
            changes.history.append(replace(tracked.record, ts_ms=now_ms, status=ended.new))

    def _create(self, now_ms: int, zone: DetectedZone, update_id: int) -> ZoneRecord:
        symbol = self.params.symbol
        new_id = zone_id(symbol, zone.side, zone.price_low, zone.price_high)
        if new_id in self._zones:
            new_id = f"{new_id}@{now_ms}"
        record = ZoneRecord(
            id=new_id,
            ts_ms=now_ms,
            symbol=symbol,
            side=zone.side,
            price_low=zone.price_low,
            price_high=zone.price_high,
            notional=zone.notional,
            strength=zone.strength,
            persistence_s=persistence_s(now_ms, now_ms),
            status=ZoneStatus.CANDIDATE,
            first_seen_ts_ms=now_ms,
            last_seen_ts_ms=now_ms,
            book_update_id=update_id,
        )
        strengths: deque[float | None] = deque([zone.strength], maxlen=self.params.confirm_cycles)
        self._zones[new_id] = _Tracked(record=record, strengths=strengths)
        return record

    def _maybe_confirm(self, tracked: _Tracked, now_ms: int) -> ZoneTransition | None:
        p = self.params
        r = tracked.record
        if not is_confirmable(r.status, r.persistence_s, tracked.strengths, p):
            return None
        tracked.record = replace(r, status=ZoneStatus.CONFIRMED, ts_ms=now_ms)
        return ZoneTransition(
            r.id,
            ZoneStatus.CANDIDATE,
            ZoneStatus.CONFIRMED,
            f"persisted {r.persistence_s:g} s with strength >= {p.strength_threshold:g} "
            f"in the last {p.confirm_cycles} cycles",
        )

    def _note_mid(self, tracked: _Tracked, mid: Decimal) -> None:
        r = tracked.record
        reached = mid <= r.price_high if r.side == Side.BID else mid >= r.price_low
        if reached and not tracked.crossed:
            tracked.evidence.append(f"mid {_plain(mid)} reached the zone")
            tracked.crossed = True

    def _end(self, tracked: _Tracked, now_ms: int, detected: Sequence[DetectedZone]) -> ZoneTransition:
        r = tracked.synced()
        missing = f"missing {tracked.missing} cycles"
        if r.persistence_s < self.params.discard_s:
            return ZoneTransition(
                r.id,
                r.status,
                ZoneStatus.DISCARDED,
                f"{missing} after living {r.persistence_s:g} s < {self.params.discard_s:g} s",
            )
        for zone in detected:
            if (
                zone.side == r.side
                and _overlap(r.price_low, r.price_high, zone.price_low, zone.price_high) > 0
            ):
                return ZoneTransition(
                    r.id,
                    r.status,
                    ZoneStatus.MERGED,
                    f"{missing}; its range is now part of {_plain(zone.price_low)}-{_plain(zone.price_high)}",
                )
        broken = tracked.traded_inside or tracked.crossed
        status = ZoneStatus.BROKEN if broken else ZoneStatus.PULLED
        reason = "; ".join(tracked.evidence) if broken else "liquidity vanished without trades there"
        tracked.record = replace(r, status=status, ts_ms=now_ms)
        tracked.ended_ms = now_ms
        return ZoneTransition(r.id, r.status, status, f"{missing}; {reason}")


def match_zones(
    live: list[_Tracked], detected: Sequence[DetectedZone], tolerance: Decimal
) -> dict[int, _Tracked]:
    """Which tracked zone each detected zone continues (by position in ``detected``): greedy
    one-to-one assignment by (overlap, overlap with the tracked range widened by ``tolerance`` on
    each side, notional). Only widened overlaps > 0 on the same side are candidates.

    Candidates are found per side with the tracked zones sorted by their widened low and a
    running maximum of their widened high, so each detected zone only looks at zones near it.
    """
    by_side: dict[Side, tuple[list[Decimal], list[Decimal], list[_Tracked]]] = {}
    for side in {t.side for t in live}:
        ordered = sorted((t for t in live if t.side == side), key=lambda t: t.record.price_low)
        lows = [t.record.price_low - tolerance for t in ordered]
        reach: list[Decimal] = []
        for t in ordered:
            high = t.record.price_high + tolerance
            reach.append(high if not reach or high > reach[-1] else reach[-1])
        by_side[side] = (lows, reach, ordered)
    candidates = []
    for position, zone in enumerate(detected):
        index = by_side.get(zone.side)
        if index is None:
            continue
        lows, reach, ordered = index
        j = bisect_left(lows, zone.price_high) - 1  # every zone at or before j starts below our high
        while j >= 0 and reach[j] > zone.price_low:
            r = ordered[j].record
            widened = _overlap(
                r.price_low - tolerance, r.price_high + tolerance, zone.price_low, zone.price_high
            )
            if widened > 0:
                raw = _overlap(r.price_low, r.price_high, zone.price_low, zone.price_high)
                candidates.append((raw, widened, zone.notional, r.notional, r.id, position, ordered[j]))
            j -= 1
    candidates.sort(key=lambda c: (-c[0], -c[1], -c[2], -c[3], c[4], c[5]))
    matches: dict[int, _Tracked] = {}
    used: set[str] = set()
    for *_, tracked_id, position, tracked in candidates:
        if position in matches or tracked_id in used:
            continue
        matches[position] = tracked
        used.add(tracked_id)
    return matches


class _TradeTape:
    """The trades of one cycle, sorted by price, to test many zones against cheaply."""

    def __init__(self, trades: Sequence[Trade]) -> None:
        self.prices = sorted(trade.price for trade in trades)

    def note(self, tracked: _Tracked) -> None:
        """Record on ``tracked`` whether trades printed inside it or beyond it (through it)."""
        prices = self.prices
        if not prices:
            return
        r = tracked.record
        i = bisect_left(prices, r.price_low)
        if i < len(prices) and prices[i] <= r.price_high:
            if not tracked.traded_inside:
                tracked.evidence.append(f"trade at {_plain(prices[i])} inside the zone")
            tracked.traded_inside = True
        beyond = prices[0] if r.side == Side.BID and prices[0] < r.price_low else None
        if r.side == Side.ASK and prices[-1] > r.price_high:
            beyond = prices[-1]
        if beyond is not None:
            if not tracked.crossed:
                tracked.evidence.append(f"trade at {_plain(beyond)} beyond the zone")
            tracked.crossed = True


def _order(record: ZoneRecord) -> tuple[str, Decimal, str]:
    return (record.side, record.price_low, record.id)
