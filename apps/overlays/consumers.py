"""WebSocket /ws/overlays: the full overlay state on connect, then the streamer's deltas.

Server -> client messages (JSON text frames):
- ``{"type": "snapshot", "reason", "epoch", "seq", "state": {zones, orderblocks, confluence, metrics, status, depth}}``
  on connect, after a hole, on a new streamer epoch, on request, and when a paused client catches up.
  ``epoch``/``seq`` are the last group message already reflected (null on connect: the next delta
  sets the baseline).
- ``{"type": "delta", "epoch", "seq", "kind", "data"}`` exactly as broadcast by the streamer
  (apps.overlays.broadcast). A client expects ``seq`` to grow by one within an epoch; on a hole or
  a new epoch it sends ``{"action": "resync"}`` (or re-fetches GET /api/overlays).
- ``{"type": "error", "detail"}`` for a client message the server cannot use.
- ``{"type": "fragment", "id", "index", "count", "chunk"}``: a message whose JSON is longer than
  MAX_FRAME_CHARS (a snapshot with hundreds of order blocks, a full order-block run) is sent as
  consecutive fragments; the client joins the chunks of one id and handles the joined message.
  Proxies and some servers cap WebSocket message sizes (16 KiB is common), so no frame the
  consumer sends is larger than that.

Client -> server: ``{"action": "ack", "received": N}`` (messages received on this socket so far)
and ``{"action": "resync"}``. A text message above MAX_CLIENT_MESSAGE_BYTES closes the socket
with 1009, a binary one with 1003; a frame or message above MAX_PROTOCOL_PAYLOAD_BYTES is refused
with 1009 by the protocol layer from its header, before it is read (apps/core/framework_bypasses.py,
bypass 6). A failed state read closes with 1011: the client reconnects later.

Fan-out: the process joins the streamer's group once (apps.overlays.local_fanout) and hands each
group message to every connected consumer in one loop step; a consumer sends a delta inline when it
is idle and queues the message for its own loop when it is busy (reading a snapshot, handling a
client message), so each client still sees messages strictly in order.

Slow clients: the streamer never waits for a client. A consumer queues at most MAX_BACKLOG group
messages while busy (more are dropped: the consumer then sees a seq hole and sends a fresh
snapshot), and stops forwarding deltas to a client that has more than MAX_IN_FLIGHT messages
unacknowledged, so a stuck socket cannot grow the server's write buffer without bound. When the
client acknowledges again it gets a fresh snapshot and the deltas resume.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from django.conf import settings

from apps.core.framework_bypasses import PumpedWebsocketConsumer
from apps.overlays.broadcast import delta_text, group_name
from apps.overlays.local_fanout import LocalFanout, local_fanout
from apps.overlays.state_cache import state_cache

log = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE_BYTES = 4096
# The protocol layer's hard cap on any frame or message, both ways (autobahn applies it to what the
# server sends too): well above the largest frame this consumer sends (< 16 KiB, see
# FRAGMENT_CHARS), far below daphne's own default of 1 MiB a client could make it buffer.
MAX_PROTOCOL_PAYLOAD_BYTES = 64 * 1024
MAX_IN_FLIGHT = 256
MAX_FRAME_CHARS = 12_000  # whole messages up to this size go out as they are
FRAGMENT_CHARS = 6_000  # JSON-escaping a chunk can double it: 2 x 6000 + envelope < 16 KiB
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
MAX_BACKLOG = 256  # group messages a busy consumer queues; beyond that it re-snapshots
MAX_UNACKED_BYTES = 2_000_000  # what the server may hold for one client before it pauses it
RESYNC_MIN_INTERVAL_S = 5.0  # one requested snapshot per this; more requests meanwhile coalesce


async def _read_state(symbol: str, newer_than: float) -> dict[str, Any]:
    """A state read that started after `newer_than`, shared with every client it satisfies."""
    return (await state_cache.get(symbol, newer_than=newer_than)).state


class OverlayConsumer(PumpedWebsocketConsumer):
    """One pump task and one inbox per socket (apps/core/framework_bypasses.py says why); group
    messages arrive through `offer`, called by the process's fan-out, and join the same inbox
    whenever the consumer is busy."""

    max_client_message_bytes = MAX_CLIENT_MESSAGE_BYTES
    max_in_flight = MAX_IN_FLIGHT
    max_unacked_bytes = MAX_UNACKED_BYTES
    resync_min_interval_s = RESYNC_MIN_INTERVAL_S
    fanout: LocalFanout | None = None
    backlog_dropped = 0

    async def on_consumer_end(self) -> None:
        await self._unsubscribe()

    async def offer(self, event: dict[str, Any]) -> None:
        """A group message from the fan-out. Idle: send the delta now (daphne's send never waits).
        Busy, or the message needs a snapshot (an await on the state read): queue it, in order."""
        if self._busy or not self._inbox.empty():
            if self._inbox.qsize() >= MAX_BACKLOG:
                self.backlog_dropped += 1  # the next message shows a hole -> fresh snapshot
                return
            self._inbox.put_nowait(event)
            return
        text, reason = self._take(event)
        if reason is not None:
            self._inbox.put_nowait({"type": "overlay.snapshot", "reason": reason})
            return
        if text is not None:
            self._busy = True
            try:
                await self._send_text(text)
            finally:
                self._busy = False

    async def connect(self) -> None:
        self.symbol: str = settings.CONFIG.symbol
        self.group = group_name(self.symbol)
        self.epoch: str | None = None
        self.seq: int | None = None
        self.sent = 0
        self.acked = 0
        self.paused = False
        # (message number, bytes) of every message not acknowledged yet, and their sum
        self._unacked: deque[tuple[int, int]] = deque()
        self.unacked_bytes = 0
        self._last_requested_snapshot = -float("inf")
        self._resync_waiting = False
        self.fragmented = 0
        # Subscribe before reading the state: every change after the read is then delivered.
        self.fanout = local_fanout(self.channel_layer, self.group)
        await self.fanout.subscribe(self.channel_name, self.offer)
        await self.accept()
        log.info("overlay client connected channel=%s", self.channel_name)
        await self.send_snapshot("connect")

    async def disconnect(self, code: int) -> None:
        if self.fanout is not None:
            await self._unsubscribe()
            log.info("overlay client disconnected channel=%s code=%s", self.channel_name, code)

    async def _unsubscribe(self) -> None:
        fanout, self.fanout = self.fanout, None
        if fanout is not None:
            await fanout.unsubscribe(self.channel_name)

    # client -> server

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            log.info("closing overlay client channel=%s reason=binary frame", self.channel_name)
            await self.close(code=CLOSE_UNSUPPORTED_DATA, reason="binary frames are not accepted")
            return
        if len(text_data.encode("utf-8")) > self.max_client_message_bytes:
            log.info(
                "closing overlay client channel=%s reason=message over %s bytes",
                self.channel_name,
                self.max_client_message_bytes,
            )
            await self.close(
                code=CLOSE_MESSAGE_TOO_BIG, reason=f"message over {self.max_client_message_bytes} bytes"
            )
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._send_error("message is not JSON")
            return
        action = message.get("action") if isinstance(message, dict) else None
        if action == "ack":
            await self._on_ack(message.get("received"))
        elif action == "resync":
            await self._on_resync()
        else:
            await self._send_error("action must be 'ack' or 'resync'")

    async def _on_resync(self) -> None:
        """A requested snapshot: at most one per `resync_min_interval_s` (requests meanwhile coalesce
        into one sent when the interval is over), and none for a paused client (it gets one on resume)."""
        loop = asyncio.get_running_loop()
        wait = self._last_requested_snapshot + self.resync_min_interval_s - loop.time()
        if wait > 0:
            if not self._resync_waiting:
                self._resync_waiting = True
                loop.call_later(wait, self._inbox.put_nowait, {"type": "overlay.resync"})
            return
        if self.paused or self._over_budget():
            self._pause("snapshot requested while over budget")
            return
        self._last_requested_snapshot = loop.time()
        await self.send_snapshot("request")

    async def overlay_resync(self, event: dict[str, Any]) -> None:
        """The coalesced requests' snapshot, once the interval is over."""
        self._resync_waiting = False
        await self._on_resync()

    def _over_budget(self) -> bool:
        return self.sent - self.acked >= self.max_in_flight or self.unacked_bytes >= self.max_unacked_bytes

    def _pause(self, why: str) -> None:
        if not self.paused:
            self.paused = True
            log.warning(
                "overlay client paused channel=%s reason=%s (%d messages, %d bytes unacknowledged)",
                self.channel_name,
                why,
                self.sent - self.acked,
                self.unacked_bytes,
            )

    async def _on_ack(self, received: Any) -> None:
        if isinstance(received, bool) or not isinstance(received, int) or not 0 <= received <= self.sent:
            await self._send_error(f"received must be an integer 0..{self.sent}")
            return
        self.acked = max(self.acked, received)
        while self._unacked and self._unacked[0][0] <= self.acked:
            self.unacked_bytes -= self._unacked.popleft()[1]
        caught_up = (
            self.sent - self.acked <= self.max_in_flight // 2
            and self.unacked_bytes <= self.max_unacked_bytes // 2
        )
        if self.paused and caught_up:
            self.paused = False
            log.info("overlay client resumed channel=%s reason=caught up", self.channel_name)
            await self.send_snapshot("resume")

    # group -> client

    async def overlay_message(self, event: dict[str, Any]) -> None:
        """A group message that waited in the inbox."""
        text, reason = self._take(event)
        if reason is not None:
            await self.send_snapshot(reason)
        elif text is not None:
            await self._send_text(text)

    async def overlay_snapshot(self, event: dict[str, Any]) -> None:
        await self.send_snapshot(event["reason"])

    def _take(self, event: dict[str, Any]) -> tuple[str | None, str | None]:
        """Note a group message's epoch/seq; return (delta text to send, or snapshot reason)."""
        epoch, seq = event["epoch"], event["seq"]
        if epoch == self.epoch and self.seq is not None and seq <= self.seq:
            return None, None  # duplicate or late: already reflected
        reason = None
        if self.epoch is not None and epoch != self.epoch:
            reason = "epoch"
        elif self.seq is not None and seq != self.seq + 1:
            reason = "hole"
        self.epoch, self.seq = epoch, seq
        if self.paused:
            return None, None
        if self._over_budget():
            self._pause("unacknowledged messages over budget")
            return None, None
        if reason is not None:
            log.info("overlay client resnapshot channel=%s reason=%s seq=%s", self.channel_name, reason, seq)
            return None, reason
        text = event.get("text")  # pre-serialised by the broadcaster
        if text is None:
            text = delta_text(epoch, seq, event["kind"], event["data"])
        return text, None

    async def send_snapshot(self, reason: str) -> None:
        # Joined (connect) or found a hole/epoch just now: the state must be read after this point.
        newer_than = state_cache.clock()
        try:
            state = await _read_state(self.symbol, newer_than)
        except Exception as exc:  # the DB is busy or gone: let the client reconnect later
            log.warning("overlay snapshot failed channel=%s reason=%r", self.channel_name, exc)
            await self.close(code=CLOSE_INTERNAL_ERROR, reason="state read failed; reconnect later")
            return
        await self._send_json(
            {"type": "snapshot", "reason": reason, "epoch": self.epoch, "seq": self.seq, "state": state}
        )

    async def _send_error(self, detail: str) -> None:
        """Tell the client what was wrong with its message, unless it is not reading what it gets."""
        if not self._over_budget():
            await self._send_json({"type": "error", "detail": detail})

    async def _send_json(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message, separators=(",", ":"), default=str))

    async def _send_text(self, text: str) -> None:
        """Send one JSON text (ASCII: chars == bytes), fragmented above MAX_FRAME_CHARS."""
        if len(text) <= MAX_FRAME_CHARS:
            await self._send_counted(text)
            return
        self.fragmented += 1
        chunks = [text[i : i + FRAGMENT_CHARS] for i in range(0, len(text), FRAGMENT_CHARS)]
        for index, chunk in enumerate(chunks):
            fragment = {
                "type": "fragment",
                "id": self.fragmented,
                "index": index,
                "count": len(chunks),
                "chunk": chunk,
            }
            await self._send_counted(json.dumps(fragment, separators=(",", ":")))

    async def _send_counted(self, text: str) -> None:
        """Send one frame and count it against the client's budget until it is acknowledged."""
        self.sent += 1
        self._unacked.append((self.sent, len(text)))
        self.unacked_bytes += len(text)
        await self.send(text_data=text)
