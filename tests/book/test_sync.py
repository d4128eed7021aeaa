"""The Binance procedure as a pure state machine, event by event, without sockets."""

from decimal import Decimal as D

from apps.book.domain.events import DepthEvent, DepthSnapshot
from apps.book.domain.sync import DepthSynchronizer, Handover, Outcome, SyncState


def ev(first, final, bids=(), asks=()):
    return DepthEvent(
        first, final, 0, tuple((D(p), D(q)) for p, q in bids), tuple((D(p), D(q)) for p, q in asks)
    )


def snap(last, bids=(("100", "1"),), asks=(("101", "1"),)):
    return DepthSnapshot(last, tuple((D(p), D(q)) for p, q in bids), tuple((D(p), D(q)) for p, q in asks))


def connected_sync(**kwargs):
    sync = DepthSynchronizer(**kwargs)
    sync.connected()
    return sync


def test_first_event_asks_for_snapshot_and_book_is_not_ready():
    sync = connected_sync()
    assert sync.on_event(ev(10, 12)).outcome is Outcome.NEED_SNAPSHOT
    assert sync.state is SyncState.SNAPSHOTTING and not sync.ready
    assert sync.on_event(ev(13, 15)).outcome is Outcome.BUFFERED


def test_snapshot_older_than_first_buffered_event_is_refetched():
    sync = connected_sync()
    sync.on_event(ev(10, 12))
    assert sync.on_snapshot(snap(9)).outcome is Outcome.SNAPSHOT_TOO_OLD
    assert not sync.ready


def test_snapshot_inside_first_event_drops_older_and_replays_rest():
    sync = connected_sync()
    sync.on_event(ev(10, 12, bids=[("99", "5")]))
    sync.on_event(ev(13, 15, bids=[("98", "7")]))
    result = sync.on_snapshot(snap(11))
    assert result.outcome is Outcome.LIVE
    assert sync.book.update_id == 15
    assert sync.book.quantity("bid", D("99")) == D("5")  # event 10..12 straddles 11: applied
    assert sync.book.quantity("bid", D("98")) == D("7")


def test_exact_boundary_u_equal_last_update_id_is_dropped():
    sync = connected_sync()
    sync.on_event(ev(10, 12, bids=[("99", "5")]))
    sync.on_event(ev(13, 13, bids=[("98", "7")]))
    assert sync.on_snapshot(snap(12)).outcome is Outcome.LIVE
    assert sync.book.quantity("bid", D("99")) == 0  # u == lastUpdateId: already in the snapshot
    assert sync.book.update_id == 13


def test_snapshot_newer_than_everything_buffered_goes_live_at_snapshot():
    sync = connected_sync()
    sync.on_event(ev(10, 12))
    assert sync.on_snapshot(snap(20)).outcome is Outcome.LIVE
    assert sync.book.update_id == 20
    assert sync.on_event(ev(15, 19)).outcome is Outcome.IGNORED
    assert sync.on_event(ev(18, 22, bids=[("99", "1")])).outcome is Outcome.APPLIED  # U <= L+1 <= u
    assert sync.book.update_id == 22


def test_gap_in_buffer_after_snapshot_resyncs():
    sync = connected_sync()
    sync.on_event(ev(10, 12))
    sync.on_event(ev(14, 15))  # 13 missing
    assert sync.on_snapshot(snap(12)).outcome is Outcome.RESYNC
    assert sync.state is SyncState.RESYNCING and not sync.ready


def test_live_rules_old_duplicate_overlap_gap():
    sync = connected_sync()
    sync.on_event(ev(10, 12))
    sync.on_snapshot(snap(11))
    assert sync.book.update_id == 12
    assert sync.on_event(ev(5, 9)).outcome is Outcome.IGNORED  # old
    assert sync.on_event(ev(10, 12)).outcome is Outcome.APPLIED  # duplicate of the last: idempotent
    assert sync.on_event(ev(12, 14, bids=[("99", "2")])).outcome is Outcome.APPLIED  # overlap
    assert sync.book.update_id == 14
    assert sync.on_event(ev(15, 15)).outcome is Outcome.APPLIED  # exact U == L+1
    result = sync.on_event(ev(17, 18))
    assert result.outcome is Outcome.RESYNC and "gap" in result.reason
    assert sync.resyncs["gap"] == 1
    assert sync.book.update_id == 0 and len(sync.book) == 0  # no half-built book


def test_crossed_book_after_event_is_a_desync_not_masked():
    sync = connected_sync()
    sync.on_event(ev(10, 10))
    sync.on_snapshot(snap(10))
    result = sync.on_event(ev(11, 11, bids=[("101.5", "1")]))
    assert result.outcome is Outcome.RESYNC and "crossed" in result.reason


def test_buffer_overflow_resyncs_instead_of_dropping():
    sync = connected_sync(max_buffer=3)
    for i in range(3):
        sync.on_event(ev(10 + i, 10 + i))
    result = sync.on_event(ev(13, 13))
    assert result.outcome is Outcome.RESYNC and result.reason == "buffer overflow"
    assert sync.needs_snapshot  # the overflowing event is the new anchor
    assert sync.on_snapshot(snap(13)).outcome is Outcome.LIVE


def test_reconnect_splices_when_continuous():
    sync = connected_sync()
    sync.on_event(ev(10, 10))
    sync.on_snapshot(snap(10, bids=[("100", "1")]))
    sync.disconnected()
    assert sync.state is SyncState.BACKOFF and not sync.ready
    sync.connecting()
    sync.connected()
    assert sync.on_event(ev(8, 10)).outcome is Outcome.IGNORED
    assert sync.on_event(ev(9, 12, bids=[("100", "3")])).outcome is Outcome.SPLICED
    assert sync.ready and sync.book.update_id == 12 and sync.splices == 1
    assert sync.book.quantity("bid", D("100")) == D("3")


def test_reconnect_after_missed_events_falls_back_to_snapshot():
    sync = connected_sync()
    sync.on_event(ev(10, 10))
    sync.on_snapshot(snap(10))
    sync.disconnected()
    sync.connecting()
    sync.connected()
    assert sync.on_event(ev(20, 21)).outcome is Outcome.NEED_SNAPSHOT
    assert len(sync.book) == 0 and sync.needs_snapshot


def test_handover_waits_until_new_stream_continues_book():
    handover = Handover()
    handover.hold(ev(21, 22))
    assert not handover.can_switch(18)  # old connection still behind
    assert handover.can_switch(20)
    assert [e.first_update_id for e in handover.release()] == [21]
    later = Handover()
    later.hold(ev(5, 9))
    assert later.can_switch(10)  # the new stream is behind the book: its next event continues it
    assert later.release() == []
