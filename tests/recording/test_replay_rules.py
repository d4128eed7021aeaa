"""The replay's pure rules: merging files by receive time, which snapshot a request gets, the
pacing schedule, the time shift, the candles a klines request gets, stream names."""

from __future__ import annotations

import argparse
import json

import pytest

from apps.recording.domain.klines import KlineArchive
from apps.recording.domain.lines import Record, RecordKind, frame_record, parse_line
from apps.recording.domain.pacing import (
    HOUR_MS,
    PacingSchedule,
    hour_aligned_offset_ms,
    shift_frame_times,
    shift_kline_row,
)
from apps.recording.domain.recording import DepthMark, build_recording, merge_by_time
from apps.recording.domain.snapshots import (
    StreamPosition,
    choose_snapshot,
    nearest_snapshot,
    resume_index,
)
from apps.recording.domain.streams import payload_text, recorded_stream_keys, stream_key


def depth(ns: int, first: int, final: int, symbol: str = "BTCEUR") -> Record:
    text = (
        f'{{"stream":"{symbol.lower()}@depth@100ms","data":{{"e":"depthUpdate","E":{ns // 1_000_000},'
        f'"s":"{symbol}","U":{first},"u":{final},"b":[],"a":[]}}}}'
    )
    return frame_record(ns, text)


def snapshot(ns: int, last_id: int, symbol: str | None = "BTCEUR") -> Record:
    return Record(
        ns,
        RecordKind.SNAPSHOT,
        f'{{"lastUpdateId":{last_id},"bids":[],"asks":[]}}',
        symbol=symbol,
        first_id=last_id,
    )


def test_files_merge_by_receive_time_and_keep_their_order_on_equal_times():
    http = [snapshot(5, 100), snapshot(9, 200)]
    ws = [depth(3, 90, 95), depth(5, 96, 101), depth(7, 102, 110)]
    merged = list(merge_by_time([http, ws]))
    assert [(r.receive_ns, r.kind) for r in merged] == [
        (3, RecordKind.FRAME),
        (5, RecordKind.SNAPSHOT),  # the first file given wins a tie
        (5, RecordKind.FRAME),
        (7, RecordKind.FRAME),
        (9, RecordKind.SNAPSHOT),
    ]


def test_a_recording_indexes_depth_frames_and_snapshots_per_symbol():
    records = [
        depth(1, 10, 12),
        depth(2, 5, 6, "ETHEUR"),
        snapshot(3, 11),
        depth(4, 13, 15),
        snapshot(5, 9, None),
    ]
    recording = build_recording(records)
    assert recording.symbols == ["BTCEUR", "ETHEUR"]
    assert list(recording.depth["BTCEUR"]) == [DepthMark(0, 10, 12), DepthMark(2, 13, 15)]
    assert recording.snapshot_ids("BTCEUR") == [11]
    assert recording.unassigned_snapshots == 1  # a bare snapshot with two symbols: whose?
    one_symbol = build_recording([depth(1, 10, 12), snapshot(2, 14, None), snapshot(3, 11, None)])
    assert one_symbol.snapshot_ids("BTCEUR") == [11, 14]


def test_the_nearest_snapshot_in_update_id_ties_to_the_newer():
    assert nearest_snapshot([100, 200, 300], 190) == 200
    assert nearest_snapshot([100, 200, 300], 150) == 200
    assert nearest_snapshot([100, 200, 300], 10) == 100
    assert nearest_snapshot([100, 200, 300], 999) == 300


def test_a_request_gets_the_nearest_snapshot_while_it_can_sync():
    position = StreamPosition()
    position.sent(95, 101)
    choice = choose_snapshot([100, 500], position, None)
    assert (choice.snapshot_id, choice.restart) == (100, False)
    before_anything = choose_snapshot([100, 500], StreamPosition(), next_first_id=480)
    assert (before_anything.snapshot_id, before_anything.restart) == (500, False)


def test_a_snapshot_older_than_the_run_restarts_from_the_next_recorded_one():
    position = StreamPosition()
    position.sent(95, 101)
    position.sent(150, 160)  # a gap: a new run begins at 150
    assert position.run_start == 150
    choice = choose_snapshot([100, 300, 900], position, None)
    assert (choice.snapshot_id, choice.restart) == (300, True)
    assert "too old" in choice.reason


