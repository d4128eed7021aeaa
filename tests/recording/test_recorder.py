"""The recorder: hourly gzip files that read back as the recording, and a queue that drops (and
counts) lines rather than ever make the streamer wait."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import os
import threading

import pytest
from django.conf import settings

from apps.book.services.streamer import OrderBookStreamer
from apps.live.runtime import build_streamer
from apps.recording.domain.lines import RecordKind
from apps.recording.services.files import load_recording, read_lines
from apps.recording.services.recorder import FileRecorder, hour_label
from apps.simulator.server import BinanceSimulator
from tests.book.streaming import StreamHarness, fast_settings

HOUR_S = 3600
HOUR = 1_700_000_000 // HOUR_S  # an hour number (UTC hours since the epoch)
NS = HOUR * HOUR_S * 10**9 + 5 * 10**9  # five seconds into it
DEPTH = (
    '{"stream":"btceur@depth@100ms","data":{"e":"depthUpdate","E":1700000000123,"s":"BTCEUR",'
    '"U":101,"u":103,"b":[["87000.00000000","1.00000000"]],"a":[]}}'
)
SNAPSHOT = '{"lastUpdateId":100,"bids":[["87000.00000000","2.00000000"]],"asks":[]}'


def record_two_hours(recorder: FileRecorder) -> None:
    recorder.frame(NS, DEPTH)
    recorder.rest_answer(NS + 1, "/api/v3/depth?symbol=BTCEUR&limit=5000", SNAPSHOT)
    recorder.marker(NS + 2, "disconnected", "watchdog: no depth event for 10s")
    recorder.frame(NS + HOUR_S * 10**9, DEPTH)  # the next hour
    recorder.close()


def test_a_directory_gets_a_file_per_utc_hour_each_opening_with_its_header(tmp_path):
    recorder = FileRecorder(tmp_path, symbol="btceur", snapshot_limit=5000, header={"ws_url": "ws://x"})
    record_two_hours(recorder)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"btceur-{hour_label(HOUR)}.jsonl.gz", f"btceur-{hour_label(HOUR + 1)}.jsonl.gz"]
    assert hour_label(HOUR) == "20231114T22Z"
    first = list(read_lines(tmp_path / names[0]))
    header = json.loads(first[0].split(" ", 1)[1])
    assert header == {
        "marker": "recording",
        "version": 1,
        "symbol": "BTCEUR",
        "snapshot_limit": 5000,
        "ws_url": "ws://x",
    }
    assert first[1:3] == [f"{NS} {DEPTH}\n", f"{NS + 1} {SNAPSHOT}\n"]
    recording = load_recording([tmp_path])
    assert len(recording.frames) == 2 and recording.snapshot_ids("BTCEUR") == [100]
    assert recording.depth_limit("BTCEUR") == 5000  # from the header, not the body's 1 level
    kinds = [json.loads(m.text)["marker"] for m in recording.markers]
    assert kinds == ["recording", "disconnected", "recording"]
    health = recorder.health()
    assert (health["lines_written"], health["lines_dropped"], health["files"]) == (4, 0, 2)


def test_a_file_name_is_the_first_hour_and_names_the_later_ones(tmp_path):
    out = tmp_path / "session.jsonl.gz"
    record_two_hours(FileRecorder(out, symbol="BTCEUR", snapshot_limit=1000))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"session-{hour_label(HOUR + 1)}.jsonl.gz",
        "session.jsonl.gz",
    ]
    records = load_recording([out]).frames
    assert [r.kind for r in records] == [RecordKind.FRAME] and records[0].text == DEPTH


class BlockedFile:
    """A FIFO as the recording file: the writer thread blocks opening it until `drain` reads it."""

    def __init__(self, path) -> None:
        os.mkfifo(path)
        self.path = path
        self.data = b""
        self._reader: threading.Thread | None = None

    def drain(self) -> None:
        def read() -> None:
            with open(self.path, "rb") as pipe:
                self.data = pipe.read()

        self._reader = threading.Thread(target=read)
        self._reader.start()

    def lines(self) -> list[str]:
        assert self._reader is not None
        self._reader.join(10)
        return gzip.decompress(self.data).decode().splitlines()


def test_a_full_queue_drops_and_counts_lines_and_writes_the_rest(tmp_path):
    blocked = BlockedFile(tmp_path / "pipe.gz")
    recorder = FileRecorder(blocked.path, symbol="BTCEUR", snapshot_limit=5000, queue_max=100)
    for i in range(150):
        recorder.frame(NS + i, DEPTH)
    dropped = recorder.lines_dropped
    assert 49 <= dropped <= 50  # 100 queued (+ the one the writer may hold while it waits to open)
    assert recorder.health()["lines_dropped"] == dropped
    blocked.drain()
    recorder.close()
    lines = blocked.lines()
    assert len(lines) == 1 + 150 - dropped  # the header and every line kept
    assert recorder.health()["lines_written"] == 150 - dropped


@pytest.mark.asyncio
async def test_a_recorder_that_cannot_write_never_holds_the_book_back(tmp_path):
    blocked = BlockedFile(tmp_path / "pipe.gz")
    recorder = FileRecorder(blocked.path, symbol="BTCEUR", snapshot_limit=5000, queue_max=50)
    async with BinanceSimulator(depth_interval_s=0.02, seed=4) as sim:
        streamer = OrderBookStreamer(fast_settings(sim), tap=recorder)
        h = StreamHarness(sim=sim, streamer=streamer)
        streamer.observers.append(h.observe)
        h.task = asyncio.create_task(streamer.run())
        try:
            await h.live()
            await h.until(lambda p: recorder.lines_dropped > 100 and h.live_checked >= 20)
            await h.live(after_update_id=sim.update_id)
            blocked.drain()
        finally:
            await h.stop()
    assert h.mismatches == []
    written = blocked.lines()
    assert len(written) == 1 + recorder.lines_written and recorder.lines_written >= 50


@pytest.mark.django_db
def test_record_dir_gives_the_service_streamer_a_recorder_reported_in_health(tmp_path):
    config = dataclasses.replace(settings.CONFIG, record_dir=str(tmp_path / "rec"), record_queue_lines=500)
    streamer = build_streamer(
        config, with_listeners=False, ws_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9"
    )
    assert isinstance(streamer.tap, FileRecorder) and streamer.tap.queue_max == 500
    section = streamer.health()["recording"]
    assert section["lines_dropped"] == 0 and section["queue_max"] == 500
    streamer.tap.close()
    plain = build_streamer(settings.CONFIG, with_listeners=False)
    assert plain.tap is None and "recording" not in plain.health()
