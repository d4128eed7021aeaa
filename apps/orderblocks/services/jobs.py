"""The order-block job: a full or incremental computation over the candle table, stored with
forward-only status. `run_orderblocks` is a plain function any scheduler can call, e.g. APScheduler:

    scheduler.add_job(run_orderblocks, "cron", minute=0, second=10)

Incremental runs recompute only a window of OB_WARMUP_BARS candles before the first candle not yet
covered, keep the blocks whose BOS falls on a new candle, and move stored open blocks forward over the
new candles. They give exactly the full run's result; when that cannot be guaranteed (first run, the
settings changed, older history changed, or the window holds too few swings) a full run is done and
the summary says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from apps.orderblocks.domain.blocks import (
    BlockKey,
    BlockRecord,
    bar_arrays,
    bar_numbers,
    records_from_detection,
    with_status_events,
)
from apps.orderblocks.domain.candles import HOUR_MS, Bar, gaps_too_long
from apps.orderblocks.domain.engine import (
    EngineParams,
    advance_status,
    detect_order_blocks,
    params_fingerprint,
    window_reproduces_full_run,
)
from apps.orderblocks.domain.enums import BlockStatus, Direction
from apps.orderblocks.models import Candle, OrderBlockRun
from apps.orderblocks.presentation import orderblock_id, orderblock_overlay
from apps.orderblocks.services.blocks import BlockWrites, plan_upsert, stored_blocks, write_blocks
from apps.orderblocks.services.candles import (
    CandleHistoryGapError,
    candle_count,
    candle_gaps,
    ensure_candle_table,
    load_bars,
    open_time_before,
)

log = logging.getLogger("apps.orderblocks.jobs")

Progress = Callable[[str], None]


@dataclass
class RunSummary:
    symbol: str
    mode: str  # "full" | "incremental" | "idle" (nothing new to compute)
    reason: str
    bars: int = 0  # candles the engine computed over
    new_bars: int = 0  # candles not covered by the previous run
    through_ts_ms: int | None = None  # open time of the last candle covered
    candles_through: int = 0  # stored candles up to through_ts_ms (the next run's consistency check)
    added: list[BlockRecord] = field(default_factory=list)
    changed: list[BlockRecord] = field(default_factory=list)
    removed: list[BlockRecord] = field(default_factory=list)  # full runs: no longer in the history
    unchanged: int = 0
    duration_s: float = 0.0

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def overlay_delta(self) -> dict[str, list[Any]]:
        """`data` of the kind="orderblocks" push message ("removed" only when a full run dropped
        blocks the candle history no longer produces, e.g. after a gap was filled)."""
        delta: dict[str, list[Any]] = {
            "added": [orderblock_overlay(r) for r in self.added],
            "changed": [orderblock_overlay(r) for r in self.changed],
        }
        if self.removed:
            delta["removed"] = [orderblock_id(*r.key) for r in self.removed]
        return delta

    def describe(self) -> str:
        return (
            f"order blocks {self.mode} run: {self.bars} candles ({self.new_bars} new), "
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged in {self.duration_s:.2f}s ({self.reason})"
        )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _quiet(_: str) -> None:
    return None


def run_orderblocks(
    full: bool = False, *, config: Any | None = None, progress: Progress | None = None
) -> RunSummary:
    """Compute and store order blocks for the configured symbol. Blocking (DB + numpy): call it from
    a thread / `sync_to_async` in async code."""
    config = config if config is not None else settings.CONFIG
    say = progress or _quiet
    started = time.perf_counter()
    params = EngineParams.from_config(config)
    fingerprint = params_fingerprint(params)
    ensure_candle_table()
    state = OrderBlockRun.objects.filter(symbol=config.symbol).first()

    if full:
        outcome: RunSummary | str = "full run requested"
    elif state is None:
        outcome = "no previous run"
    elif state.params != fingerprint:
        outcome = f"settings changed ({state.params} -> {fingerprint})"
    else:
        outcome = _incremental(config, params, state, fingerprint, say)
    summary = outcome if isinstance(outcome, RunSummary) else _full(config, params, outcome, fingerprint, say)
    summary.duration_s = time.perf_counter() - started
    log.info("%s", summary.describe())
    return summary


def require_full_run(symbol: str) -> bool:
    """Make the next run a full one: stored candles changed in a way the incremental run's check
    (how many candles there are up to the last computed one) cannot see, i.e. the values of candles
    it already covered (an import that updated them). True when there was a run state to drop."""
    return OrderBlockRun.objects.filter(symbol=symbol).delete()[0] > 0


def refuse_long_gaps(max_missing_hours: int, *, from_ms: int | None = None) -> None:
    """Raise CandleHistoryGapError (one line: where and how long) for a gap over the limit: in the
    whole history (a full run) or from the last computed candle on (an incremental run: what came
    before was checked by the run that computed it)."""
    too_long = gaps_too_long(candle_gaps(from_ms=from_ms), max_missing_hours)
    if too_long:
        first = too_long[0]
        raise CandleHistoryGapError(
            f"candle history has {len(too_long)} gap(s) longer than CANDLE_GAP_MAX_H={max_missing_hours} h, "
            f"the first {first.missing} missing hour(s) from {first.first_missing_ms} to {first.last_missing_ms}: "
            "no order blocks computed (backfill_candles fills gaps the exchange has data for)"
        )


def _full(config: Any, params: EngineParams, reason: str, fingerprint: str, say: Progress) -> RunSummary:
    symbol = config.symbol
    refuse_long_gaps(config.candle_gap_max_h)
    say("loading candles")
    bars = load_bars()
    say(f"computing order blocks over {len(bars)} candles")
    detected = detect_order_blocks(*bar_arrays(bars), params, bar_numbers=bar_numbers(bars))
    records = records_from_detection(bars, detected, symbol, params, HOUR_MS)
    say(f"storing {len(records)} order blocks")
    summary = RunSummary(
        symbol=symbol,
        mode="full",
        reason=reason,
        bars=len(bars),
        new_bars=len(bars),
        through_ts_ms=bars[-1].open_time_ms if bars else None,
        candles_through=len(bars),
    )
    produced = {r.key for r in records}

    def plan(stored: dict[BlockKey, BlockRecord]) -> BlockWrites:
        removed = [r for key, r in stored.items() if key not in produced]
        return BlockWrites(plan_upsert(records, stored), removed)

    writes = _write_blocks(symbol, plan, lambda: _save_state(symbol, summary, fingerprint))
    result, summary.removed = writes.upsert, writes.removed
    summary.added, summary.changed, summary.unchanged = result.added, result.changed, result.unchanged
    if summary.removed:
        log.info(
            "removed %d order blocks reason=the candle history no longer produces them", len(summary.removed)
        )
    return summary


def _incremental(
    config: Any, params: EngineParams, state: OrderBlockRun, fingerprint: str, say: Progress
) -> RunSummary | str:
    """The incremental run's summary, or the reason a full run is needed instead."""
    symbol = config.symbol
    through = state.computed_through_ts_ms
    now_count = candle_count(through_ms=through)
    if now_count != state.candles_through:
        return f"history up to {through} changed ({state.candles_through} -> {now_count} candles)"
    first_new_ms = _first_open_time_after(through)
    if first_new_ms is None:
        return RunSummary(symbol, "idle", "no new candles", through_ts_ms=through, candles_through=now_count)
    refuse_long_gaps(config.candle_gap_max_h, from_ms=through)
    window_from = open_time_before(first_new_ms, config.ob_warmup_bars)
    if window_from is None:
        window_from = first_new_ms
    whole_history = candle_count(through_ms=window_from - 1) == 0
    say(f"loading candles from {window_from}")
    bars = load_bars(from_ms=window_from)
    first_new = _index_of(bars, first_new_ms)
    o, h, lo, c = bar_arrays(bars)
    if not whole_history and not window_reproduces_full_run(h, lo, first_new, params):
        return "the warm-up window holds too few swings to match a full run"
    say(f"computing order blocks over {len(bars)} candles ({len(bars) - first_new} new)")
    detected = detect_order_blocks(o, h, lo, c, params, bar_numbers=bar_numbers(bars))
    window_records = records_from_detection(bars, detected, symbol, params, HOUR_MS)
    summary = RunSummary(
        symbol=symbol,
        mode="incremental",
        reason=f"{len(bars) - first_new} new candles after {through}",
        bars=len(bars),
        new_bars=len(bars) - first_new,
        through_ts_ms=bars[-1].open_time_ms,
        candles_through=state.candles_through + len(bars) - first_new,
    )

    def plan(stored: dict[BlockKey, BlockRecord]) -> BlockWrites:
        # blocks of BOS bars among the new candles; an OB bar already claimed by an earlier BOS keeps
        # that block (one block per direction and OB bar: the first BOS wins, as in the full run)
        new_blocks = [r for r in window_records if r.bos_ts_ms > through and r.key not in stored]
        open_blocks = [r for r in stored.values() if r.status != BlockStatus.INVALID]
        moved = _advance(open_blocks, bars, first_new, (o, h, lo, c))
        return BlockWrites(plan_upsert([*new_blocks, *moved], stored), [])

    result = _write_blocks(symbol, plan, lambda: _save_state(symbol, summary, fingerprint)).upsert
    summary.added, summary.changed, summary.unchanged = result.added, result.changed, result.unchanged
    return summary


