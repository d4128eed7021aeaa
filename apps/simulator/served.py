"""What the simulator and the replay server share once listening on their one port: the two base
URLs a client is given, how many WebSocket clients are connected, and ``async with``."""

from __future__ import annotations

from typing import Self

from apps.simulator.ws_server import WebSocketStreams


class ServedOnOnePort:
    """Subclasses set ``host``, ``port`` (once listening) and ``_streams``, and implement
    ``start(host, port)`` and ``stop()``."""

    host: str
    port: int
    _streams: WebSocketStreams

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._streams.clients)
