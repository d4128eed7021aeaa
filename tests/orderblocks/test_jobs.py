"""The order-block job against the database: full runs, incremental runs equal to full runs,
idempotent upserts, forward-only status, and the compute_orderblocks command."""

from __future__ import annotations

import json
from dataclasses import replace
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.orderblocks.domain.blocks import FIELDS, order_blocks_for_bars
from apps.orderblocks.domain.engine import EngineParams
from apps.orderblocks.domain.enums import BlockStatus
from apps.orderblocks.models import Candle, OrderBlock, OrderBlockRun
from apps.orderblocks.services.blocks import all_blocks, upsert_blocks
from apps.orderblocks.services.candles import store_bars
from apps.orderblocks.services.jobs import run_orderblocks
from tests.orderblocks import scenarios as sc

pytestmark = pytest.mark.django_db

SYMBOL = settings.CONFIG.symbol


def config(**changes):
    return replace(settings.CONFIG, **changes)


def expected_blocks(bars, **params):
    return order_blocks_for_bars(bars, SYMBOL, EngineParams(**params))


def test_full_run_stores_the_blocks_of_the_pure_computation():
    bars = sc.random_bars(1, 1200)
    store_bars(bars)
    summary = run_orderblocks(full=True)
    want = expected_blocks(bars)
    assert len(want) > 20
    assert summary.mode == "full"
    assert len(summary.added) == len(want)
    assert all_blocks(SYMBOL) == sorted(want, key=lambda r: (r.created_ts_ms, r.direction))


def test_rerunning_never_duplicates_and_reports_nothing_new():
    store_bars(sc.random_bars(2, 900))
    first = run_orderblocks(full=True)
    count = OrderBlock.objects.count()
    again = run_orderblocks(full=True)
    idle = run_orderblocks()
    assert count == len(first.added) > 0
    assert OrderBlock.objects.count() == count
    assert (again.added, again.changed, again.unchanged) == ([], [], count)
    assert idle.mode == "idle" and idle.added == [] and idle.changed == []


def test_incremental_runs_equal_a_full_run():
    bars = sc.random_bars(3, 3000)
    cfg = config(ob_warmup_bars=800)
    store_bars(bars[:1500])
    run_orderblocks(full=True, config=cfg)
    position = 1500
    modes = []
    for step in (1, 1, 3, 24, 1, 170, 300, 1, 999):
        store_bars(bars[position : position + step])
        position += step
        summary = run_orderblocks(config=cfg)
        modes.append(summary.mode)
        assert summary.bars <= 800 + step  # only the window was recomputed
        assert summary.through_ts_ms == bars[position - 1].open_time_ms
    assert position == len(bars)
    assert set(modes) == {"incremental"}
    incremental = all_blocks(SYMBOL)
    full = sorted(expected_blocks(bars), key=lambda r: (r.created_ts_ms, r.direction))
    assert incremental == full
    assert {b.status for b in full} == {"fresh", "touched", "invalid"}


def test_incremental_run_reports_new_and_changed_blocks():
    bars = sc.random_bars(4, 2000)
    store_bars(bars[:1000])
    run_orderblocks(full=True)
    before = {b.key: b for b in all_blocks(SYMBOL)}
    store_bars(bars[1000:1200])
    summary = run_orderblocks()
    after = {b.key: b for b in all_blocks(SYMBOL)}
    assert summary.mode == "incremental"
    assert {b.key for b in summary.added} == after.keys() - before.keys()
    assert {b.key for b in summary.changed} == {k for k in before if before[k] != after[k]}
    assert summary.added and summary.changed
    delta = summary.overlay_delta()
    assert [d["id"] for d in delta["added"]] == [
        f"{b.symbol}:{b.direction}:{b.created_ts_ms}" for b in summary.added
    ]


def test_changed_settings_force_a_full_run():
    store_bars(sc.random_bars(5, 800))
    run_orderblocks(full=True)
    summary = run_orderblocks(config=config(ob_zone_mode="aggressive"))
    assert summary.mode == "full"
    assert "settings changed" in summary.reason
    assert summary.changed  # zones widened


