"""The reaction state machine, pure: touch, snapshots at 1/5/15 min, zone events, outcomes at
1/4/24 h, and a restart in the middle. Every time is passed in."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from apps.reactions.domain.enums import Outcome, ReactionState, ZoneEvent
from apps.reactions.domain.reaction import (
    close_unknown,
    duration_label,
    outcome_at,
    resume_after_restart,
)
from apps.reactions.domain.tracker import ReactionTracker, Restored
from tests.reactions.machine import Run
from tests.reactions.scene import BEAR, BULL, HOUR_MS, MIN_MS, PARAMS, bid_zone, set_level

TOUCH = 9_500


def touched(run: Run | None = None) -> Run:
    run = run or Run()
    run.cycle(9_000, (8_000, "86300"))
    assert run.cycle(10_000, (9_000, "86200"), (TOUCH, "86080"), (9_800, "86120")) != []
    return run


def test_the_first_trade_into_a_fresh_block_opens_a_reaction_with_the_liquidity_then():
    run = touched()
    r = run.reaction
    assert r.id == BULL.id and r.state is ReactionState.PENDING
    assert (r.touch_ts_ms, r.touch_price) == (TOUCH, D("86080"))
    assert (r.range_low, r.range_high) == (D("85950"), D("86150"))
    touch = r.snapshots[0]
    assert touch is not None and (touch.at_ms, touch.taken_ms) == (TOUCH, 10_000)
    assert touch.qty == 21 - 1 + 30  # the wall at 86020 inside the padded range
    # confluence's score: the range (21 levels, the wall's among them) over same-width windows of 21
    assert r.backing.backed is False and r.backing.score == pytest.approx(50 / 21)
    assert r.snapshots[1:] == (None, None, None) and r.outcomes == (None, None, None)
    assert r.extreme_price == D("86120")  # the trade after the touch, in the bullish direction
    assert run.cycle(11_000, (10_500, "86050")) == []  # a second touch of the block: nothing new
    assert BULL.id in run.tracker.reacted and len(run.tracker.blocks) == 0


def test_snapshots_are_taken_on_the_first_cycle_at_or_after_1_5_and_15_minutes():
    run = touched()
    taken = {}
    for now in range(10_000 + 1_000, TOUCH + 16 * MIN_MS, 1_000):
        if now == 3 * MIN_MS + 10_000:
            set_level(run.book, "86020", "0")  # the wall is pulled between 1 and 5 min
        for r in run.cycle(now):
            for i, s in enumerate(r.snapshots[1:], start=1):
                if s is not None and i not in taken:
                    taken[i] = (s.at_ms, s.taken_ms, s.qty)
    assert taken == {
        1: (TOUCH + MIN_MS, TOUCH + MIN_MS + 500, D(50)),
        2: (TOUCH + 5 * MIN_MS, TOUCH + 5 * MIN_MS + 500, D(20)),
        3: (TOUCH + 15 * MIN_MS, TOUCH + 15 * MIN_MS + 500, D(20)),
    }
    assert [duration_label(o) for o in run.reaction.offsets_ms] == ["1m", "5m", "15m"]


def test_a_snapshot_waits_for_a_live_book_and_is_missed_after_the_grace_with_the_reason():
    run = touched()
    run.live = False
    run.every(TOUCH + MIN_MS, TOUCH + MIN_MS + 20_000, 5_000)
    assert run.reaction.snapshots[1] is None  # waiting
    run.live = True
    run.cycle(TOUCH + MIN_MS + 25_000)
    assert run.reaction.snapshots[1].taken_ms == TOUCH + MIN_MS + 25_000
    run.live = False
    run.every(TOUCH + 5 * MIN_MS, TOUCH + 5 * MIN_MS + 30_000, 5_000)
    assert run.reaction.snapshots[2] is None  # 30 s late: still within snapshot_late_ms
    run.cycle(TOUCH + 5 * MIN_MS + 31_000)
    missed = run.reaction.snapshots[2]
    assert missed.taken_ms is None and missed.qty is None
    assert "no live book (book resyncing) within 30 s" in missed.note


def test_zone_events_in_the_range_during_the_window_held_pulled_broken():
    run = Run()
    held = bid_zone("86000", "86050", "confirmed")
    pulled = bid_zone("86100", "86150", "candidate")
    ended_before = bid_zone("85950", "86000", "pulled", ts_ms=5_000)  # ended before the touch
    elsewhere = bid_zone("85000", "85050")
    run.zones = [held, pulled, ended_before, elsewhere]
    touched(run)
    assert [(z.zone_id, z.event) for z in run.reaction.zones] == [(held.id, "held"), (pulled.id, "held")]
    run.cycle(TOUCH + 2 * MIN_MS)
    run.zones = [held, replace(pulled, status="pulled", ts_ms=TOUCH + 2 * MIN_MS + 500)]
    run.cycle(TOUCH + 3 * MIN_MS)
    broken = bid_zone("86050", "86100", "candidate", zone_id="late")
    blip = bid_zone("86120", "86150", "candidate", zone_id="blip")
    run.zones = [held, broken, blip]
    run.cycle(TOUCH + 4 * MIN_MS)
    run.zones = [held, replace(broken, status="broken", ts_ms=TOUCH + 10 * MIN_MS)]  # the blip left
    run.cycle(TOUCH + 10 * MIN_MS)
    run.every(TOUCH + 11 * MIN_MS, TOUCH + 15 * MIN_MS, MIN_MS)  # the 15 min snapshot: window over
    reads = run.zone_reads
    run.zones = [replace(held, status="pulled", ts_ms=TOUCH + 16 * MIN_MS)]  # after the window
    run.every(TOUCH + 16 * MIN_MS, TOUCH + 20 * MIN_MS, MIN_MS)
    events = {(z.zone_id, z.first_status, z.event, z.ts_ms) for z in run.reaction.zones}
    assert events == {
        (held.id, "confirmed", ZoneEvent.HELD, 10_000),
        (pulled.id, "candidate", ZoneEvent.PULLED, TOUCH + 2 * MIN_MS + 500),
        ("late", "candidate", ZoneEvent.BROKEN, TOUCH + 10 * MIN_MS),
    }
    assert run.zone_reads == reads  # the zone set is not read once no reaction looks at it


@pytest.mark.parametrize(
    ("moved_at", "invalid_close", "expected"),
    [
        (30 * MIN_MS, None, ("held", "held", "held")),
        (2 * HOUR_MS, None, ("undecided", "held", "held")),
        (None, None, ("undecided", "undecided", "undecided")),
        (30 * MIN_MS, 3 * HOUR_MS, ("held", "invalidated", "invalidated")),  # invalidation wins later
        (None, HOUR_MS - 1, ("invalidated", "invalidated", "invalidated")),
        (5 * HOUR_MS, 20 * HOUR_MS, ("undecided", "undecided", "invalidated")),
    ],
)
def test_outcomes_after_1_4_24_hours(moved_at, invalid_close, expected):
    run = touched()
    if moved_at is not None:
        run.cycle(TOUCH + moved_at + 1, (TOUCH + moved_at, "86250"))  # price_high + 1 ATR14
    if invalid_close is not None:
        run.tracker.note_close(TOUCH + invalid_close, D("85990"))  # closed below the zone
    run.every(TOUCH + 16 * MIN_MS, TOUCH + 25 * HOUR_MS, 10 * MIN_MS)
    r = run.reaction
    assert tuple(str(o) for o in r.outcomes) == expected
    assert r.state is ReactionState.DONE and run.tracker.pending == {}


def test_an_outcome_waits_for_its_settle_time_and_a_near_miss_does_not_hold():
    run = touched()
    run.cycle(TOUCH + 20 * MIN_MS, (TOUCH + 20 * MIN_MS - 1, "86249.99"))  # just short of 1 ATR14
    run.cycle(TOUCH + HOUR_MS + PARAMS.outcome_settle_ms - 1)
    assert run.reaction.outcomes[0] is None
    run.cycle(TOUCH + HOUR_MS + PARAMS.outcome_settle_ms)
    assert run.reaction.outcomes[0] is Outcome.UNDECIDED
    assert run.reaction.extreme_price == D("86249.99")


def test_a_bearish_block_mirrors_it():
    run = Run(blocks=[BEAR])
    run.cycle(1_000, (900, "86800"), (950, "86910"))
    r = run.reaction
    assert r.range_low == D("86850") and r.range_high == D("87050") and r.snapshots[0].qty == 21
    run.cycle(2_000, (1_500, "86760"))
    assert run.reaction.moved_away_ts_ms is None
    run.cycle(3_000, (2_500, "86750"))  # price_low - ATR14
    assert run.reaction.moved_away_ts_ms == 2_500
    assert outcome_at(run.reaction, 2_499) is Outcome.UNDECIDED
    assert outcome_at(run.reaction, 2_500) is Outcome.HELD


def stored_halfway(run: Run) -> Restored:
    [r] = run.tracker.pending.values()
    return Restored(pending=[r], reacted_ids=[r.id], watched_until_ms={r.id: TOUCH + 3 * MIN_MS})


def test_a_restart_between_steps_resumes_and_the_reaction_finishes_as_if_uninterrupted():
    run = touched()
    run.every(TOUCH + MIN_MS, TOUCH + 3 * MIN_MS, MIN_MS)
    stored = stored_halfway(run)
    again = Run(blocks=[BULL])  # the store still lists the block as fresh
    [resumed] = again.tracker.restore(stored, now_ms=TOUCH + 4 * MIN_MS)
    again.tracker.watch([BULL], {})
    assert resumed.state is ReactionState.PENDING and "resumed at" in resumed.notes[-1]
    assert again.tracker.blocks.touches([], None) == [] and len(again.tracker.blocks) == 0
    for each in (run, again):
        each.cycle(TOUCH + 30 * MIN_MS, (TOUCH + 30 * MIN_MS - 5, "86300"))
        each.every(TOUCH + 31 * MIN_MS, TOUCH + 25 * HOUR_MS, 30 * MIN_MS)
    assert again.reaction.outcomes == run.reaction.outcomes == (Outcome.HELD,) * 3
    assert again.reaction.snapshots[2:] == run.reaction.snapshots[2:]
    assert again.reaction.state is ReactionState.DONE


def test_a_restart_after_a_snapshot_time_passed_closes_it_as_unknown_with_the_reason():
    run = touched()
    run.every(TOUCH + MIN_MS, TOUCH + 3 * MIN_MS, MIN_MS)
    tracker = ReactionTracker("BTCEUR")
    [closed] = tracker.restore(stored_halfway(run), now_ms=TOUCH + 6 * MIN_MS)
    assert closed.state is ReactionState.UNKNOWN and tracker.pending == {}
    assert "not running at the 5m snapshot" in closed.reason
    assert closed.snapshots[1].qty == 50  # what was taken is kept
    assert closed.snapshots[2].qty is None and closed.snapshots[2].note.startswith("not taken")
    assert closed.outcomes == (Outcome.UNKNOWN,) * 3
    assert BULL.id in tracker.reacted  # never recorded a second time


def test_an_outcome_whose_horizon_passed_while_watched_is_decided_not_lost():
    run = touched()
    run.cycle(TOUCH + 20 * MIN_MS, (TOUCH + 20 * MIN_MS, "86300"))
    run.every(TOUCH + 21 * MIN_MS, TOUCH + HOUR_MS + 30_000, MIN_MS)  # down before the 1h settle
    [r] = run.tracker.pending.values()
    watched = {r.id: TOUCH + HOUR_MS + 30_000}
    tracker = ReactionTracker("BTCEUR")
    [resumed] = tracker.restore(Restored([r], [r.id], watched), now_ms=TOUCH + HOUR_MS + 90_000)
    assert resumed.state is ReactionState.PENDING
    again = Run(blocks=[])
    again.tracker = tracker
    again.cycle(TOUCH + HOUR_MS + 91_000)
    assert again.reaction.outcomes[0] is Outcome.HELD
    # not watched through the 4h horizon: unknown, never guessed
    [late] = ReactionTracker("BTCEUR").restore(
        Restored([again.reaction], [r.id], {r.id: TOUCH + 2 * HOUR_MS}), now_ms=TOUCH + 5 * HOUR_MS
    )
    assert late.state is ReactionState.UNKNOWN and "not running at the 4h outcome" in late.reason
    assert late.outcomes == (Outcome.HELD, Outcome.UNKNOWN, Outcome.UNKNOWN)


def test_closing_as_unknown_keeps_every_decided_step():
    run = touched()
    r = close_unknown(run.reaction, "a test")
    assert r.snapshots[0] == run.reaction.snapshots[0] and r.reason == "a test"
    assert resume_after_restart(r, TOUCH + 99 * HOUR_MS, 0) is r  # closed ones stay as they are


def test_each_change_is_described_in_one_log_line():
    from apps.reactions.domain.changes import describe_change, is_significant

    run = Run()
    run.zones = [bid_zone("86000", "86050"), bid_zone("86100", "86150", "candidate", zone_id="blip")]
    touched(run)
    first = run.reaction
    assert describe_change(None, first).startswith("touched at 86080 (")
    assert "liquidity in 85950-86150: 50; backed: yes" in describe_change(None, first)
    run.zones = [bid_zone("86000", "86050")]
    run.cycle(TOUCH + MIN_MS, (TOUCH + MIN_MS - 1, "86130"))
    after = run.reaction
    assert describe_change(first, after) == "1m liquidity 50; zone blip dropped (left the range or merged)"
    moved = replace(after, extreme_price=D("86140"))
    assert not is_significant(after, moved) and is_significant(None, moved)
