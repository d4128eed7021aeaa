"""The one-port front: WebSocket streams, REST and a control POST with a JSON body on the same port;
raw HTTP edge cases (what is answered, what is dropped)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from apps.simulator.http_front import parse_head
from tests.simulator.conftest import DEPTH, connect, next_depth

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
)


async def exchange(sim, raw: bytes) -> bytes:
    """Send raw bytes, read until the server closes (or 101 + headers arrive)."""
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    writer.write(raw)
    out = b""
    try:
        async with asyncio.timeout(3):
            while chunk := await reader.read(65536):
                out += chunk
                if out.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in out:
                    break
    finally:
        writer.close()
    return out


async def test_one_port_serves_streams_rest_and_a_control_post_with_a_body(sim, rest):
    assert urlparse(sim.ws_url).netloc == urlparse(sim.rest_url).netloc
    async with connect(f"{sim.ws_url}/stream?streams={DEPTH}") as ws:
        await next_depth(ws)
        price = (sim.market.best_bid - Decimal("20.00")).quantize(Decimal("0.01"))
        placed = await rest.post(
            "/sim/control", json={"action": "place_wall", "side": "bid", "price": str(price), "qty": "3"}
        )
        assert placed.status_code == 200 and placed.json()["result"].startswith("w")
        ping = await rest.get("/api/v3/ping")
        assert ping.status_code == 200
        assert ping.headers["Server"] == "binance-sim" and ping.headers["Connection"] == "close"
        await next_depth(ws)  # the stream goes on
        assert ws.protocol.extensions  # permessage-deflate offered by the client is accepted, as before
    assert sim.connections_opened == 1


async def test_pipelined_requests_get_the_first_answer_then_the_connection_closes(sim):
    out = await exchange(sim, b"GET /api/v3/ping HTTP/1.1\r\n\r\nGET /api/v3/time HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n{}")


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /sim/control HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /sim/control HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
        b"POST /sim/control HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET /api/v3/ping HTTP/1.1\r\nno colon\r\n\r\n",
    ],
)
async def test_a_malformed_request_is_dropped_without_an_answer(sim, raw):
    assert await exchange(sim, raw) == b""
    assert (await exchange(sim, b"GET /api/v3/ping HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 200")


async def test_handshake_answers(sim):
    opened = await exchange(sim, HANDSHAKE.format(path=f"/ws/{DEPTH}", extra="").encode())
    assert (
        opened.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        and b"\r\nServer: binance-sim\r\n" in opened
    )
    unknown = await exchange(sim, HANDSHAKE.format(path="/ws/ethusdt@depth", extra="").encode())
    assert unknown.startswith(b"HTTP/1.1 400 ") and unknown.endswith(
        b'"Invalid stream name(s): ethusdt@depth"}'
    )
    no_key = HANDSHAKE.format(path=f"/ws/{DEPTH}", extra="").replace(
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""
    )
    refused = await exchange(sim, no_key.encode())
    assert refused.startswith(b"HTTP/1.1 400 ") and b"missing Sec-WebSocket-Key" in refused
    assert b"\r\nServer: binance-sim\r\n" in refused


def test_parse_head():
    method, target, headers = parse_head(
        b"POST /sim/control?x=1 HTTP/1.1\r\nContent-Length: 2\r\nX-A:  b \r\n\r\n"
    )
    assert (method, target, headers["content-length"], headers["X-A"]) == (
        "POST",
        "/sim/control?x=1",
        "2",
        "b",
    )
    with pytest.raises(ValueError):
        parse_head(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")


async def test_frames_due_after_both_close_frames_are_dropped_quietly(sim, caplog):
    """A client sends its close frame and holds the TCP connection open: the server answers with its
    own, and the frames published meanwhile are dropped (the connection is closing), not logged as a
    failure (a shutdown race in `serve` did that: the error for a closing connection could not be made)."""
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    try:
        writer.write(HANDSHAKE.format(path=f"/ws/{DEPTH}", extra="").encode())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"\x88\x80" + b"\x00\x00\x00\x00")  # a masked close frame without a payload
        received = b""
        async with asyncio.timeout(3):
            while b"\x88\x00" not in received and b"\x88\x02" not in received:  # the server's close frame
                received += await reader.read(65536)
            published = sim.update_id
            while sim.update_id < published + 3:  # frames are due while the connection is closing
                await asyncio.sleep(0.02)
    finally:
        writer.close()
    async with asyncio.timeout(3):
        while sim.connections:  # until the server has ended the connection (and logged how)
            await asyncio.sleep(0.01)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