def test_older_history_changing_forces_a_full_run():
    bars = sc.random_bars(6, 800)
    store_bars(bars[:300] + bars[310:700])  # a 10-hour gap
    run_orderblocks(full=True)
    store_bars(bars[300:310])  # the gap is filled later
    summary = run_orderblocks()
    assert summary.mode == "full"
    assert "changed" in summary.reason
    assert summary.removed  # blocks the gapped history produced are gone
    assert summary.overlay_delta()["removed"] == [
        f"{SYMBOL}:{b.direction}:{b.created_ts_ms}" for b in summary.removed
    ]
    assert all_blocks(SYMBOL) == sorted(
        expected_blocks(bars[:700]), key=lambda r: (r.created_ts_ms, r.direction)
    )


def test_a_window_without_enough_swings_falls_back_to_a_full_run():
    bars = sc.random_bars(8, 1200)
    last = bars[-1]
    climb = [
        sc.Bar(
            last.open_time_ms + (i + 1) * sc.HOUR_MS,
            last.close + i,
            last.close + i + 2,
            last.close + i - 1,
            last.close + i + 1,
            last.volume,
        )
        for i in range(900)
    ]  # higher highs and higher lows every hour: not a single swing
    store_bars(bars + climb[:850])
    run_orderblocks(full=True, config=config(ob_warmup_bars=800))
    store_bars(climb[850:])  # the 800 bars before these hold no swing
    summary = run_orderblocks(config=config(ob_warmup_bars=800))
    assert summary.mode == "full"
    assert "too few swings" in summary.reason
    assert all_blocks(SYMBOL) == sorted(
        expected_blocks(bars + climb), key=lambda r: (r.created_ts_ms, r.direction)
    )


def test_status_only_moves_forward():
    bars = sc.as_bars([*sc.BASE, (117.5, 118, 105, 105.5)])  # bar 24 touches the block
    store_bars(bars)
    run_orderblocks(full=True)
    (block,) = [b for b in all_blocks(SYMBOL) if b.direction == "bullish"]
    assert block.status == BlockStatus.TOUCHED
    # the same block computed as fresh (e.g. from corrected candles) keeps its recorded touch
    result = upsert_blocks([replace(block, status="fresh", touched_ts_ms=None)])
    assert result.changed == [] and result.unchanged == 1
    assert all_blocks(SYMBOL)[0].status == BlockStatus.TOUCHED
    # moving on is stored
    invalid = replace(block, status=BlockStatus.INVALID, valid_to_ts_ms=block.touched_ts_ms + sc.HOUR_MS)
    assert upsert_blocks([invalid]).changed == [invalid]
    assert upsert_blocks([block]).changed == []
    assert all_blocks(SYMBOL)[0] == invalid


def test_stored_timestamps_follow_the_documented_meaning():
    bars = sc.as_bars([*sc.BASE, (117.5, 118, 105, 105.5), (105.5, 106, 102, 103)])
    store_bars(bars)
    run_orderblocks(full=True)
    (block,) = [b for b in all_blocks(SYMBOL) if b.direction == "bullish"]
    t = [b.open_time_ms for b in bars]
    assert block.created_ts_ms == t[19]
    assert block.bos_ts_ms == t[20]
    assert block.valid_from_ts_ms == t[21]  # the BOS bar's close
    assert block.touched_ts_ms == t[24]
    assert block.valid_to_ts_ms == t[25]
    assert block.status == BlockStatus.INVALID
    assert (block.price_low, block.price_high, block.bos_level) == (
        bars[19].low,
        bars[19].open,
        bars[16].high,
    )


