"""What changed in a reaction, for the log and for deciding what to store and push now. Pure.

The extreme price moves with every new high (low) after a touch: on its own it is not worth a write
and a push every cycle, so it is ``significant`` only together with something else; the listener
stores it with the periodic heartbeat.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from apps.reactions.domain.reaction import Reaction, duration_label, utc_text


def plain(value: Decimal) -> str:
    """87000.50000000 -> 87000.5 (the log's numbers)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def is_significant(before: Reaction | None, after: Reaction) -> bool:
    return before is None or replace(before, extreme_price=after.extreme_price) != after


def describe_change(before: Reaction | None, after: Reaction) -> str:
    """One line: what is new in ``after`` compared with ``before`` (None: a new reaction)."""
    if before is None:
        touch = after.snapshots[0]
        qty = "unknown" if touch is None or touch.qty is None else plain(touch.qty)
        backed = {True: "yes", False: "no", None: "unknown"}[after.backing.backed]
        return (
            f"touched at {plain(after.touch_price)} ({utc_text(after.touch_ts_ms)}); liquidity in "
            f"{plain(after.range_low)}-{plain(after.range_high)}: {qty}; backed: {backed}"
        )
    parts = []
    for offset, old, new in zip((0, *after.offsets_ms), before.snapshots, after.snapshots, strict=True):
        if old is None and new is not None:
            value = "missed" if new.taken_ms is None else ("unknown" if new.qty is None else plain(new.qty))
            parts.append(f"{duration_label(offset) if offset else 'touch'} liquidity {value}")
    seen = {z.zone_id: z.event for z in before.zones}
    parts += [f"zone {z.zone_id} {z.event}" for z in after.zones if seen.get(z.zone_id) != z.event]
    kept = {z.zone_id for z in after.zones}
    parts += [f"zone {zone_id} dropped (left the range or merged)" for zone_id in seen if zone_id not in kept]
    if before.moved_away_ts_ms is None and after.moved_away_ts_ms is not None:
        parts.append(f"moved 1 ATR away at {utc_text(after.moved_away_ts_ms)}")
    if before.invalidated_ts_ms != after.invalidated_ts_ms and after.invalidated_ts_ms is not None:
        parts.append(f"invalidated by the candle closing at {utc_text(after.invalidated_ts_ms)}")
    for horizon, old_outcome, new_outcome in zip(
        after.horizons_ms, before.outcomes, after.outcomes, strict=True
    ):
        if old_outcome is None and new_outcome is not None:
            parts.append(f"{duration_label(horizon)} outcome {new_outcome}")
    if before.state != after.state:
        parts.append(f"{after.state}" + (f": {after.reason}" if after.reason else ""))
    if len(after.notes) > len(before.notes):
        parts.append(after.notes[-1])
    return "; ".join(parts) or "extreme price moved"
