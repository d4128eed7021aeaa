"""Replay of a recording over the Binance protocol the simulator speaks, on one local port.

:class:`ReplayServer` is what `serve --replay`, `binance_sim --replay`, the tests and the benchmark
use: the recording (apps/recording) served by the simulator's own servers — the one-port HTTP front
(http_front.py), the WebSocket streams (ws_server.py, over websockets' Sans-I/O protocol) — with the
replay's feed (feed.py: frames at their recorded pace, snapshot choice) and REST answers (rest.py).
Stream URLs are Binance's (``/stream?streams=...``, ``/ws/<stream>``); a stream of a symbol the
recording does not hold is refused (400) before the upgrade.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from websockets.http11 import Response

from apps.recording.domain.recording import Recording
from apps.recording.domain.streams import recorded_stream_keys
from apps.simulator.http_front import HttpRequest, OnePortServer, json_response
from apps.simulator.replay.feed import ReplayFeed
from apps.simulator.replay.rest import ReplayRest
from apps.simulator.served import ServedOnOnePort
from apps.simulator.ws_server import WebSocketStreams

log = logging.getLogger("apps.simulator.replay")


def start_index_at(recording: Recording, from_ns: int | None) -> int:
    """The first frame received at or after ``from_ns`` (0 without one)."""
    if from_ns is None:
        return 0
    frames = recording.frames
    return bisect.bisect_left(range(len(frames)), from_ns, key=frames.receive_ns)  # frames are in time order


class ReplayServer(ServedOnOnePort):
    """Serves one recording: ``ws_url`` streams, ``rest_url`` REST."""

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float | None = 1.0,
        from_ns: int | None = None,
        loop: bool = False,
        shift_times: bool = False,
        wait_for_clients: int = 1,
        ping_interval_s: float = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not recording.frames:
            raise ValueError("the recording holds no frame")
        if speed is not None and not 0 < speed <= 10_000:
            raise ValueError("speed must be above 0 (and at most 10000), or None for as fast as possible")
        self.recording = recording
        self.symbols = recording.symbols
        self.counters: Counter[str] = Counter()
        self._streams = WebSocketStreams(
            stream_symbol=self.symbols[0].lower() if self.symbols else "",
            counters=self.counters,
            max_connection_age_s=86_400,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=60,
            key_of=recorded_stream_keys(set(self.symbols)),
        )
        self.feed = ReplayFeed(
            recording,
            self._streams,
            speed=speed,
            start_index=start_index_at(recording, from_ns),
            loop=loop,
            shift_times=shift_times,
            wait_for_clients=wait_for_clients,
            clock=clock,
        )
        self._rest = ReplayRest(recording, self.feed, self.counters)
        self._front: OnePortServer | None = None
        self.host, self.port = "127.0.0.1", 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._streams.open()
        front = OnePortServer(self._answer_http, self._streams.serve)
        self.host, self.port = await front.start(host, port)
        self._front = front
        self.feed.start()
        log.info(
            "replay started: ws=%s rest=%s symbols=%s frames=%d",
            self.ws_url,
            self.rest_url,
            ",".join(self.symbols),
            len(self.recording.frames),
        )

    async def stop(self) -> None:
        if self._front is None:
            return
        front, self._front = self._front, None
        await self.feed.stop()
        front.close()
        await self._streams.close_all()
        await front.wait_closed()
        log.info("replay stopped")

    async def _answer_http(self, request: HttpRequest) -> Response:
        if request.path.startswith("/api/"):
            return await self._rest.answer(request)
        return json_response(404, {"code": -1000, "msg": f"Unknown path {request.path}"})

    async def wait_finished(self, timeout: float | None = None) -> None:
        """Until the recording has been sent (the last round with ``loop``: never)."""
        async with asyncio.timeout(timeout):
            await self.feed.finished.wait()

    def state(self) -> dict[str, Any]:
        """/api/health ``stream.replay`` under `serve --replay`."""
        return {**self.feed.state(), "connections": self.connections, **self.counters}
