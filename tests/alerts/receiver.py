"""A real webhook receiver on loopback (asyncio streams, HTTP/1.1) for the delivery tests.

``plan`` says how the receiver treats the successive attempts of each alert (by its Idempotency-Key):
"500" answers 500, "timeout" never answers (it holds the connection until the sender gives up and
closes it), "400" refuses; attempts beyond the plan are answered 200 and count as accepted.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Attempt:
    key: str
    body: dict[str, Any]
    answer: str
    content_type: str


class WebhookReceiver:
    def __init__(self, plan: list[str] | None = None) -> None:
        self.plan = plan or []
        self.attempts: list[Attempt] = []
        self.accepted: Counter[str] = Counter()
        self.changed = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/secret-token"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def tries(self, key: str) -> list[Attempt]:
        return [a for a in self.attempts if a.key == key]

    async def until(self, predicate, timeout: float) -> None:
        async def wait() -> None:
            async with self.changed:
                await self.changed.wait_for(predicate)

        await asyncio.wait_for(wait(), timeout)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readline()  # POST /hooks/... HTTP/1.1
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
            key = headers.get("idempotency-key", "")
            seen = len(self.tries(key))
            answer = self.plan[seen] if seen < len(self.plan) else "200"
            self.attempts.append(Attempt(key, body, answer, headers.get("content-type", "")))
            await self._notify()
            if answer == "timeout":
                await reader.read()  # until the sender times out and closes the connection
                return
            reason = {"200": "OK", "400": "Bad Request", "500": "Internal Server Error"}[answer]
            payload = b'{"ok":true}' if answer == "200" else b'{"error":"nope"}'
            writer.write(
                f"HTTP/1.1 {answer} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            if answer == "200":
                self.accepted[key] += 1
                await self._notify()
        finally:
            writer.close()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()