def _write_blocks(
    symbol: str, plan: Callable[[dict[BlockKey, BlockRecord]], BlockWrites], save_state: Callable[[], None]
) -> BlockWrites:
    """Read the stored blocks, `plan` the writes over them, and make those writes and `save_state` in
    one transaction. On SQLite a transaction holds the database's write lock from its first statement
    (the streamer's publications wait), so reading and planning happen before it: with ~10,000 blocks
    they took 0.4 s of it. The plan is used when no run committed meanwhile (every run saves its state
    in the transaction that writes its blocks, so an unchanged state, read first, proves the blocks
    unchanged); otherwise it is made again inside the transaction."""
    seen = _state_of(symbol)
    writes = plan(stored_blocks(symbol))
    with transaction.atomic():
        if _state_of(symbol) != seen:
            writes = plan(stored_blocks(symbol))
        write_blocks(writes)
        save_state()
    return writes


def _state_of(symbol: str) -> tuple[Any, ...] | None:
    return (
        OrderBlockRun.objects.filter(symbol=symbol)
        .values_list("computed_through_ts_ms", "candles_through", "params", "mode", "finished_at_ms")
        .first()
    )


def _advance(
    blocks: list[BlockRecord], bars: list[Bar], first_new: int, arrays: tuple[Any, Any, Any, Any]
) -> list[BlockRecord]:
    """Stored open blocks moved forward over bars[first_new:]."""
    if not blocks:
        return []
    count = len(blocks)
    touched, invalid = advance_status(
        *arrays,
        bullish=[b.direction == Direction.BULLISH for b in blocks],
        start=[first_new] * count,
        price_low=[float(b.price_low) for b in blocks],
        price_high=[float(b.price_high) for b in blocks],
        check_touch=[b.status == BlockStatus.FRESH for b in blocks],
    )
    return [
        with_status_events(
            block,
            bars[t].open_time_ms if t >= 0 else None,
            bars[i].open_time_ms if i >= 0 else None,
        )
        for block, t, i in zip(blocks, touched.tolist(), invalid.tolist(), strict=True)
    ]


def _first_open_time_after(through_ms: int) -> int | None:
    return (
        Candle.objects.filter(open_time_ms__gt=through_ms)
        .order_by("open_time_ms")
        .values_list("open_time_ms", flat=True)
        .first()
    )


def _index_of(bars: list[Bar], open_time_ms: int) -> int:
    for i, bar in enumerate(bars):
        if bar.open_time_ms >= open_time_ms:
            return i
    return len(bars)


def _save_state(symbol: str, summary: RunSummary, fingerprint: str) -> None:
    if summary.through_ts_ms is None:
        OrderBlockRun.objects.filter(symbol=symbol).delete()
        return
    OrderBlockRun.objects.update_or_create(
        symbol=symbol,
        defaults={
            "computed_through_ts_ms": summary.through_ts_ms,
            "candles_through": summary.candles_through,
            "params": fingerprint,
            "mode": summary.mode,
            "finished_at_ms": _now_ms(),
        },
    )
