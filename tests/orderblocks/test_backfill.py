"""backfill_candles against the simulator's GET /api/v3/klines: paging, resume, gap filling, rate
limits, the command's messages; plus the pure paging rules."""

from __future__ import annotations

from dataclasses import replace
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.book.services.rest_client import BinanceRestClient
from apps.orderblocks.domain.candles import HOUR_MS, KlineError, klines_forward
from apps.orderblocks.models import Candle, Candle15m
from apps.orderblocks.services.backfill import backfill_candles
from apps.orderblocks.services.candles import store_bars
from apps.simulator.wire import kline_row
from tests.orderblocks.conftest import ThreadedSim, sim_bars


def stored_bars():
    from apps.orderblocks.services.candles import load_bars

    return load_bars()


def kline_requests(simulator):
    return [parse_qs(r.query) for r in simulator.rest_log if r.path == "/api/v3/klines"]


@pytest.mark.django_db(transaction=True)
async def test_empty_table_gets_the_whole_closed_history_in_pages_of_1000(sim):
    client = BinanceRestClient(sim.rest_url)
    try:
        summary = await backfill_candles(client, "BTCEUR")
        again = await backfill_candles(client, "BTCEUR")
    finally:
        await client.aclose()
    expected = sim_bars(sim)
    assert len(expected) == 2000
    assert await sync(stored_bars) == expected  # exact values, open candle excluded
    assert (summary.received, summary.inserted, summary.gaps_left) == (2000, 2000, [])
    queries = kline_requests(sim)
    assert [q["limit"] for q in queries[:3]] == [["1000"]] * 3
    assert summary.requests == 3  # 1000 + 1000 + the open candle alone
    assert (again.inserted, again.received, again.requests) == (0, 0, 1)
    assert queries[3]["startTime"] == [str(expected[-1].open_time_ms + HOUR_MS)]  # resumed after the last


@pytest.mark.django_db(transaction=True)
async def test_resumes_after_the_last_stored_candle_and_fills_gaps(sim):
    expected = sim_bars(sim)
    await sync(store_bars, expected[:700] + expected[730:1200])  # a 30-hour gap, and 800 hours missing
    client = BinanceRestClient(sim.rest_url)
    try:
        summary = await backfill_candles(client, "BTCEUR")
    finally:
        await client.aclose()
    assert await sync(stored_bars) == expected
    assert summary.inserted == 830
    starts = [int(q["startTime"][0]) for q in kline_requests(sim)]
    assert starts[0] == expected[1200].open_time_ms
    assert expected[700].open_time_ms in starts  # the gap was requested from its first missing hour
    gap_query = kline_requests(sim)[starts.index(expected[700].open_time_ms)]
    assert gap_query["endTime"] == [str(expected[729].open_time_ms)]
    assert summary.gaps_left == []


@pytest.mark.django_db(transaction=True)
async def test_since_older_than_the_stored_history_fetches_that_part(sim):
    expected = sim_bars(sim)
    await sync(store_bars, expected[1500:])
    client = BinanceRestClient(sim.rest_url)
    try:
        summary = await backfill_candles(client, "BTCEUR", since_ms=expected[1000].open_time_ms)
    finally:
        await client.aclose()
    assert await sync(stored_bars) == expected[1000:]
    assert summary.inserted == 500


@pytest.mark.django_db(transaction=True)
async def test_a_gap_the_exchange_has_no_data_for_is_reported(sim):
    expected = sim_bars(sim)
    lonely = expected[0].__class__(expected[0].open_time_ms - 50 * HOUR_MS, *list(vars_of(expected[0]))[1:])
    await sync(store_bars, [lonely, *expected[:10]])
    client = BinanceRestClient(sim.rest_url)
    try:
        summary = await backfill_candles(client, "BTCEUR")
    finally:
        await client.aclose()
    assert len(summary.gaps_left) == 1
    gap = summary.gaps_left[0]
    assert (gap.after_ms, gap.before_ms, gap.missing) == (lonely.open_time_ms, expected[0].open_time_ms, 49)
    assert "1 gaps (49 missing hours) left" in summary.describe()


@pytest.mark.django_db(transaction=True)
async def test_rate_limit_answers_are_waited_out(sim):
    sim.rest_fault("429", times=1, retry_after=0.3, path="/api/v3/klines")
    client = BinanceRestClient(sim.rest_url)
    try:
        summary = await backfill_candles(client, "BTCEUR")
    finally:
        await client.aclose()
    assert client.counters["429"] == 1
    assert summary.inserted == 2000
    assert await sync(Candle.objects.count) == 2000


def vars_of(bar):
    return (bar.open_time_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)


async def sync(fn, *args):
    from asgiref.sync import sync_to_async

    return await sync_to_async(fn)(*args)


# ------------------------------------------------------------------------------ the command


