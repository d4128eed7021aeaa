"""A block is pushed again only when its reading moved beyond a rounding step of what was last pushed."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.confluence.domain.changes import SentReadings, change_step, change_step_units, reading_changed
from apps.confluence.domain.measure import Reading, Readings

BTC = 10**8


def reading(qty=12.4, score=5.1, zones=(), backed=True, avg=None):
    return Reading(round(qty * BTC), score, zones, backed, avg)


def test_the_step_is_a_fraction_of_the_value_last_pushed():
    assert change_step_units(round(12.4 * BTC)) == round(1.24 * BTC)  # 10 % by default
    assert change_step_units(round(12.4 * BTC), 0.25) == 3.1 * BTC
    assert change_step_units(5) == 1 and change_step_units(0) == 1  # at least one unit
    assert change_step(5.0) == 0.5 and change_step(0.0) == 0.0
    assert change_step(5.0, 0.0) == 0.0 and change_step_units(10**9, 0.0) == 1  # 0 %: any change


def test_small_moves_are_not_pushed_and_moves_beyond_the_step_are():
    sent = reading()
    assert not reading_changed(sent, reading(qty=13.5, score=5.5))
    assert reading_changed(sent, reading(qty=13.7))
    assert reading_changed(sent, reading(qty=11.1))
    assert reading_changed(sent, reading(score=5.65))
    assert reading_changed(sent, reading(score=5.1), 0.0) is False  # nothing moved at all
    assert reading_changed(sent, reading(score=5.11), 0.0)
    assert reading_changed(sent, reading(zones=("z",)))
    assert reading_changed(sent, reading(backed=False))
    assert reading_changed(sent, reading(avg=3.0))  # unknown -> known
    assert reading_changed(reading(avg=3.0), reading(avg=None))
    assert not reading_changed(reading(avg=3.0), reading(avg=3.2))
    assert reading_changed(reading(qty=0), reading(qty=0.00000001))  # from nothing, anything counts
    assert reading_changed(reading(score=None), reading(score=0.5))


def test_a_value_wobbling_around_is_not_pushed_and_a_drift_is_once_it_adds_up():
    sent = reading(qty=12.4)
    pushed = 0
    for qty in (12.9, 12.0, 13.2, 11.7, 13.3):
        if reading_changed(sent, reading(qty=qty)):
            pushed += 1
            sent = reading(qty=qty)
    assert pushed == 0
    for qty in (13.5, 13.6, 13.7):  # a drift: pushed once it is 10 % away from what was pushed
        if reading_changed(sent, reading(qty=qty)):
            pushed += 1
            sent = reading(qty=qty)
    assert pushed == 1 and sent.qty == round(13.7 * BTC)


def side_readings(readings):
    """Readings of these readings (None: unknown), by position."""
    n = len(readings)
    known = np.array([r is not None for r in readings], dtype=bool)
    qty = np.array([r.qty if r else 0 for r in readings], dtype=np.int64)
    score = np.array([np.nan if r is None or r.score is None else r.score for r in readings])
    backed = np.array([bool(r and r.backed) for r in readings], dtype=bool)
    avg = np.array([np.nan if r is None or r.avg_1h is None else r.avg_1h for r in readings])
    zones = {i: r.zones for i, r in enumerate(readings) if r is not None and r.zones}
    assert len(known) == n
    return Readings(known, qty, score, backed, avg, zones)


readings = st.one_of(
    st.none(),
    st.builds(
        Reading,
        qty=st.one_of(st.integers(0, 2 * BTC), st.sampled_from([0, 9, 10, 11, 10**9, 11 * 10**8])),
        score=st.one_of(st.none(), st.floats(0, 60), st.sampled_from([0.0, 5.0, 5.5, 4.5, 10.0, 9.95])),
        zones=st.sampled_from([(), ("z1",), ("z1", "z2")]),
        backed=st.booleans(),
        avg_1h=st.one_of(st.none(), st.floats(0, 60), st.sampled_from([3.0, 3.3, 2.7])),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(readings, readings), min_size=1, max_size=12),
    fraction=st.sampled_from([0.0, 0.05, 0.1, 0.5]),
)
def test_the_array_comparison_equals_the_rule_block_by_block(pairs, fraction):
    keys = [f"b{i}" for i in range(len(pairs))]
    before = {k: was for k, (was, _) in zip(keys, pairs, strict=True) if was}
    sent = SentReadings.of(keys, before, fraction)
    now = side_readings([after for _, after in pairs])
    expected = [i for i, (was, after) in enumerate(pairs) if reading_changed(was, after, fraction)]
    assert sent.changed(now) == expected
    for i, (_, after) in enumerate(pairs):  # once recorded, nothing is left to push
        sent.record(i, now.reading(i))
        assert now.reading(i) == after
    assert sent.changed(now) == []
