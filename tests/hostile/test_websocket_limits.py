"""Hostile WebSocket clients against a real `serve --simulator`: what each one gets, and that the
server stays quiet (no traceback, no ERROR line) and gives every connection slot back.

- close codes (RFC 6455): binary frame 1003, text message over 4 KB 1009, a frame header announcing
  more than the 64 KiB hard cap 1009 before any of its payload is read, invalid UTF-8 1007, a
  failing state read 1011;
- WS_MAX_PER_IP connections per address (the default here, 2 on a second server), the next one
  closed with 1008, and every way a connection ends returns its slot;
- the Origin must be the request's own origin (scheme, host and port) or one of WS_ALLOWED_ORIGINS;
  a handshake without one, or with a Host outside ALLOWED_HOSTS, is refused with HTTP 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close

from apps.orderblocks.models import OrderBlock
from bench.processes import wait_until
from project.config import load_config
from tests.hostile.conftest import ServedService, start_serve

DISCONNECTED = "overlay client disconnected"
DEFAULT_LIMIT = load_config({}).ws_max_per_ip


async def open_client(service: ServedService, origin: str | None = "", **kwargs) -> ClientConnection:
    """A /ws/overlays client; the Origin defaults to the server's own (`None`: no Origin header)."""
    return await connect(
        kwargs.pop("uri", service.ws_url),
        origin=service.base_url if origin == "" else origin,  # type: ignore[arg-type]
        proxy=None,
        max_size=None,
        ping_interval=None,
        open_timeout=10,
        close_timeout=5,
        **kwargs,
    )


async def joined(service: ServedService, origin: str | None = "") -> ClientConnection:
    """A client that has had its first message (the snapshot, possibly its first fragment)."""
    ws = await open_client(service, origin)
    await asyncio.wait_for(ws.recv(), 10)
    return ws


