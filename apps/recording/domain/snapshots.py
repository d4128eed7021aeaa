"""Which recorded snapshot a replay serves when a client asks for one. Pure.

The replay knows what it sent on the depth stream of each symbol (`StreamPosition`): the highest
final id ``u``, where the current unbroken run of ids began (a new connection or a gap starts one),
and the snapshot it served last in this run. A request gets the recorded snapshot nearest in update
id to that position (`nearest_snapshot`). That one may be too old for the client (`too_old`): older
than the run (the client cannot have the events after it), or the same one again while the stream has
passed it (the client asked again because it was too old). Then the replay says so and restarts from
the next recorded snapshot the stream has not passed yet (`choose_snapshot` gives its id and
``restart``; `resume_index` is the frame to go on from: the first depth frame that reaches past it).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from apps.recording.domain.recording import DepthMark


@dataclass(slots=True)
class StreamPosition:
    """What the replay sent of one symbol's depth stream."""

    last_id: int | None = None  # the highest u sent
    run_start: int | None = None  # U of the first event of the current unbroken run
    served: int | None = None  # lastUpdateId of the snapshot served last in this run
    _new_run: bool = True

    def new_connection(self) -> None:
        """A client connected: its events start with the next one sent."""
        self._new_run = True

    def restarted_at(self, snapshot_id: int) -> None:
        """The replay goes on from the frame after ``snapshot_id`` (served): that is no gap."""
        self.last_id, self.run_start, self.served = snapshot_id, snapshot_id + 1, snapshot_id
        self._new_run = False

    def sent(self, first_id: int, final_id: int) -> None:
        """A depth event U..u went out. An event past last + 1 (a gap) starts a new run."""
        if self._new_run or self.last_id is None or first_id > self.last_id + 1:
            self.run_start = first_id
            self.served = None
            self._new_run = False
        self.last_id = final_id if self.last_id is None else max(self.last_id, final_id)


@dataclass(frozen=True, slots=True)
class SnapshotChoice:
    snapshot_id: int | None  # lastUpdateId of the snapshot to answer with; None: the recording has none
    restart: bool  # the nearest was too old: go on from this (later) snapshot
    reason: str


def nearest_snapshot(snapshot_ids: Sequence[int], position_id: int) -> int:
    """The id nearest to ``position_id`` (ascending ``snapshot_ids``, not empty); a tie goes to the newer."""
    at = bisect.bisect_left(snapshot_ids, position_id)
    candidates = snapshot_ids[max(0, at - 1) : at + 1]
    return min(candidates, key=lambda sid: (abs(sid - position_id), -sid))


def too_old(snapshot_id: int, position: StreamPosition, position_id: int) -> bool:
    """The client cannot sync with it: it ends before the run began, or it was served already in
    this run and the stream is past it."""
    if position.run_start is not None and snapshot_id + 1 < position.run_start:
        return True
    return snapshot_id == position.served and snapshot_id < position_id


def choose_snapshot(
    snapshot_ids: Sequence[int], position: StreamPosition, next_first_id: int | None
) -> SnapshotChoice:
    """The snapshot to answer a request with. ``next_first_id``: U of the next depth event to be sent
    (where the stream is before anything of this symbol went out)."""
    if not snapshot_ids:
        return SnapshotChoice(None, False, "the recording holds no snapshot of this symbol")
    if position.last_id is not None:
        position_id = position.last_id
    elif next_first_id is not None:
        position_id = next_first_id - 1
    else:
        position_id = snapshot_ids[-1]
    nearest = nearest_snapshot(snapshot_ids, position_id)
    if not too_old(nearest, position, position_id):
        return SnapshotChoice(nearest, False, f"nearest to update id {position_id}")
    later = [sid for sid in snapshot_ids if sid >= position_id and sid > nearest]
    if not later:
        return SnapshotChoice(
            nearest, False, f"nearest ({nearest}) is too old and the recording has no later snapshot"
        )
    return SnapshotChoice(
        later[0],
        True,
        f"nearest ({nearest}) is too old for the stream at {position_id}: restarting from {later[0]}",
    )


def resume_index(marks: Sequence[DepthMark], snapshot_id: int, from_index: int) -> int | None:
    """The frame index to go on from so a client syncs with ``snapshot_id``: the first depth frame at
    or after ``from_index`` whose u reaches past it (it holds, or follows, the event snapshot + 1).
    None when no later frame does."""
    start = bisect.bisect_left(marks, from_index, key=lambda m: m.index)
    for at in range(start, len(marks)):
        mark = marks[at]
        if mark.final_id > snapshot_id:
            return mark.index
    return None
