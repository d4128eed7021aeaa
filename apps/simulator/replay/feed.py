"""The replay's clock and voice: sends the recorded frames at their pace, knows where it is.

Playback starts once the first client (or ``wait_for_clients``) has connected: each frame goes out
at its receive time / speed after that (at ``max`` speed as fast as the slowest client takes them),
byte for byte (with ``--times now``, only its event times moved). Frames of a combined stream go to
the clients subscribed to that stream; anything else the socket carried (a ``serverShutdown``, an
error payload, a malformed frame) to every client. A recording with a gap replays the gap: the
clients see it as they would live and resync.

The feed also answers for the REST side: which snapshot a request gets (`snapshot_for`, with
apps/recording/domain/snapshots.py) and, when the nearest one is too old, it restarts from the next
recorded snapshot (a jump forward in the recording). With ``loop`` the recording starts again when
it ends, its clients disconnected (1001) and its times moved on by its length in whole hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from apps.recording.domain.lines import Record
from apps.recording.domain.pacing import HOUR_MS, PacingSchedule, hour_aligned_offset_ms, shift_frame_times
from apps.recording.domain.recording import DepthMark, Recording
from apps.recording.domain.snapshots import StreamPosition, choose_snapshot, resume_index
from apps.recording.domain.streams import payload_text, stream_key
from apps.simulator.ws_server import WebSocketStreams

log = logging.getLogger("apps.simulator.replay")

MAX_SPEED_QUEUE = 64  # at max speed, frames waiting for the slowest client before the feed waits
YIELD_EVERY = 100  # frames sent in one go before the feed lets the event loop run


class ReplayFeed:
    def __init__(
        self,
        recording: Recording,
        streams: WebSocketStreams,
        *,
        speed: float | None,
        start_index: int = 0,
        loop: bool = False,
        shift_times: bool = False,
        wait_for_clients: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recording = recording
        self.speed = speed
        self.start_index = start_index
        self.loop = loop
        self.shift_times = shift_times
        self.wait_for_clients = wait_for_clients
        self.cursor = start_index
        self.schedule = PacingSchedule(speed)
        self.positions: defaultdict[str, StreamPosition] = defaultdict(StreamPosition)
        self.offset_ms = 0
        self.rounds = 0
        self.frames_replayed = 0
        self.restarts = 0
        self.started = asyncio.Event()
        self.finished = asyncio.Event()
        self._streams = streams
        self._clock = clock
        self._moved = asyncio.Event()
        self._last_ns = recording.frames[start_index].receive_ns if recording.frames else 0
        self._connections_seen = 0
        self._keys: dict[str, str | None] = {}
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="replay-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        frames = self.recording.frames
        while True:
            # each round starts once its clients are there (after a loop, once they reconnected)
            await self._streams.wait_until(
                lambda: self._streams.open_clients() >= self.wait_for_clients, None
            )
            if self.shift_times and not self.started.is_set() and self.cursor < len(frames):
                now_ms = int(self._clock() * 1000)
                self.offset_ms = hour_aligned_offset_ms(frames[self.cursor].receive_ns, now_ms)
            self.started.set()
            self.rounds += 1
            if self.cursor < len(frames):
                self.schedule.rebase(frames[self.cursor].receive_ns, asyncio.get_running_loop().time())
            log.info(
                "replay round %d: %d frames from #%d", self.rounds, len(frames) - self.cursor, self.cursor
            )
            await self._play()
            log.info("replay round %d finished: %d frames sent in all", self.rounds, self.frames_replayed)
            if not self.loop or not frames:
                break
            await self._next_round()
        self.finished.set()

    async def _next_round(self) -> None:
        """Start again: clients disconnected (they reconnect and resync), times moved on."""
        recording = self.recording
        assert recording.start_ns is not None and recording.end_ns is not None
        span_ms = (recording.end_ns - recording.start_ns) // 1_000_000 + 1
        self.offset_ms += max(1, math.ceil(span_ms / HOUR_MS)) * HOUR_MS
        self.cursor = self.start_index
        self.positions.clear()
        await asyncio.gather(*self._streams.disconnect_all("going_away"), return_exceptions=True)

    async def _play(self) -> None:
        frames, loop, burst = self.recording.frames, asyncio.get_running_loop(), 0
        while self.cursor < len(frames):
            record = frames[self.cursor]
            delay = self.schedule.due(record.receive_ns) - loop.time()
            if delay > 0:
                self._moved.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._moved.wait(), delay)
                burst = 0
                continue  # the cursor may have moved meanwhile
            self.cursor += 1
            self._send(record)
            burst += 1
            if self.speed is None:
                while self._streams.longest_queue() > MAX_SPEED_QUEUE:
                    await asyncio.sleep(0.001)
            if burst >= YIELD_EVERY:
                burst = 0
                await asyncio.sleep(0)

    # ------------------------------------------------------------------ sending
    def _send(self, record: Record) -> None:
        opened = self._streams.connections_opened
        if opened != self._connections_seen:
            self._connections_seen = opened
            for position in self.positions.values():
                position.new_connection()
        text = shift_frame_times(record.text, self.offset_ms) if self.offset_ms else record.text
        key = self._key_of(record.stream) if record.stream is not None else None
        if key is None:
            self._streams.send_to_all(lambda client: text)
        else:
            self._streams.publish_text(key, text, payload_text(text))
        if record.symbol is not None and record.first_id is not None and record.final_id is not None:
            self.positions[record.symbol].sent(record.first_id, record.final_id)
        self.frames_replayed += 1
        self._last_ns = record.receive_ns

    def _key_of(self, stream: str) -> str | None:
        if stream not in self._keys:
            self._keys[stream] = stream_key(stream)  # the recording's few stream names
        return self._keys[stream]

    # ------------------------------------------------------------------ where it is
    def position_ns(self) -> int:
        """The recorded time the replay has reached (unshifted)."""
        if self.speed is None or not self.started.is_set():
            return self._last_ns
        return max(self._last_ns, self.schedule.recorded_ns_at(asyncio.get_running_loop().time()))

    def now_ms(self) -> int:
        """The replay's time as its clients see it (shifted with ``--times now``)."""
        return self.position_ns() // 1_000_000 + self.offset_ms

    # ------------------------------------------------------------------ snapshots
    def snapshot_for(self, symbol: str) -> Record | None:
        """The recorded snapshot a request for ``symbol`` gets now (None: the recording has none). When
        the nearest is too old, the replay restarts from the next recorded snapshot."""
        marks: Sequence[DepthMark] = self.recording.depth.get(symbol, [])
        position = self.positions[symbol]
        upcoming = resume_index(marks, -1, self.cursor)
        next_first = self.recording.frames[upcoming].first_id if upcoming is not None else None
        choice = choose_snapshot(self.recording.snapshot_ids(symbol), position, next_first)
        if choice.snapshot_id is None:
            log.warning("replay %s: no snapshot to serve (%s)", symbol, choice.reason)
            return None
        if choice.restart:
            self.restarts += 1
            index = resume_index(marks, choice.snapshot_id, self.cursor)
            log.warning("replay %s: %s (frame #%s)", symbol, choice.reason, index)
            if index is not None and index > self.cursor:
                self._jump(index)
                position.restarted_at(choice.snapshot_id)
        elif position.last_id is not None and choice.snapshot_id < position.last_id:
            log.info("replay %s: serving snapshot %d (%s)", symbol, choice.snapshot_id, choice.reason)
        position.served = choice.snapshot_id
        return self.recording.snapshot(symbol, choice.snapshot_id)

    def _jump(self, index: int) -> None:
        self.cursor = index
        self.schedule.rebase(self.recording.frames[index].receive_ns, asyncio.get_running_loop().time())
        self._moved.set()

    def state(self) -> dict[str, Any]:
        return {
            "frames": len(self.recording.frames),
            "frames_replayed": self.frames_replayed,
            "cursor": self.cursor,
            "round": self.rounds,
            "restarts": self.restarts,
            "finished": self.finished.is_set(),
            "position_ms": self.position_ns() // 1_000_000,
            "offset_ms": self.offset_ms,
            "speed": self.speed if self.speed is not None else "max",
        }
