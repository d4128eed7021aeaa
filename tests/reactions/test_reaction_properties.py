"""Properties of the reaction machine over generated price paths and cycle timings: the touch, the
extreme and the move away do not depend on how trades fall into cycles and match a naive reading of
the rules; outcomes only move forward with the horizon; a restart anywhere either changes nothing
or closes the reaction as unknown, keeping every step decided before it."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal as D

from hypothesis import event, given, settings
from hypothesis import strategies as st

from apps.reactions.domain.enums import Outcome, ReactionState
from apps.reactions.domain.reaction import away_level, outcome_at
from apps.reactions.domain.tracker import Restored
from tests.reactions.machine import Run
from tests.reactions.scene import BULL, HOUR_MS, MIN_MS, PARAMS

PRICES = st.integers(min_value=85_800, max_value=86_400).map(lambda p: D(p))


@st.composite
def trade_paths(draw):
    """Trades (ts, price) a second or more apart, and a partition of them into cycles."""
    prices = draw(st.lists(PRICES, min_size=1, max_size=40))
    gaps = draw(st.lists(st.integers(1, 5_000), min_size=len(prices), max_size=len(prices)))
    ts, times = 1_000, []
    for gap in gaps:
        ts += gap
        times.append(ts)
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(prices) - 1)), max_size=len(prices))))
    return list(zip(times, prices, strict=True)), cuts


def split(trades, cuts):
    bounds = [0, *[c for c in cuts if c < len(trades)], len(trades)]
    return [trades[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def reference(trades, block):
    """The rules read naively: the first trade whose path from the one before enters the zone; then
    the highest price from it on and the first trade at or above price_high + ATR14."""
    previous = None
    for i, (ts, price) in enumerate(trades):
        low, high = (price, price) if previous is None else (min(previous, price), max(previous, price))
        if low <= block.price_high and high >= block.price_low:
            later = trades[i:]
            moved = next((t for t, p in later if p >= away_level(block)), None)
            return ts, price, max(p for _, p in later), moved
        previous = price
    return None


@given(trade_paths())
@settings(max_examples=300, deadline=None)
def test_the_touch_and_what_followed_match_the_rules_whatever_the_cycles(path):
    trades, cuts = path
    results = []
    for cycles in (split(trades, cuts), [trades], [[t] for t in trades]):
        run = Run()
        for batch in cycles:
            run.cycle(batch[-1][0] + 1, *batch)
        r = run.latest.get(BULL.id)
        results.append(
            None if r is None else (r.touch_ts_ms, r.touch_price, r.extreme_price, r.moved_away_ts_ms)
        )
    assert results[0] == results[1] == results[2] == reference(trades, BULL)


@given(
    st.one_of(st.none(), st.integers(0, 30 * HOUR_MS)),
    st.one_of(st.none(), st.integers(0, 30 * HOUR_MS)),
)
def test_an_outcome_only_moves_forward_with_the_horizon(moved_ms, invalid_ms):
    run = Run()
    run.cycle(1_000, (500, "86050"))
    r = replace(run.reaction, moved_away_ts_ms=moved_ms, invalidated_ts_ms=invalid_ms)
    rank = {Outcome.UNDECIDED: 0, Outcome.HELD: 1, Outcome.INVALIDATED: 2}
    outcomes = [outcome_at(r, due) for due in range(0, 30 * HOUR_MS, HOUR_MS // 2)]
    assert all(rank[a] <= rank[b] for a, b in itertools.pairwise(outcomes))
    for due, outcome in zip(range(0, 30 * HOUR_MS, HOUR_MS // 2), outcomes, strict=True):
        invalid = invalid_ms is not None and invalid_ms <= due
        held = not invalid and moved_ms is not None and moved_ms <= due
        assert outcome is (Outcome.INVALIDATED if invalid else Outcome.HELD if held else Outcome.UNDECIDED)


@st.composite
def cycle_plans(draw):
    """Cycle times after a touch at 10 s until past the last outcome, each with 0-2 trades."""
    now, plan = 10_000, []
    end = 10_000 + PARAMS.outcome_horizons_ms[-1] + PARAMS.outcome_settle_ms + HOUR_MS
    while now < end:
        now += draw(st.sampled_from([3 * HOUR_MS, 40 * MIN_MS, 7 * MIN_MS, 2 * MIN_MS, 20_000, 1_000]))
        prices = draw(st.lists(PRICES, max_size=2))
        plan.append((now, [(now - 1 - i, p) for i, p in enumerate(prices)][::-1]))
    return plan, draw(st.integers(0, len(plan) - 2))


def drive(run, plan):
    for now, trades in plan:
        run.cycle(now, *trades)


@given(cycle_plans())
@settings(max_examples=150, deadline=None)
def test_a_restart_anywhere_changes_nothing_or_closes_as_unknown_keeping_what_was_decided(plan_and_stop):
    plan, stop = plan_and_stop
    whole = Run()
    whole.cycle(10_000, (9_000, "86300"), (9_500, "86080"))
    drive(whole, plan)
    first = Run()
    first.cycle(10_000, (9_000, "86300"), (9_500, "86080"))
    drive(first, plan[: stop + 1])
    stopped_at, restart_at = plan[stop][0], plan[stop + 1][0]
    pending = list(first.tracker.pending.values())
    if not pending:  # finished before the stop: nothing to resume
        event("finished before the restart")
        assert first.reaction == whole.reaction
        return
    again = Run(blocks=[])
    [r] = pending
    [restored] = again.tracker.restore(Restored(pending, [r.id], {r.id: stopped_at}), now_ms=restart_at)
    again.latest[r.id] = restored
    drive(again, plan[stop + 1 :])
    final, expected = again.latest[r.id], whole.reaction
    due = [t for t in _untaken(r) if stopped_at < t < restart_at]
    event("resumed" if not due else "closed as unknown")
    if not due:
        assert replace(final, notes=()) == expected
        return
    assert final.state is ReactionState.UNKNOWN and final.reason
    for mine, theirs in zip(final.snapshots, expected.snapshots, strict=True):
        assert mine == theirs or mine.taken_ms is None
    for before, after in zip(r.outcomes, final.outcomes, strict=True):
        assert after == (before if before is not None else Outcome.UNKNOWN)


def _untaken(r):
    steps = [r.touch_ts_ms + o for o, s in zip(r.offsets_ms, r.snapshots[1:], strict=True) if s is None]
    return steps + [r.touch_ts_ms + h for h, o in zip(r.horizons_ms, r.outcomes, strict=True) if o is None]
