"""The line formats: ours (written and read back), hftbacktest's and the collect-binance scripts'
(integer receive times in other units, bare snapshots in one-symbol files) and cryptofeed's."""

from __future__ import annotations

import json

import pytest

from apps.recording.domain.lines import (
    BadLine,
    LineReader,
    RecordKind,
    frame_line,
    header_line,
    marker_line,
    parse_line,
    rest_line,
    timestamp_ns,
)

DEPTH = (
    '{"stream":"btceur@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,"s":"BTCEUR",'
    '"U":101,"u":103,"b":[["87000.00000000","1.00000000"]],"a":[]}}'
)
SNAPSHOT = '{"lastUpdateId":100,"bids":[["87000.00000000","2.00000000"]],"asks":[["87001.00000000","1.0"]]}'
NS = 1_700_000_000_123_456_789


def test_a_frame_line_is_the_receive_time_and_the_frame_byte_for_byte():
    line = frame_line(NS, DEPTH)
    assert line == f"{NS} {DEPTH}\n"
    record = parse_line(line)
    assert record is not None and record.kind is RecordKind.FRAME
    assert record.text == DEPTH and record.receive_ns == NS
    assert (record.stream, record.symbol, record.first_id, record.final_id) == (
        "btceur@depth@100ms",
        "BTCEUR",
        101,
        103,
    )


@pytest.mark.parametrize(
    "frame",
    [
        '{"e":"depthUpdate","E":1,"s":"BTCEUR","U":,,"b":[["1.0"',  # malformed: still a frame
        '{"stream":"btceur@depth@100ms","data":{"e":"dep',  # truncated
        '{"e":"serverShutdown","E":1700000000000}',
        '{"code":-1100,"msg":"Illegal characters"}',
        "line one\nline two",
        ' {"stream":"btceur@aggTrade","data":{}}',  # leading space: would not survive the line split
        '{"lastUpdateId":5,"bids":[],"asks":[]}',  # would read as a snapshot
        '{"marker":"connected"}',  # would read as a marker
        '{"rest":"/api/v3/klines","body":[]}',  # would read as a wrapped answer
    ],
)
def test_any_text_frame_reads_back_as_exactly_that_frame(frame):
    line = frame_line(NS, frame)
    assert line.count("\n") == 1 and line.endswith("\n")
    record = parse_line(line)
    assert record is not None and record.kind is RecordKind.FRAME and record.text == frame


def test_a_binary_frame_is_kept_and_replayed_as_its_text():
    record = parse_line(frame_line(NS, b'{"e":"x"}'))
    assert record is not None and record.kind is RecordKind.FRAME and record.text == '{"e":"x"}'


def test_a_snapshot_line_is_the_bare_body_and_other_answers_name_their_request():
    assert rest_line(NS, "/api/v3/depth?symbol=BTCEUR&limit=5000", SNAPSHOT) == f"{NS} {SNAPSHOT}\n"
    klines = '[[1700000000000,"1","2","0.5","1.5","10",1700003599999,"15",3,"5","7","0"]]'
    line = rest_line(NS, "/api/v3/klines?symbol=BTCEUR&interval=1h&limit=1000", klines)
    wrapped = json.loads(line.split(" ", 1)[1])
    assert wrapped == {
        "rest": "/api/v3/klines?symbol=BTCEUR&interval=1h&limit=1000",
        "body": json.loads(klines),
    }
    record = parse_line(line)
    assert record is not None and record.kind is RecordKind.REST
    assert (record.symbol, record.request) == (
        "BTCEUR",
        "/api/v3/klines?symbol=BTCEUR&interval=1h&limit=1000",
    )
    assert record.text == klines  # the body byte for byte


def test_bare_snapshots_take_the_symbol_and_limit_of_the_file_header():
    reader = LineReader()
    lines = [
        header_line(NS, "BTCEUR", 5000),
        f"{NS + 1} {SNAPSHOT}\n",
        marker_line(NS + 2, "connected", detail="ws://x"),
    ]
    records = [reader.read(line) for line in lines]
    assert [r.kind for r in records if r] == [RecordKind.MARKER, RecordKind.SNAPSHOT, RecordKind.MARKER]
    snapshot = records[1]
    assert snapshot is not None and (snapshot.symbol, snapshot.limit, snapshot.first_id) == (
        "BTCEUR",
        5000,
        100,
    )


def test_a_collector_file_without_header_gives_its_snapshot_the_symbol_of_its_depth_stream():
    """hftbacktest writes one file per symbol, nanoseconds; collect-binance microseconds and
    json.dumps' spaced snapshot."""
    reader = LineReader()
    first = reader.read(f"1700000000123456 {DEPTH}\n")
    snapshot = reader.read('1700000000200000 {"lastUpdateId": 100, "bids": [], "asks": []}\n')
    assert first is not None and first.receive_ns == 1_700_000_000_123_456_000
    assert snapshot is not None and snapshot.kind is RecordKind.SNAPSHOT
    assert (snapshot.symbol, snapshot.first_id, snapshot.limit) == ("BTCEUR", 100, None)


def test_cryptofeed_lines():
    connect = parse_line(
        "wss://stream.binance.com:9443/stream?streams=btcusdt@depth@100ms <-> 1617566590.378895"
    )
    assert connect is not None and connect.kind is RecordKind.MARKER
    assert connect.receive_ns == 1_617_566_590_378_895_000
    frame = parse_line(f"1617566591.326123: {DEPTH}")
    assert frame is not None and frame.kind is RecordKind.FRAME and frame.text == DEPTH
    assert frame.receive_ns == 1_617_566_591_326_123_000
    snap = parse_line(
        f"https://www.binance.com/api/v1/depth?symbol=DOTUSDT&limit=1000 -> 1617566592.1065369: {SNAPSHOT}"
    )
    assert snap is not None and snap.kind is RecordKind.SNAPSHOT
    assert (snap.symbol, snap.limit, snap.first_id, snap.text) == ("DOTUSDT", 1000, 100, SNAPSHOT)
    assert snap.receive_ns == 1_617_566_592_106_536_900
    assert parse_line('configuration: {"l2_book":["BTC-USDT"]}') is None
    assert parse_line("\n") is None


def test_receive_times_in_every_unit():
    assert timestamp_ns("1617566591") == 1_617_566_591_000_000_000
    assert timestamp_ns("1617566591.5") == 1_617_566_591_500_000_000
    assert timestamp_ns("1617566591326") == 1_617_566_591_326_000_000
    assert timestamp_ns("1617566591326123") == 1_617_566_591_326_123_000
    assert timestamp_ns("1617566591326123456") == 1_617_566_591_326_123_456


@pytest.mark.parametrize("line", ["hello world", "12 {}", '{"stream":"x"}', "abc: {}"])
def test_a_line_in_no_format_is_refused_and_counted(line):
    with pytest.raises(BadLine):
        parse_line(line)
    reader = LineReader()
    assert reader.read(line) is None and reader.bad_lines == 1 and reader.first_bad
