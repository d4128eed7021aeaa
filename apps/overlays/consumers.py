"""WebSocket /ws/overlays: the full overlay state on connect, then the streamer's deltas.

Server -> client messages (JSON text frames):
- ``{"type": "snapshot", "reason", "epoch", "seq", "state": {zones, orderblocks, metrics, status}}``
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
and ``{"action": "resync"}``. Frames above MAX_CLIENT_MESSAGE_BYTES close the socket with 1009.

Slow clients: the streamer never waits for a client. The channel layer drops messages for a
client whose queue is full (the consumer then sees a seq hole and sends a fresh snapshot), and
the consumer stops forwarding deltas to a client that has more than MAX_IN_FLIGHT messages
unacknowledged, so a stuck socket cannot grow the server's write buffer without bound. When the
client acknowledges again it gets a fresh snapshot and the deltas resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from apps.overlays.broadcast import group_name
from apps.overlays.state_cache import state_cache

log = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE_BYTES = 4096
MAX_IN_FLIGHT = 256
MAX_FRAME_CHARS = 12_000  # whole messages up to this size go out as they are
FRAGMENT_CHARS = 6_000  # JSON-escaping a chunk can double it: 2 x 6000 + envelope < 16 KiB
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
# Channel layers drop a group member `group_expiry` (default 24 h) after it joined; a chart kept
# open for days re-joins well before that, which refreshes the membership.
REJOIN_AFTER_S = 3600.0


async def _read_state(symbol: str, newer_than: float) -> dict[str, Any]:
    """A state read that started after `newer_than`, shared with every client it satisfies."""
    return (await state_cache.get(symbol, newer_than=newer_than)).state


class OverlayConsumer(AsyncWebsocketConsumer):
    max_client_message_bytes = MAX_CLIENT_MESSAGE_BYTES
    max_in_flight = MAX_IN_FLIGHT

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' loop waits on both sources with asyncio.wait and a new task per message; with
        1000 clients that overhead is paid 1000 times per broadcast. Here two long-lived pumps
        feed one queue that is dispatched in arrival order, one message at a time."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.base_send = send
        inbox: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()

        async def pump(source: Any) -> None:
            try:
                while True:
                    inbox.put_nowait(await source())
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # surfaced by the dispatch loop below
                inbox.put_nowait(exc)

        channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        pumps = [asyncio.ensure_future(pump(receive)), asyncio.ensure_future(pump(channel_receive))]
        try:
            while True:
                message = await inbox.get()
                if isinstance(message, BaseException):
                    raise message
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch hops to a thread to close stale DB connections before EVERY handler.
        This consumer never uses the DB itself (state reads go through the state cache, whose
        worker threads close their own connections), and at 1000 clients that hop per delivered
        message was a quarter of the serve process's CPU, so it is skipped here."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.symbol: str = settings.CONFIG.symbol
        self.group = group_name(self.symbol)
        self.epoch: str | None = None
        self.seq: int | None = None
        self.sent = 0
        self.acked = 0
        self.paused = False
        self.joined = False
        self.fragmented = 0
        # Join before reading the state: every change after the read is then delivered.
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.joined = True
        self.joined_at = time.monotonic()
        await self.accept()
        log.info("overlay client connected channel=%s", self.channel_name)
        await self.send_snapshot("connect")

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            log.info("overlay client disconnected channel=%s code=%s", self.channel_name, code)

    # client -> server

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            log.info("closing overlay client channel=%s reason=binary frame", self.channel_name)
            await self.close(code=CLOSE_UNSUPPORTED_DATA)
            return
        if len(text_data.encode("utf-8")) > self.max_client_message_bytes:
            log.info("closing overlay client channel=%s reason=message over %s bytes",
                     self.channel_name, self.max_client_message_bytes)
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self._send_json({"type": "error", "detail": "message is not JSON"})
            return
        action = message.get("action") if isinstance(message, dict) else None
        if action == "ack":
            await self._on_ack(message.get("received"))
        elif action == "resync":
            await self.send_snapshot("request")
        else:
            await self._send_json({"type": "error", "detail": "action must be 'ack' or 'resync'"})

    async def _on_ack(self, received: Any) -> None:
        if isinstance(received, bool) or not isinstance(received, int) or not 0 <= received <= self.sent:
            await self._send_json({"type": "error", "detail": f"received must be an integer 0..{self.sent}"})
            return
        self.acked = max(self.acked, received)
        if self.paused and self.sent - self.acked <= self.max_in_flight // 2:
            self.paused = False
            log.info("overlay client resumed channel=%s reason=caught up", self.channel_name)
            await self.send_snapshot("resume")

    # group -> client

    async def overlay_message(self, event: dict[str, Any]) -> None:
        if time.monotonic() - self.joined_at > REJOIN_AFTER_S:
            await self.channel_layer.group_add(self.group, self.channel_name)
            self.joined_at = time.monotonic()
        epoch, seq = event["epoch"], event["seq"]
        if epoch == self.epoch and self.seq is not None and seq <= self.seq:
            return  # duplicate or late: already reflected
        reason = None
        if self.epoch is not None and epoch != self.epoch:
            reason = "epoch"
        elif self.seq is not None and seq != self.seq + 1:
            reason = "hole"
        self.epoch, self.seq = epoch, seq
        if self.paused:
            return
        if self.sent - self.acked >= self.max_in_flight:
            self.paused = True
            log.warning("overlay client paused channel=%s reason=%s messages unacknowledged",
                        self.channel_name, self.sent - self.acked)
            return
        if reason is not None:
            log.info("overlay client resnapshot channel=%s reason=%s seq=%s", self.channel_name, reason, seq)
            await self.send_snapshot(reason)
            return
        text = event.get("text")  # pre-serialised by the broadcaster
        if text is None:
            text = json.dumps(
                {"type": "delta", "epoch": epoch, "seq": seq, "kind": event["kind"], "data": event["data"]},
                separators=(",", ":"),
                default=str,
            )
        await self._send_text(text)

    async def send_snapshot(self, reason: str) -> None:
        # Joined (connect) or found a hole/epoch just now: the state must be read after this point.
        newer_than = state_cache.clock()
        try:
            state = await _read_state(self.symbol, newer_than)
        except Exception as exc:  # the DB is busy or gone: let the client reconnect later
            log.warning("overlay snapshot failed channel=%s reason=%r", self.channel_name, exc)
            await self.close(code=CLOSE_INTERNAL_ERROR)
            return
        await self._send_json(
            {"type": "snapshot", "reason": reason, "epoch": self.epoch, "seq": self.seq, "state": state}
        )

    async def _send_json(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message, separators=(",", ":"), default=str))

    async def _send_text(self, text: str) -> None:
        """Send one JSON text (ASCII: chars == bytes), fragmented above MAX_FRAME_CHARS."""
        if len(text) <= MAX_FRAME_CHARS:
            self.sent += 1
            await self.send(text_data=text)
            return
        self.fragmented += 1
        chunks = [text[i : i + FRAGMENT_CHARS] for i in range(0, len(text), FRAGMENT_CHARS)]
        for index, chunk in enumerate(chunks):
            self.sent += 1
            fragment = {"type": "fragment", "id": self.fragmented, "index": index, "count": len(chunks),
                        "chunk": chunk}
            await self.send(text_data=json.dumps(fragment, separators=(",", ":")))