def test_compute_orderblocks_json_prints_only_the_blocks(capsys):
    store_bars(sc.random_bars(7, 700))
    out = StringIO()
    call_command("compute_orderblocks", "--full", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    stored = all_blocks(SYMBOL)
    assert len(rows) == len(stored) > 0
    assert all(list(row) == list(FIELDS) for row in rows)
    first = stored[0]
    assert rows[0]["created_ts_ms"] == first.created_ts_ms
    assert rows[0]["price_low"] == format(first.price_low.normalize(), "f")
    assert "compute_orderblocks:" in capsys.readouterr().err  # progress went to stderr


def test_compute_orderblocks_without_candles_says_so():
    out = StringIO()
    call_command("compute_orderblocks", stdout=out)
    assert "0 candles" in out.getvalue()
    assert OrderBlock.objects.count() == 0
    assert not OrderBlockRun.objects.exists()
    assert Candle.objects.count() == 0


def test_a_gap_longer_than_candle_gap_max_h_stops_the_run_with_one_line():
    from django.core.management.base import CommandError

    from apps.orderblocks.domain.candles import HOUR_MS
    from apps.orderblocks.services.candles import CandleHistoryGapError

    bars = sc.random_bars(2, 300)
    later = [replace(b, open_time_ms=b.open_time_ms + 49 * HOUR_MS) for b in bars[150:]]
    store_bars(bars[:150] + later)  # 49 hours missing after bar 149
    with pytest.raises(
        CandleHistoryGapError, match=r"1 gap\(s\) longer than CANDLE_GAP_MAX_H=48 h, the first 49"
    ):
        run_orderblocks(full=True)
    assert OrderBlock.objects.count() == 0 and OrderBlockRun.objects.count() == 0  # nothing half-written
    with pytest.raises(CommandError, match="CANDLE_GAP_MAX_H"):
        call_command("compute_orderblocks", stdout=StringIO(), stderr=StringIO())
    assert run_orderblocks(full=True, config=config(candle_gap_max_h=49)).mode == "full"  # at the limit: fine


def test_a_long_gap_after_the_last_computed_candle_stops_the_incremental_run():
    from apps.orderblocks.domain.candles import HOUR_MS
    from apps.orderblocks.services.candles import CandleHistoryGapError

    bars = sc.random_bars(3, 400)
    store_bars(bars[:300])
    assert run_orderblocks(full=True).mode == "full"
    stored = OrderBlock.objects.count()
    store_bars([replace(b, open_time_ms=b.open_time_ms + 60 * HOUR_MS) for b in bars[300:]])
    with pytest.raises(CandleHistoryGapError, match="the first 60 missing hour"):
        run_orderblocks()
    assert OrderBlock.objects.count() == stored  # nothing computed across the gap


def test_a_run_committed_while_another_planned_is_not_overwritten_by_a_stale_plan(monkeypatch):
    """A run reads and plans before its write transaction (a short lock for the streamer); when
    another run commits in between, the plan is made again from what that run stored."""
    from apps.orderblocks.services import jobs

    store_bars(sc.random_bars(11, 900))
    run_orderblocks(full=True)
    blocks = all_blocks(SYMBOL)
    missing = blocks[len(blocks) // 2]
    OrderBlock.objects.filter(created_ts_ms=missing.created_ts_ms, direction=missing.direction).delete()
    real, reads = jobs.stored_blocks, []

    def stored_then_another_run_commits(symbol):
        stored = real(symbol)
        reads.append(len(stored))
        if len(reads) == 1:  # after the first read: another process's run stores the block again
            upsert_blocks([missing])
            OrderBlockRun.objects.filter(symbol=symbol).update(finished_at_ms=1)
        return stored

    monkeypatch.setattr(jobs, "stored_blocks", stored_then_another_run_commits)
    summary = run_orderblocks(full=True)
    assert reads == [len(blocks) - 1, len(blocks)]  # planned again inside the transaction
    assert summary.added == [] and summary.unchanged == len(blocks)
    assert all_blocks(SYMBOL) == blocks


def test_a_run_with_no_concurrent_commit_reads_the_blocks_once(monkeypatch):
    from apps.orderblocks.services import jobs

    store_bars(sc.random_bars(12, 600))
    run_orderblocks(full=True)
    real, reads = jobs.stored_blocks, []
    monkeypatch.setattr(jobs, "stored_blocks", lambda symbol: reads.append(symbol) or real(symbol))
    run_orderblocks(full=True)
    assert reads == [SYMBOL]