def test_asking_again_for_a_snapshot_the_stream_has_passed_moves_on():
    position = StreamPosition()
    position.sent(90, 120)
    first = choose_snapshot([100, 400], position, None)
    assert (first.snapshot_id, first.restart) == (100, False)
    position.served = first.snapshot_id
    position.sent(121, 130)
    again = choose_snapshot([100, 400], position, None)
    assert (again.snapshot_id, again.restart) == (400, True)


def test_too_old_with_no_later_snapshot_serves_the_nearest_and_says_why():
    position = StreamPosition()
    position.sent(500, 510)
    choice = choose_snapshot([100], position, None)
    assert (choice.snapshot_id, choice.restart) == (100, False)
    assert "no later snapshot" in choice.reason
    assert choose_snapshot([], position, None).snapshot_id is None


def test_a_new_connection_starts_a_new_run_and_forgets_what_was_served():
    position = StreamPosition()
    position.sent(10, 20)
    position.served = 15
    position.new_connection()
    position.sent(21, 25)
    assert (position.run_start, position.served, position.last_id) == (21, None, 25)
    position.sent(26, 30)
    position.sent(12, 14)  # an old event never moves the position back
    assert (position.run_start, position.last_id) == (21, 30)


def test_resume_from_the_first_depth_frame_that_reaches_past_the_snapshot():
    marks = [DepthMark(0, 10, 12), DepthMark(3, 13, 20), DepthMark(7, 21, 22), DepthMark(9, 23, 30)]
    assert resume_index(marks, 19, 0) == 3  # holds 20
    assert resume_index(marks, 20, 0) == 7  # follows it
    assert resume_index(marks, 19, 5) == 7  # never back before the cursor
    assert resume_index(marks, 30, 0) is None


def test_pacing_divides_recorded_time_by_the_speed_and_max_speed_sends_at_once():
    schedule = PacingSchedule(speed=10.0)
    schedule.rebase(1_000_000_000, 50.0)
    assert schedule.due(1_000_000_000) == 50.0
    assert schedule.due(3_000_000_000) == 50.2
    assert schedule.recorded_ns_at(50.1) == 2_000_000_000
    schedule.rebase(9_000_000_000, 60.0)  # a jump: that frame is due now
    assert schedule.due(10_000_000_000) == 60.1
    fastest = PacingSchedule(speed=None)
    fastest.rebase(0, 5.0)
    assert fastest.due(10**12) == 5.0


def test_time_shift_moves_event_times_only_by_whole_hours():
    first_ns = 1_617_566_590_378_895_000  # 2021-04-04 20:03:10 UTC
    now_ms = 1_800_000_000_000
    offset = hour_aligned_offset_ms(first_ns, now_ms)
    assert offset % HOUR_MS == 0 and now_ms - HOUR_MS < first_ns // 1_000_000 + offset <= now_ms
    assert hour_aligned_offset_ms(now_ms * 1_000_000, now_ms) == 0
    trade = '{"stream":"x@aggTrade","data":{"e":"aggTrade","E":1000,"s":"X","a":5,"p":"1.0","q":"2","f":7,"l":7,"T":999,"m":true,"M":true}}'
    assert shift_frame_times(trade, 10) == trade.replace('"E":1000', '"E":1010').replace(
        '"T":999', '"T":1009'
    )
    kline = '{"stream":"x@kline_1h","data":{"e":"kline","E":5000,"s":"X","k":{"t":3600000,"T":7199999,"s":"X","i":"1h","f":1,"L":2}}}'
    shifted = json.loads(shift_frame_times(kline, HOUR_MS))["data"]
    assert (shifted["E"], shifted["k"]["t"], shifted["k"]["T"], shifted["k"]["f"]) == (
        5000 + HOUR_MS,
        2 * HOUR_MS,
        3 * HOUR_MS - 1,
        1,
    )
    trade_stream = '{"stream":"x@trade","data":{"e":"trade","E":10,"s":"X","t":12345,"T":9}}'
    assert json.loads(shift_frame_times(trade_stream, 1))["data"]["t"] == 12345  # a trade id, not a time
    assert shift_frame_times(trade, 0) is trade
    assert shift_kline_row([0, "1", "1", "1", "1", "1", 99, "1", 1, "1", "1", "0"], 100)[::6] == [100, 199]


