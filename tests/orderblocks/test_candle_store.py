"""Storing candles: upserts keyed by open time, unchanged candles not written, batches of their own
transactions so other writers get the database in between."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.orderblocks.models import Candle
from apps.orderblocks.services.candles import store_bars, store_in_batches
from tests.orderblocks import scenarios as sc

pytestmark = pytest.mark.django_db


def stored():
    return list(Candle.objects.order_by("open_time_ms").values_list("open_time_ms", "close", "volume"))


def test_new_changed_and_unchanged_candles_are_counted_and_stored_exactly():
    bars = sc.random_bars(1, 10)
    store_bars(bars[:6])
    changed = [replace(b, volume=b.volume + Decimal("0.00000001")) for b in bars[3:6]]
    result = store_bars([*bars[:3], *changed, *bars[6:]])
    assert (result.received, result.inserted, result.updated, result.unchanged) == (10, 4, 3, 3)
    want = [(b.open_time_ms, b.close, b.volume) for b in [*bars[:3], *changed, *bars[6:]]]
    assert stored() == want


def test_storing_unchanged_candles_writes_nothing():
    bars = sc.random_bars(2, 50)
    store_bars(bars)
    with CaptureQueriesContext(connection) as queries:
        assert store_bars(bars).unchanged == 50
    assert not [q for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")]


def test_a_repeated_open_time_in_one_call_stores_the_last_values():
    bar = sc.random_bars(3, 1)[0]
    later = replace(bar, close=bar.high)
    assert store_bars([bar, later]).inserted == 1
    assert stored() == [(bar.open_time_ms, bar.high, bar.volume)]


def test_batches_are_stored_one_transaction_each_with_progress_after_each():
    bars = sc.random_bars(4, 25)
    seen = []
    with CaptureQueriesContext(connection) as queries:
        total = store_in_batches(iter(bars), batch_size=10, progress=lambda r: seen.append(r.received))
    assert (total.received, total.inserted) == (25, 25)
    assert seen == [10, 20, 25]
    savepoints = [q for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 3  # inside the test's transaction each batch's atomic() is a savepoint
    assert len(stored()) == 25
