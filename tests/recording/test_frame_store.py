"""The compact frame store gives back exactly the frames appended, and a recording file is loaded in
receive-time order whatever the order of its lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.recording.domain.frame_store import FrameStore
from apps.recording.domain.lines import Record, RecordKind, frame_line, frame_record, rest_line
from apps.recording.services.files import load_recording

DEPTH = (
    '{{"stream":"btceur@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCEUR",'
    '"U":{first},"u":{final},"b":[["87000.00","{qty}"]],"a":[]}}}}'
)

frames = st.one_of(
    st.builds(
        lambda ns, first, size, qty: frame_record(ns, DEPTH.format(first=first, final=first + size, qty=qty)),
        st.integers(0, 2**62),
        st.integers(0, 2**40),
        st.integers(0, 50),
        st.decimals(0, 1000, places=8).map(str),
    ),
    # anything else received: malformed text, newlines, any character (a lone surrogate from a JSON
    # escape too), ids of one kind only
    st.builds(
        lambda ns, text, stream, first, final: Record(
            ns, RecordKind.FRAME, text, stream, stream and stream.upper(), first, final
        ),
        st.integers(0, 2**62),
        st.text(),
        st.sampled_from([None, "btceur@aggTrade", "btceur@depth@100ms"]),
        st.none() | st.integers(0, 2**62),
        st.none() | st.integers(0, 2**62),
    ),
)


@given(st.lists(frames, max_size=40), st.integers(1, 7))
def test_every_frame_reads_back_exactly_by_index_slice_and_in_order(records, block_frames):
    store = FrameStore(block_frames)
    for record in records:
        store.append(record)
    assert len(store) == len(records)
    assert list(store) == records
    assert [store[i] for i in reversed(range(len(records)))] == records[::-1]  # blocks out of order
    assert store[1:-1:2] == records[1:-1:2]
    if records:
        assert store[-1] == records[-1] and store.receive_ns(0) == records[0].receive_ns
    with pytest.raises(IndexError):
        store[len(records)]


def test_texts_are_kept_compressed():
    store = FrameStore()
    for i in range(20 * 512):  # twenty blocks
        store.append(frame_record(i, DEPTH.format(first=10 * i, final=10 * i + 9, qty=f"{i % 97}.5")))
    assert store.stored_bytes < store.text_bytes / 2


def test_only_frames_are_stored():
    with pytest.raises(ValueError, match="not a frame"):
        FrameStore().append(Record(1, RecordKind.SNAPSHOT, "{}", symbol="BTCEUR", first_id=1))


def test_a_file_whose_lines_are_out_of_time_order_loads_in_time_order(tmp_path):
    """Frames sorted by receive time, equal times in the order of their lines; the other records too."""
    t = 1_700_000_000_000_000_000
    lines = [
        frame_line(t + 30, DEPTH.format(first=7, final=8, qty="1")),
        frame_line(t + 10, DEPTH.format(first=1, final=2, qty="1")),
        rest_line(t + 20, "/api/v3/depth?symbol=BTCEUR&limit=5000", '{"lastUpdateId":2,"bids":[],"asks":[]}'),
        frame_line(t + 20, DEPTH.format(first=3, final=4, qty="1")),
        frame_line(t + 20, DEPTH.format(first=5, final=6, qty="1")),
    ]
    path = tmp_path / "shuffled.txt"
    path.write_text("".join(lines))
    recording = load_recording([path])
    assert [(f.receive_ns - t, f.first_id) for f in recording.frames] == [(10, 1), (20, 3), (20, 5), (30, 7)]
    assert [m.index for m in recording.depth["BTCEUR"]] == [0, 1, 2, 3]
    assert recording.snapshot_ids("BTCEUR") == [2]
