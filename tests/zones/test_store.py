"""Zone writes on a real database: idempotent upserts, removals, history and its pruning."""

from dataclasses import replace
from decimal import Decimal as D

import pytest

from apps.book.domain.events import Side
from apps.zones.domain.enums import ZoneStatus
from apps.zones.domain.tracking import ZoneRecord, persistence_s
from apps.zones.models import ZoneCurrent, ZoneHistory
from apps.zones.services.store import SeenAgain, load_current, prune_history, storable, write_cycle

pytestmark = pytest.mark.django_db


def record(zone_id="BTCEUR:bid:86000-86050", ts_ms=1_000, symbol="BTCEUR", status="candidate", **changes):
    base = ZoneRecord(
        id=zone_id,
        ts_ms=ts_ms,
        symbol=symbol,
        side="bid",
        price_low=D("86000"),
        price_high=D("86050"),
        notional=D("123456.78901234"),
        strength=6.5,
        persistence_s=0.0,
        status=status,
        first_seen_ts_ms=1_000,
        last_seen_ts_ms=ts_ms,
        book_update_id=77,
    )
    return replace(base, **changes)


def stored(zone_id):
    row = ZoneCurrent.objects.get(id=zone_id)
    return (
        row.status,
        row.price_low,
        row.price_high,
        row.notional,
        row.strength,
        row.persistence_s,
        row.first_seen_ts_ms,
        row.last_seen_ts_ms,
        row.ts_ms,
        row.book_update_id,
    )


def test_writing_the_same_cycle_twice_leaves_one_row_and_one_history_entry():
    zone = record()
    for _ in range(2):
        write_cycle("BTCEUR", [zone], [], [zone])
    assert ZoneCurrent.objects.count() == 1
    assert ZoneHistory.objects.count() == 1
    assert stored(zone.id) == (
        "candidate",
        D("86000"),
        D("86050"),
        D("123456.78901234"),
        6.5,
        0.0,
        1_000,
        1_000,
        1_000,
        77,
    )


def test_a_changed_zone_is_updated_in_place_and_its_history_grows():
    write_cycle("BTCEUR", [record()], [], [record()])
    later = record(
        ts_ms=31_000, status="confirmed", price_high=D("86100"), persistence_s=30.0, book_update_id=99
    )
    write_cycle("BTCEUR", [later], [], [later])
    assert stored(later.id) == (
        "confirmed",
        D("86000"),
        D("86100"),
        D("123456.78901234"),
        6.5,
        30.0,
        1_000,
        31_000,
        31_000,
        99,
    )
    assert list(
        ZoneHistory.objects.filter(zone_id=later.id).order_by("ts_ms").values_list("status", flat=True)
    ) == ["candidate", "confirmed"]


def test_removed_zones_leave_the_current_set_of_their_symbol_only():
    write_cycle("BTCEUR", [record("a"), record("b")], [])
    write_cycle("BTCUSDT", [record("c", symbol="BTCUSDT")], [])
    write_cycle("BTCEUR", [], ["a", "c"])
    assert sorted(ZoneCurrent.objects.values_list("id", flat=True)) == ["b", "c"]


def test_replace_all_makes_the_stored_set_equal_the_given_one():
    write_cycle("BTCEUR", [record("a"), record("b")], [])
    write_cycle("BTCUSDT", [record("c", symbol="BTCUSDT")], [])
    write_cycle("BTCEUR", [record("b", status="pulled"), record("d")], [], replace_all=True)
    assert sorted(ZoneCurrent.objects.values_list("id", "status")) == [
        ("b", "pulled"),
        ("c", "candidate"),
        ("d", "candidate"),
    ]


def test_load_current_returns_what_was_stored():
    zones = [
        record("BTCEUR:bid:1-2", status="confirmed"),
        record("BTCEUR:bid:3-4", status="broken", ts_ms=9_000),
    ]
    write_cycle("BTCEUR", zones, [])
    write_cycle("BTCUSDT", [record("other", symbol="BTCUSDT")], [])
    assert load_current("BTCEUR") == zones


def test_storable_rounds_to_the_stored_scale_so_push_and_rest_agree():
    zone = record(notional=D("1.123456789"))
    write_cycle("BTCEUR", [storable(zone)], [])
    assert load_current("BTCEUR")[0].notional == storable(zone).notional == D("1.12345679")


def test_history_is_pruned_in_batches_up_to_the_cutoff():
    old = [record(f"z{i}", ts_ms=1_000 + i) for i in range(25)]
    new = [record(f"z{i}", ts_ms=50_000 + i) for i in range(5)]
    write_cycle("BTCEUR", [], [], old + new)
    totals = []
    result = prune_history(before_ts_ms=50_000, batch_size=10, progress=totals.append)
    assert (result.deleted, result.finished) == (25, True)
    assert totals == [10, 20, 25]
    assert sorted(ZoneHistory.objects.values_list("ts_ms", flat=True)) == [50_000 + i for i in range(5)]


def test_pruning_can_stop_after_a_few_batches_and_resume():
    write_cycle("BTCEUR", [], [], [record(f"z{i}", ts_ms=i) for i in range(30)])
    first = prune_history(before_ts_ms=100, batch_size=10, max_batches=2)
    assert (first.deleted, first.finished) == (20, False)
    # the oldest go first
    assert min(ZoneHistory.objects.values_list("ts_ms", flat=True)) == 20
    second = prune_history(before_ts_ms=100, batch_size=10, max_batches=2)
    assert (second.deleted, ZoneHistory.objects.count()) == (10, 0)


def test_zones_seen_again_only_move_their_clock_fields():
    write_cycle("BTCEUR", [record("a", ts_ms=1_000), record("b", ts_ms=1_000)], [])
    write_cycle("BTCEUR", [], [], seen_again=SeenAgain(["a"], ts_ms=8_500, book_update_id=120))
    assert stored("a") == (
        "candidate",
        D("86000"),
        D("86050"),
        D("123456.78901234"),
        6.5,
        7.5,
        1_000,
        8_500,
        8_500,
        120,
    )
    assert stored("b")[5:] == (0.0, 1_000, 1_000, 1_000, 77)
    assert ZoneHistory.objects.count() == 0


def test_the_database_computes_persistence_as_the_tracker_does():
    """The seen-again UPDATE runs the domain's persistence_s in SQL: same floats as in Python."""
    firsts = [0, 1, 999, 1_001, 123_457, 86_399_999, 1_764_547_200_123]
    now = 1_764_633_600_777
    write_cycle("BTCEUR", [record(f"z{i}", first_seen_ts_ms=first) for i, first in enumerate(firsts)], [])
    ids = [f"z{i}" for i in range(len(firsts))]
    write_cycle("BTCEUR", [], [], seen_again=SeenAgain(ids, ts_ms=now, book_update_id=5))
    got = [ZoneCurrent.objects.get(id=zone_id).persistence_s for zone_id in ids]
    assert got == [persistence_s(first, now) for first in firsts]
    assert got == [(now - first) / 1000 for first in firsts]
    loaded = load_current("BTCEUR")[0]
    assert (loaded.side, loaded.status) == (Side.BID, ZoneStatus.CANDIDATE)
    assert type(loaded.side) is Side and type(loaded.status) is ZoneStatus