def test_klines_answers_hold_the_candles_closed_by_the_replay_position():
    archive = KlineArchive()
    rows = [
        [t * HOUR_MS, "1", "2", "0.5", "1.5", "3", (t + 1) * HOUR_MS - 1, "4", 5, "1", "2", "0"]
        for t in range(5)
    ]
    assert archive.add_rest_body("BTCEUR", "1h", json.dumps(rows)) == 5
    closed = {
        "e": "kline",
        "E": 1,
        "s": "BTCEUR",
        "k": {
            "t": 5 * HOUR_MS,
            "T": 6 * HOUR_MS - 1,
            "s": "BTCEUR",
            "i": "1h",
            "o": "9",
            "c": "9",
            "h": "9",
            "l": "9",
            "v": "1",
            "n": 2,
            "x": True,
            "q": "9",
            "V": "0",
            "Q": "0",
            "B": "0",
        },
    }
    assert archive.add_kline_frame(json.dumps({"stream": "btceur@kline_1h", "data": closed}))
    assert not archive.add_kline_frame(
        json.dumps({"stream": "btceur@kline_1h", "data": {**closed, "k": {**closed["k"], "x": False}}})
    )
    every = archive.query("BTCEUR", "1h", None, None, 500, closed_before_ms=10 * HOUR_MS)
    assert [r[0] // HOUR_MS for r in every] == [0, 1, 2, 3, 4, 5]
    assert every[-1][1] == "9"
    by_position = archive.query("BTCEUR", "1h", None, None, 500, closed_before_ms=3 * HOUR_MS)
    assert [r[0] // HOUR_MS for r in by_position] == [0, 1, 2]  # the one closing at 3 h - 1 ms is in
    assert [r[0] // HOUR_MS for r in archive.query("BTCEUR", "1h", HOUR_MS, None, 2, 10 * HOUR_MS)] == [1, 2]
    assert [r[0] // HOUR_MS for r in archive.query("BTCEUR", "1h", None, 3 * HOUR_MS, 2, 10 * HOUR_MS)] == [
        2,
        3,
    ]
    assert archive.query("BTCEUR", "5m", None, None, 500, 10 * HOUR_MS) == []


def test_stream_names_and_the_raw_payload_of_a_combined_frame():
    assert stream_key("BTCEUR@aggTrade") == "btceur@aggTrade"
    assert stream_key("nonsense") is None
    key_of = recorded_stream_keys({"BTCUSDT"})
    assert key_of("btcusdt@kline_1h") == "btcusdt@kline_1h"  # not in the recording: served, silent
    assert key_of("btceur@depth@100ms") is None
    frame = '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","p":"1.0"}}'
    assert payload_text(frame) == '{"e":"aggTrade","p":"1.0"}'
    assert payload_text('{"e":"serverShutdown"}') == '{"e":"serverShutdown"}'


def test_a_recorded_frame_of_another_symbol_on_a_stream_is_no_depth_event_of_the_stream():
    wrong = '{"stream":"btceur@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHEUR","U":5,"u":7,"b":[],"a":[]}}'
    record = parse_line(f"1700000000000000000 {wrong}")
    assert record is not None and record.symbol == "BTCEUR" and record.first_id is None


def test_from_names_a_recorded_time_three_ways():
    from django.core.management.base import CommandError

    from apps.simulator.replay.cli import from_ns, speed_option

    start = 1_617_566_590_378_895_000
    assert from_ns(None, start) is None
    assert from_ns("+30", start) == start + 30 * 10**9
    assert from_ns("1617566620", start) == 1_617_566_620 * 10**9
    assert from_ns("2021-04-04T20:03:40Z", start) == 1_617_566_620 * 10**9
    assert from_ns("2021-04-04T20:03:40", start) == 1_617_566_620 * 10**9  # no zone: UTC
    assert from_ns("2021-04-04T22:03:40+02:00", start) == 1_617_566_620 * 10**9
    with pytest.raises(CommandError, match="--from"):
        from_ns("yesterday", start)
    assert speed_option("max") is None and speed_option("2.5") == 2.5
    for bad in ("0", "-1", "fast", "100000"):
        with pytest.raises(argparse.ArgumentTypeError):
            speed_option(bad)


def test_a_replay_from_a_time_starts_at_the_first_frame_received_then():
    from apps.simulator.replay.server import start_index_at

    recording = build_recording([depth(10, 1, 1), depth(20, 2, 2), depth(30, 3, 3)])
    assert [start_index_at(recording, t) for t in (None, 5, 20, 21, 99)] == [0, 0, 1, 2, 3]