@pytest.mark.django_db(transaction=True)
def test_backfill_command_fills_an_intraday_table_within_the_retention(threaded_sim, settings):
    settings.CONFIG = replace(settings.CONFIG, candle_retention_d_intraday=2.0)
    out = StringIO()
    call_command("backfill_candles", "--rest-url", threaded_sim.rest_url, "--tf", "15m", stdout=out)
    times = list(Candle15m.objects.values_list("open_time_ms", flat=True))
    assert 2 * 96 - 1 <= len(times) <= 2 * 96 + 1  # two days of 15m candles, nothing older
    assert times[-1] == threaded_sim.intraday["15m"].live.open_ms - 900_000
    assert "backfill 15m: 1 requests" in out.getvalue() and Candle.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_backfill_command_prints_a_summary_and_progress(threaded_sim, capsys):
    out = StringIO()
    call_command("backfill_candles", "--rest-url", threaded_sim.rest_url, stdout=out)
    assert Candle.objects.count() == 2000
    assert "2000 new" in out.getvalue()
    err = capsys.readouterr().err
    assert "backfill_candles: backfill: 1000 candles received" in err
    out = StringIO()
    call_command("backfill_candles", "--rest-url", threaded_sim.rest_url, stdout=out)
    assert "0 new" in out.getvalue()
    assert Candle.objects.count() == 2000


@pytest.mark.django_db(transaction=True)
def test_backfill_command_reports_a_refusing_source_clearly():
    with ThreadedSim(symbol="ETHEUR") as other:  # answers 400 for BTCEUR
        with pytest.raises(CommandError, match=r"REST source failed: .* answered 400"):
            call_command("backfill_candles", "--rest-url", other.rest_url, stdout=StringIO())
    assert Candle.objects.count() == 0


def test_backfill_command_rejects_a_bad_since():
    with pytest.raises(CommandError, match=r"--since: .*neither ISO 8601"):
        call_command("backfill_candles", "--since", "last tuesday", stdout=StringIO())


# ------------------------------------------------------------------------------ pure paging


def _row(open_ms, close_ms=None):
    close_ms = open_ms + HOUR_MS - 1 if close_ms is None else close_ms
    return [open_ms, "10", "12", "9", "11", "1", close_ms, "0", 1, "0", "0", "0"]


class Source:
    """An in-memory kline series answering like /api/v3/klines (for the pure paging rules)."""

    def __init__(self, opens):
        self.rows = [_row(t) for t in opens]
        self.calls = []

    async def __call__(self, start, end, limit):
        self.calls.append((start, end, limit))
        rows = [r for r in self.rows if r[0] >= start and (end is None or r[0] <= end)]
        return rows[:limit]


async def collect(source, start, end, now, limit):
    return [page async for page in klines_forward(source, start, end, now, limit=limit)]


async def test_paging_stops_at_the_open_candle():
    opens = [i * HOUR_MS for i in range(7)]
    source = Source(opens)
    now = opens[-1] + 10  # the last candle is still open
    pages = await collect(source, 0, None, now, 3)
    assert [[b.open_time_ms for b in p.bars] for p in pages] == [opens[0:3], opens[3:6], []]
    assert [c[0] for c in source.calls] == [0, opens[2] + 1, opens[5] + 1]  # after the last row seen
    assert pages[-1].complete


async def test_paging_treats_a_candle_followed_by_another_as_closed():
    opens = [i * HOUR_MS for i in range(5)]
    source = Source(opens)
    now = opens[1]  # clock behind the data (e.g. candles closed early by the simulator)
    pages = await collect(source, 0, None, now, 3)
    assert [b.open_time_ms for p in pages for b in p.bars] == opens[:4]


async def test_paging_respects_the_end_time():
    opens = [i * HOUR_MS for i in range(10)]
    pages = await collect(Source(opens), opens[2], opens[5], 10**15, 1000)
    assert [b.open_time_ms for p in pages for b in p.bars] == opens[2:6]


async def test_paging_up_to_an_end_time_takes_every_candle_as_closed():
    # an end time is only asked for below a stored candle (a gap): nothing before it is still open,
    # even when the clock says otherwise (candles closed early by the simulator)
    opens = [i * HOUR_MS for i in range(6)]
    pages = await collect(Source(opens), opens[2], opens[4], opens[0], 1000)
    assert [b.open_time_ms for p in pages for b in p.bars] == opens[2:5]


async def test_paging_rejects_rows_that_go_backwards():
    async def bad(start, end, limit):
        return [_row(2 * HOUR_MS), _row(HOUR_MS)]

    with pytest.raises(KlineError, match="not ascending"):
        await collect(bad, 0, None, 10**15, 1000)


async def test_paging_rejects_malformed_rows():
    async def bad(start, end, limit):
        return [[0, "10", "9", "11", "10", "1", HOUR_MS - 1]]  # high below low

    with pytest.raises(KlineError, match="high"):
        await collect(bad, 0, None, 10**15, 1000)


def test_sim_rows_parse_to_the_same_candles():
    with ThreadedSim() as threaded:
        first = threaded.candles.closed[0]
        row = kline_row(first)
    bars = sim_bars(threaded)
    assert bars[0].open_time_ms == first.open_ms == int(row[0])
