"""A block is pushed again only when its reading moved beyond a rounding step of what was last pushed."""

from apps.confluence.domain.changes import (
    change_step,
    change_step_units,
    changed_keys,
    reading_changed,
)
from apps.confluence.domain.measure import Reading

BTC = 10**8


def reading(qty=12.4, score=5.1, zones=(), backed=True, avg=None):
    return Reading(round(qty * BTC), score, zones, backed, avg)


def test_the_step_is_one_unit_of_the_second_significant_digit():
    assert change_step_units(round(12.4 * BTC)) == BTC  # 12.4 BTC -> 1 BTC
    assert change_step_units(round(0.35 * BTC)) == BTC // 100
    assert change_step_units(99) == 1 and change_step_units(0) == 1
    assert change_step(5.1) == 0.1 and change_step(12.0) == 1.0 and change_step(0.35) == 0.01
    assert change_step(10.0) == 1.0 and change_step(0.0) == 0.0


def test_small_moves_are_not_pushed_and_moves_beyond_the_step_are():
    sent = reading()
    assert not reading_changed(sent, reading(qty=12.9, score=5.19))
    assert reading_changed(sent, reading(qty=13.4))
    assert reading_changed(sent, reading(qty=11.4))
    assert reading_changed(sent, reading(score=5.2))
    assert reading_changed(sent, reading(zones=("z",)))
    assert reading_changed(sent, reading(backed=False))
    assert reading_changed(sent, reading(avg=3.0))  # unknown -> known
    assert reading_changed(reading(avg=3.0), reading(avg=None))
    assert not reading_changed(reading(avg=3.0), reading(avg=3.05))
    assert reading_changed(reading(qty=0), reading(qty=0.00000001))  # from nothing, anything counts
    assert reading_changed(reading(score=None), reading(score=0.5))


def test_a_value_wobbling_around_a_rounding_boundary_is_pushed_once():
    sent = reading(qty=12.49)
    pushed = 0
    for qty in (12.51, 12.48, 12.52, 12.47, 12.55):
        if reading_changed(sent, reading(qty=qty)):
            pushed += 1
            sent = reading(qty=qty)
    assert pushed == 0
    for qty in (12.9, 13.3, 13.6):  # a drift: pushed once it adds up to a step
        if reading_changed(sent, reading(qty=qty)):
            pushed += 1
            sent = reading(qty=qty)
    assert pushed == 1 and sent.qty == round(13.6 * BTC)


def test_blocks_that_became_unknown_or_left_are_pushed_and_unknown_ones_stay_quiet():
    sent = {"a": reading(), "b": reading(), "gone": reading()}
    now = {"a": reading(), "b": reading(qty=20), "new": reading()}
    assert changed_keys(sent, now) == ["b", "new", "gone"]
    assert changed_keys({}, {}) == []