async def closed_by_server(ws: ClientConnection) -> Close:
    """Read until the server closes; the close frame it sent."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None, f"no close frame from the server: {info.value!r}"
    return info.value.rcvd


async def refused_status(service: ServedService, origin: str | None, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as info:
        await open_client(service, origin, **kwargs)
    return info.value.response.status_code


def disconnects(service: ServedService) -> int:
    return service.log_text().count(DISCONNECTED)


async def wait_disconnects(service: ServedService, count: int) -> None:
    """Until the server has logged `count` overlay disconnects in all (it is done with them)."""
    await asyncio.to_thread(
        wait_until,
        lambda: disconnects(service) >= count,
        15,
        f"{count} overlay disconnects logged",
        processes=[service.process],
    )


@pytest.fixture
def quiet_log(served: ServedService):
    """The probe must leave no traceback and no ERROR line in the server log."""
    start = len(served.log_text())
    yield
    new = served.log_text()[start:]
    assert "Traceback" not in new and " ERROR " not in new, new[-4000:]


# -- the ways a client gets closed (each returns the close frame it got) -------------------------


async def binary_frame(ws: ClientConnection) -> Close:
    await ws.send(b"\x00\x01")
    return await closed_by_server(ws)


async def text_over_4_kb(ws: ClientConnection) -> Close:
    await ws.send('{"action":"ack","pad":"' + "x" * 5000 + '"}')
    return await closed_by_server(ws)


async def frame_header_over_the_cap(ws: ClientConnection) -> Close:
    """A masked text frame announcing 16 MiB, then 1 KiB of it: written under websockets' protocol
    object, as a hostile client would. The server must refuse it from the header alone."""
    header = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", 16 * 2**20) + os.urandom(4)
    ws.transport.write(header + b"x" * 1024)
    return await closed_by_server(ws)


async def invalid_utf8(ws: ClientConnection) -> Close:
    await ws.send(b'{"action":"\xff\xfe"}', text=True)
    return await closed_by_server(ws)


async def client_close(ws: ClientConnection) -> None:
    await ws.close()


async def dropped_tcp(ws: ClientConnection) -> None:
    ws.transport.abort()  # no close frame: the server sees the connection lost


# -- close codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probe", "code", "reason"),
    [
        (binary_frame, 1003, "binary frames are not accepted"),
        (text_over_4_kb, 1009, "message over 4096 bytes"),
        (frame_header_over_the_cap, 1009, "exceeds payload limit of 65536 octets"),
        (invalid_utf8, 1007, ""),
    ],
    ids=["binary-1003", "text-over-4KB-1009", "frame-over-64KiB-1009", "invalid-utf8-1007"],
)
async def test_a_bad_client_frame_gets_its_rfc6455_close_code_and_no_traceback(
    served: ServedService,
    quiet_log: None,
    probe: Callable[[ClientConnection], Awaitable[Close]],
    code: int,
    reason: str,
) -> None:
    before = disconnects(served)
    ws = await joined(served)
    close = await probe(ws)
    assert close.code == code and reason in close.reason
    await wait_disconnects(served, before + 1)


def rename_table(database: Path, old: str, new: str) -> None:
    with contextlib.closing(sqlite3.connect(database, timeout=20, isolation_level=None)) as db:
        db.execute(f'ALTER TABLE "{old}" RENAME TO "{new}"')


async def test_a_failing_state_read_closes_with_1011_and_no_traceback(
    served: ServedService, quiet_log: None
) -> None:
    """The order-block table disappears under the running server (only the overlay read uses it
    between hourly runs): the joining client is closed with 1011 and can come back later."""
    table = OrderBlock._meta.db_table
    before = disconnects(served)
    rename_table(served.database, table, f"{table}_away")
    try:
        ws = await open_client(served)
        close = await closed_by_server(ws)
    finally:
        rename_table(served.database, f"{table}_away", table)
    assert close.code == 1011 and close.reason == "state read failed; reconnect later"
    await wait_disconnects(served, before + 1)
    assert "overlay snapshot failed" in served.log_text()
    ws = await joined(served)  # the table is back: the next client gets its snapshot
    await ws.close()
    await wait_disconnects(served, before + 2)


# -- connections per address ---------------------------------------------------------------------


async def fill_and_overflow(service: ServedService, limit: int) -> list[ClientConnection]:
    """`limit` clients get their snapshot; the next one is closed with 1008 naming the limit."""
    clients = [await joined(service) for _ in range(limit)]
    extra = await open_client(service)
    close = await closed_by_server(extra)
    assert close.code == 1008
    assert close.reason == f"too many connections from this address (limit {limit})"
    return clients


async def close_all(service: ServedService, clients: list[ClientConnection]) -> None:
    before = disconnects(service)
    await asyncio.gather(*(ws.close() for ws in clients))
    await wait_disconnects(service, before + len(clients))


async def test_connections_per_address_are_capped_and_every_way_out_gives_the_slot_back(
    served: ServedService, quiet_log: None
) -> None:
    await close_all(served, await fill_and_overflow(served, DEFAULT_LIMIT))
    endings: list[Callable[[ClientConnection], Awaitable[object]]] = [
        client_close,
        dropped_tcp,
        binary_frame,
        text_over_4_kb,
        invalid_utf8,
    ]
    cycles = 2 * DEFAULT_LIMIT
    before = disconnects(served)
    for cycle in range(cycles):
        await endings[cycle % len(endings)](await joined(served))
    ws = await joined(served)
    await frame_header_over_the_cap(ws)
    await wait_disconnects(served, before + cycles + 1)
    # all slots are free again: exactly the limit fits, as at the start
    await close_all(served, await fill_and_overflow(served, DEFAULT_LIMIT))


# -- origins -------------------------------------------------------------------------------------


async def test_only_the_pages_own_origin_may_open_the_socket(served: ServedService, quiet_log: None) -> None:
    port = served.port
    refusals = served.log_text().count("websocket refused: origin")
    ws = await joined(served, f"http://127.0.0.1:{port}")
    await ws.close()
    for origin in (
        f"http://localhost:{port}",  # another allowed host name: a different origin
        f"https://127.0.0.1:{port}",  # another scheme
        f"http://127.0.0.1:{port + 1}",  # another port
        "http://127.0.0.1",
        "http://evil.example",
        "null",
        None,  # no Origin header: refused, as Channels' validator did
    ):
        assert await refused_status(served, origin) == 403, origin
    # DNS rebinding: the page and the Host header agree, but the host is not one of ALLOWED_HOSTS
    rebound = f"http://rebound.example:{port}"
    status = await refused_status(
        served, rebound, uri=f"ws://rebound.example:{port}/ws/overlays", host="127.0.0.1", port=port
    )
    assert status == 403
    assert served.log_text().count("websocket refused: origin") == refusals + 8


async def test_allowed_origins_and_a_small_cap_come_from_the_environment(tmp_path: Path) -> None:
    service = start_serve(tmp_path, {"WS_MAX_PER_IP": "2", "WS_ALLOWED_ORIGINS": "https://chart.example"})
    try:
        first = await joined(service, "https://chart.example")
        assert await refused_status(service, "https://other.example") == 403
        second = await joined(service)
        extra = await open_client(service, "https://chart.example")
        assert (await closed_by_server(extra)).reason == "too many connections from this address (limit 2)"
        await first.close()
        await wait_disconnects(service, 1)
        third = await joined(service, "https://chart.example")  # the slot came back
        await close_all(service, [second, third])
        log = service.log_text()
        assert "Traceback" not in log and " ERROR " not in log, log[-4000:]
    finally:
        service.process.stop()
