"""One reaction: what liquidity did when price reached a fresh order block, and what the block
did after. Pure: every function takes a reaction and the facts of a moment (``now_ms`` passed in)
and returns the reaction, the same object when nothing changed.

Life of a reaction (``ReactionState``):
- touch: the first trade that enters a fresh block (domain/touches.py) opens it, with the liquidity
  in the block's range on the cycle's book (the first one after the touching trade) and whether the
  block was backed then (domain/liquidity.py);
- snapshots (``take_snapshots``): the liquidity in the range again 1, 5 and 15 min after the touch
  (``SNAPSHOT_OFFSETS_MS``), on the first cycle at or after each time with a live book; one that has
  no live book within ``snapshot_late_ms`` of its time is recorded as missed, with the reason;
- zone events (``observe_zones``): until the last snapshot, every liquidity zone on the block's side
  overlapping the range: ``held`` (still there at the end), ``pulled`` or ``broken`` (with when). A
  zone that leaves the range or the zone set otherwise (merged into a neighbour, discarded as a
  blip) is dropped; the zone that took its range over, if any, is listed itself;
- outcomes (``decide_outcomes``) 1, 4 and 24 h after the touch (``OUTCOME_HORIZONS_MS``), each by
  ``outcome_at``: ``invalidated`` when a 1h candle closed beyond the zone by then (the seed's
  ``is_invalidated``; the close time counts), else ``held`` when a trade since the touch reached
  1 ATR14 (the block's atr14) beyond the zone in the block's direction (``away_level``: above
  price_high for bullish, below price_low for bearish), else ``undecided``. Each is decided
  ``outcome_settle_ms`` after its horizon, so that the candle closing at it has arrived and been
  stored;
- done once every snapshot and outcome is in. After a restart (``resume_after_restart``) a pending
  reaction resumes when nothing fell due while the service was not watching; otherwise it is closed
  as ``unknown`` with the reason, its missing snapshots and outcomes ``unknown`` too: never guessed,
  never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

from apps.book.domain.events import Side, Trade
from apps.confluence.domain.liquidity import ConfluenceParams, padded_range
from apps.orderblocks.domain.engine import is_invalidated
from apps.orderblocks.domain.enums import Direction
from apps.reactions.domain.enums import Outcome, ReactionState, ZoneEvent
from apps.reactions.domain.liquidity import Backing, Liquidity, ZoneLike, overlaps
from apps.reactions.domain.touches import BlockRef
from apps.zones.domain.detection import ZoneParams
from apps.zones.domain.enums import LIVE_STATUSES, ZoneStatus

SNAPSHOT_OFFSETS_MS: tuple[int, ...] = (60_000, 300_000, 900_000)  # 1, 5, 15 min after the touch
OUTCOME_HORIZONS_MS: tuple[int, ...] = (3_600_000, 14_400_000, 86_400_000)  # 1, 4, 24 h
ENDED_EVENTS = {ZoneStatus.PULLED: ZoneEvent.PULLED, ZoneStatus.BROKEN: ZoneEvent.BROKEN}

Measure = Callable[[Side, Decimal, Decimal], Liquidity]  # liquidity of a side in [low, high]


@dataclass(frozen=True, slots=True)
class ReactionParams:
    """The steps (defaults are the spec's; tests may shorten them) and how ranges are measured."""

    snapshot_offsets_ms: tuple[int, ...] = SNAPSHOT_OFFSETS_MS
    outcome_horizons_ms: tuple[int, ...] = OUTCOME_HORIZONS_MS
    snapshot_late_ms: int = 30_000
    outcome_settle_ms: int = 60_000
    pad_bins: int = 1  # CONFLUENCE_PAD_BINS
    zone: ZoneParams = field(default_factory=ZoneParams)  # bin size, band, wall multiplier

    def __post_init__(self) -> None:
        for name in ("snapshot_offsets_ms", "outcome_horizons_ms"):
            steps = getattr(self, name)
            if not steps or steps[0] <= 0 or any(b <= a for a, b in pairwise(steps)):
                raise ValueError(f"{name} must be positive and ascending, got {steps}")
        if self.snapshot_late_ms < 0 or self.outcome_settle_ms < 0 or self.pad_bins < 0:
            raise ValueError("snapshot_late_ms, outcome_settle_ms and pad_bins must be >= 0")

    @property
    def confluence(self) -> ConfluenceParams:
        """The range and backing are measured as confluence measures them (same padding, grid, band)."""
        return ConfluenceParams(zone=self.zone, pad_bins=self.pad_bins)


def duration_label(ms: int) -> str:
    """60_000 -> "1m", 14_400_000 -> "4h", 86_400_000 -> "24h" (the largest whole unit)."""
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The liquidity in the range at one step; qty/notional None when unknown (``note`` says why)."""

    at_ms: int  # the step's time: the touch + its offset
    taken_ms: int | None  # the cycle it was measured in; None when missed
    qty: Decimal | None
    notional: Decimal | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ZoneSighting:
    zone_id: str
    price_low: Decimal
    price_high: Decimal
    first_status: str  # the zone's status when first seen in the window
    event: ZoneEvent
    ts_ms: int  # held: when first seen; pulled/broken: when it ended


@dataclass(frozen=True, slots=True)
class Reaction:
    symbol: str
    block: BlockRef
    touch_ts_ms: int
    touch_price: Decimal
    range_low: Decimal  # the block's range widened by pad_bins bins
    range_high: Decimal
    backing: Backing
    offsets_ms: tuple[int, ...]
    horizons_ms: tuple[int, ...]
    snapshots: tuple[Snapshot | None, ...]  # the touch, then one per offset; None: not yet
    zones: tuple[ZoneSighting, ...]
    extreme_price: Decimal  # the furthest trade in the block's direction since the touch
    moved_away_ts_ms: int | None  # the first trade at or beyond away_level
    invalidated_ts_ms: int | None  # close time of the first candle closing beyond the zone
    outcomes: tuple[Outcome | None, ...]  # one per horizon; None: not decided yet
    state: ReactionState
    reason: str = ""  # why it was closed as unknown
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.block.id

    @property
    def window_end_ms(self) -> int:
        return self.touch_ts_ms + self.offsets_ms[-1]


def reaction_range(block: BlockRef, params: ReactionParams) -> tuple[Decimal, Decimal]:
    return padded_range(block.price_low, block.price_high, params.confluence)


def away_level(block: BlockRef) -> Decimal:
    """Where price has moved 1 ATR14 away from the zone in the block's direction."""
    if block.direction == Direction.BULLISH:
        return block.price_high + block.atr14
    return block.price_low - block.atr14


def has_moved_away(direction: str, price: Decimal, level: Decimal) -> bool:
    return price >= level if direction == Direction.BULLISH else price <= level


def touched_reaction(
    symbol: str,
    block: BlockRef,
    trade: Trade,
    measured_ms: int,
    liquidity: Liquidity,
    backing: Backing,
    params: ReactionParams,
) -> Reaction:
    """A new reaction: ``trade`` touched ``block``; ``liquidity`` and ``backing`` were measured on
    the book of the cycle at ``measured_ms``."""
    low, high = reaction_range(block, params)
    moved = trade.ts_ms if has_moved_away(block.direction, trade.price, away_level(block)) else None
    return Reaction(
        symbol=symbol,
        block=block,
        touch_ts_ms=trade.ts_ms,
        touch_price=trade.price,
        range_low=low,
        range_high=high,
        backing=backing,
        offsets_ms=params.snapshot_offsets_ms,
        horizons_ms=params.outcome_horizons_ms,
        snapshots=(
            Snapshot(trade.ts_ms, measured_ms, liquidity.qty, liquidity.notional, liquidity.note),
            *(None for _ in params.snapshot_offsets_ms),
        ),
        zones=(),
        extreme_price=trade.price,
        moved_away_ts_ms=moved,
        invalidated_ts_ms=None,
        outcomes=tuple(None for _ in params.outcome_horizons_ms),
        state=ReactionState.PENDING,
    )


def follow_trades(
    r: Reaction, trades: Sequence[Trade], low: Decimal | None = None, high: Decimal | None = None
) -> Reaction:
    """Carry the extreme price and the first move 1 ATR14 away through ``trades`` (those after the
    touch and up to the last horizon). ``low``/``high``: the trades' extremes, when the caller has
    them, to skip the scan when they cannot change anything."""
    if r.state is not ReactionState.PENDING or not trades:
        return r
    bullish = r.block.direction == Direction.BULLISH
    if (
        high is not None
        and low is not None
        and (high <= r.extreme_price if bullish else low >= r.extreme_price)
    ):
        return r  # no new extreme, so no new move away either
    level = away_level(r.block)
    extreme, moved = r.extreme_price, r.moved_away_ts_ms
    last_ms = r.touch_ts_ms + r.horizons_ms[-1]
    for trade in trades:
        if not r.touch_ts_ms <= trade.ts_ms <= last_ms:
            continue
        if trade.price > extreme if bullish else trade.price < extreme:
            extreme = trade.price
        if moved is None and has_moved_away(r.block.direction, trade.price, level):
            moved = trade.ts_ms
    if extreme == r.extreme_price and moved == r.moved_away_ts_ms:
        return r
    return replace(r, extreme_price=extreme, moved_away_ts_ms=moved)


def note_invalidation(r: Reaction, close_ts_ms: int) -> Reaction:
    """A candle closing at ``close_ts_ms`` closed beyond the zone (the earliest one counts)."""
    if r.state is not ReactionState.PENDING:
        return r
    if r.invalidated_ts_ms is not None and r.invalidated_ts_ms <= close_ts_ms:
        return r
    return replace(r, invalidated_ts_ms=close_ts_ms)


def note_close(r: Reaction, close_ts_ms: int, close: Decimal) -> Reaction:
    """A closed 1h candle: the seed's ``is_invalidated`` on its close."""
    if is_invalidated(close, r.block.price_low, r.block.price_high, r.block.direction):
        return note_invalidation(r, close_ts_ms)
    return r


def observe_zones(r: Reaction, zones: Iterable[ZoneLike], now_ms: int) -> Reaction:
    """Fold the current zone set into the sightings, while the last snapshot is still to come."""
    if r.state is not ReactionState.PENDING or r.snapshots[-1] is not None:
        return r
    seen = {s.zone_id: s for s in r.zones}
    updated = dict(seen)
    present: set[str] = set()
    for zone in zones:
        if zone.side != r.block.side or not overlaps(
            zone.price_low, zone.price_high, r.range_low, r.range_high
        ):
            continue
        present.add(zone.id)
        before = seen.get(zone.id)
        if zone.status in LIVE_STATUSES:
            if before is None:
                updated[zone.id] = ZoneSighting(
                    zone.id, zone.price_low, zone.price_high, zone.status, ZoneEvent.HELD, now_ms
                )
        elif zone.status in ENDED_EVENTS and zone.ts_ms >= r.touch_ts_ms:
            if before is None or before.event is ZoneEvent.HELD:
                first = before.first_status if before is not None else zone.status
                event = ENDED_EVENTS[ZoneStatus(zone.status)]
                updated[zone.id] = ZoneSighting(
                    zone.id, zone.price_low, zone.price_high, first, event, zone.ts_ms
                )
    for zone_id, sighting in seen.items():
        if sighting.event is ZoneEvent.HELD and zone_id not in present:
            del updated[zone_id]  # left the range or the set without being pulled or broken
    result = tuple(updated.values())
    return r if result == r.zones else replace(r, zones=result)


def take_snapshots(
    r: Reaction, now_ms: int, measure: Measure | None, unavailable: str, late_ms: int
) -> Reaction:
    """Take the snapshots that are due, in order. ``measure`` None: no live book this cycle
    (``unavailable`` says what the book is); a snapshot then waits up to ``late_ms``."""
    if r.state is not ReactionState.PENDING:
        return r
    snapshots = list(r.snapshots)
    for i, offset in enumerate(r.offsets_ms, start=1):
        if snapshots[i] is not None:
            continue
        at = r.touch_ts_ms + offset
        if now_ms < at:
            break
        if measure is not None:
            liquidity = measure(r.block.side, r.range_low, r.range_high)
            snapshots[i] = Snapshot(at, now_ms, liquidity.qty, liquidity.notional, liquidity.note)
        elif now_ms - at > late_ms:
            note = f"missed: no live book ({unavailable}) within {late_ms / 1000:g} s of its time"
            snapshots[i] = Snapshot(at, None, None, None, note)
        else:
            break  # wait for a live book; later snapshots wait behind it
    result = tuple(snapshots)
    return r if result == r.snapshots else replace(r, snapshots=result)


def outcome_at(r: Reaction, due_ms: int) -> Outcome:
    if r.invalidated_ts_ms is not None and r.invalidated_ts_ms <= due_ms:
        return Outcome.INVALIDATED
    if r.moved_away_ts_ms is not None and r.moved_away_ts_ms <= due_ms:
        return Outcome.HELD
    return Outcome.UNDECIDED


def decide_outcomes(r: Reaction, now_ms: int, settle_ms: int) -> Reaction:
    if r.state is not ReactionState.PENDING:
        return r
    outcomes = list(r.outcomes)
    for i, horizon in enumerate(r.horizons_ms):
        due = r.touch_ts_ms + horizon
        if outcomes[i] is None and now_ms >= due + settle_ms:
            outcomes[i] = outcome_at(r, due)
    result = tuple(outcomes)
    return r if result == r.outcomes else replace(r, outcomes=result)


def completed(r: Reaction) -> Reaction:
    """Done once every snapshot and every outcome is in."""
    if r.state is ReactionState.PENDING and None not in r.snapshots and None not in r.outcomes:
        return replace(r, state=ReactionState.DONE)
    return r


def advance(
    r: Reaction,
    now_ms: int,
    trades: Sequence[Trade],
    zones: Sequence[ZoneLike],
    measure: Measure | None,
    unavailable: str,
    params: ReactionParams,
) -> Reaction:
    """One cycle: trades, zones, due snapshots, due outcomes (zones before the snapshots, so the
    window's last look is the cycle of its last snapshot)."""
    prices = [trade.price for trade in trades]
    low, high = (min(prices), max(prices)) if prices else (None, None)
    r = follow_trades(r, trades, low, high)
    r = observe_zones(r, zones, now_ms)
    r = take_snapshots(r, now_ms, measure, unavailable, params.snapshot_late_ms)
    r = decide_outcomes(r, now_ms, params.outcome_settle_ms)
    return completed(r)


def step_names(r: Reaction) -> list[tuple[int, str]]:
    """(due time, name) of the steps not taken yet, soonest first."""
    steps = [
        (r.touch_ts_ms + offset, f"{duration_label(offset)} snapshot")
        for offset, snapshot in zip(r.offsets_ms, r.snapshots[1:], strict=True)
        if snapshot is None
    ]
    steps += [
        (r.touch_ts_ms + horizon, f"{duration_label(horizon)} outcome")
        for horizon, outcome in zip(r.horizons_ms, r.outcomes, strict=True)
        if outcome is None
    ]
    return sorted(steps)


def close_unknown(r: Reaction, reason: str) -> Reaction:
    """Closed early: what is missing is unknown, never guessed."""
    missing = f"not taken: {reason}"
    snapshots = tuple(
        s if s is not None else Snapshot(r.touch_ts_ms + offset, None, None, None, missing)
        for s, offset in zip(r.snapshots, (0, *r.offsets_ms), strict=True)
    )
    outcomes = tuple(o if o is not None else Outcome.UNKNOWN for o in r.outcomes)
    return replace(r, snapshots=snapshots, outcomes=outcomes, state=ReactionState.UNKNOWN, reason=reason)


def resume_after_restart(r: Reaction, now_ms: int, watched_until_ms: int) -> Reaction:
    """A pending reaction read back at start. The service watched it up to ``watched_until_ms``.
    Closed as unknown when a snapshot's time has passed, or an outcome's horizon passed after the
    last moment watched (its trades were not seen); else resumed, with a note of the gap."""
    if r.state is not ReactionState.PENDING:
        return r
    for due, name in step_names(r):
        is_snapshot = name.endswith("snapshot")
        if due < now_ms and (is_snapshot or due > watched_until_ms):
            return close_unknown(
                r,
                f"the service was not running at the {name} ({utc_text(due)}); "
                f"it stopped watching at {utc_text(watched_until_ms)} and restarted at {utc_text(now_ms)}",
            )
    note = (
        f"resumed at {utc_text(now_ms)} after a restart; trades from {utc_text(watched_until_ms)} "
        "until then were not seen"
    )
    return replace(r, notes=(*r.notes, note))
