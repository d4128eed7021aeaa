"""Who may open a WebSocket: the origin rule and the per-address connection count, as ASGI apps."""

from __future__ import annotations

import asyncio

import pytest

from apps.core.origins import Origin, parse_origin, request_origin
from apps.core.websocket_admission import ConnectionsPerIp, OriginCheck, client_key

ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", ".example.com"]


def scope(host: str | None = "127.0.0.1:8000", origin: str | None = None, client=None, scheme=None) -> dict:
    headers = []
    if host is not None:
        headers.append((b"host", host.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    result = {"type": "websocket", "path": "/ws/overlays", "headers": headers, "client": client}
    if scheme is not None:
        result["scheme"] = scheme
    return result


class Socket:
    """One connection as the server sees it: feed its `receive`, read what the app sent."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.sent: list[dict] = []
        self.answered = asyncio.Event()  # the app sent something
        self.incoming.put_nowait({"type": "websocket.connect"})

    async def receive(self) -> dict:
        return await self.incoming.get()

    async def send(self, message: dict) -> None:
        self.sent.append(message)
        self.answered.set()


async def accepting_app(scope, receive, send) -> None:
    """A consumer: accepts, then runs until the disconnect."""
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


# -- origins -------------------------------------------------------------------------------------


def test_an_origin_is_scheme_host_and_port_with_the_default_port_filled_in():
    assert parse_origin("http://Example.COM") == Origin("http", "example.com", 80)
    assert parse_origin("https://example.com:443/") == Origin("https", "example.com", 443)
    assert parse_origin("http://[::1]:8000") == Origin("http", "::1", 8000)
    assert str(parse_origin("http://[::1]:8000")) == "http://[::1]:8000"
    assert request_origin("ws", "127.0.0.1:8000") == parse_origin("http://127.0.0.1:8000")
    assert request_origin("wss", "example.com") == parse_origin("https://example.com:443")
    for bad in (
        "null",
        "example.com",
        "ftp://example.com",
        "http://",
        "http://a/b",
        "http://u@a",
        "http://a:x",
    ):
        with pytest.raises(ValueError):
            parse_origin(bad)
    for bad_host in ("", "a/b", "u@a", "a b"):
        with pytest.raises(ValueError):
            request_origin("ws", bad_host)


@pytest.mark.parametrize(
    ("host", "origin", "scheme", "allowed"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000", None, True),
        ("localhost", "http://localhost", None, True),
        ("localhost:80", "http://localhost", None, True),
        ("[::1]:8000", "http://[::1]:8000", None, True),
        ("www.example.com", "https://www.example.com", "wss", True),
        ("www.example.com", "http://www.example.com", "wss", False),  # scheme differs
        ("127.0.0.1:8000", "https://127.0.0.1:8000", None, False),
        ("127.0.0.1:8000", "http://127.0.0.1:8001", None, False),  # port differs
        ("127.0.0.1:8000", "http://127.0.0.1", None, False),
        ("127.0.0.1:8000", "http://localhost:8000", None, False),  # host differs, both allowed
        ("127.0.0.1:8000", "http://evil.example:8000", None, False),
        ("evil.example:8000", "http://evil.example:8000", None, False),  # same origin, Host not allowed
        ("127.0.0.1:8000", "null", None, False),
        ("127.0.0.1:8000", None, None, False),  # no Origin: refused, as Channels' validator did
        (None, "http://127.0.0.1:8000", None, False),  # no Host
    ],
)
def test_the_origin_must_be_the_requests_own(host, origin, scheme, allowed):
    check = OriginCheck(accepting_app, ALLOWED_HOSTS)
    assert check.allows(scope(host, origin, scheme=scheme)) is allowed


def test_listed_origins_are_allowed_as_well_compared_by_scheme_host_and_port():
    check = OriginCheck(accepting_app, ALLOWED_HOSTS, ["https://chart.example.org"])
    assert check.allows(scope("127.0.0.1:8000", "https://chart.example.org"))
    assert check.allows(scope("127.0.0.1:8000", "https://chart.example.org:443"))
    assert not check.allows(scope("127.0.0.1:8000", "http://chart.example.org"))
    assert not check.allows(scope("127.0.0.1:8000", "https://chart.example.org:8443"))
    assert not check.allows(scope("127.0.0.1:8000", "https://sub.chart.example.org"))
    assert not check.allows(scope("evil.example", "https://chart.example.org"))  # Host still checked


def test_a_missing_origin_is_allowed_only_when_every_host_is():
    assert OriginCheck(accepting_app, ["*"]).allows(scope("anything:1", None))
    assert not OriginCheck(accepting_app, ["*"]).allows(scope("127.0.0.1:8000", "http://evil.example"))


async def test_a_refused_origin_gets_a_close_before_the_accept_an_http_403():
    socket = Socket()
    check = OriginCheck(accepting_app, ALLOWED_HOSTS)
    await check(scope(origin="http://evil.example"), socket.receive, socket.send)
    assert socket.sent == [{"type": "websocket.close"}] and check.refused == 1


# -- connections per address ---------------------------------------------------------------------


def test_connections_count_per_ipv4_address_and_per_ipv6_64():
    assert client_key({"client": ["203.0.113.7", 5000]}) == "203.0.113.7"
    assert client_key({"client": ["2001:db8:1:2:aaaa::1", 5000]}) == "2001:db8:1:2::/64"
    assert client_key({"client": ["2001:db8:1:2:bbbb::9", 1]}) == "2001:db8:1:2::/64"
    assert client_key({"client": ["::ffff:203.0.113.7", 1]}) == "203.0.113.7"
    assert client_key({"client": None}) is None


async def connect(limit: ConnectionsPerIp, ip: str = "203.0.113.7") -> tuple[Socket, asyncio.Task]:
    socket = Socket()
    task = asyncio.ensure_future(limit(scope(client=[ip, 40000]), socket.receive, socket.send))
    await asyncio.wait_for(socket.answered.wait(), 1)
    return socket, task


async def test_over_the_limit_a_connection_is_accepted_and_closed_with_1008():
    limit = ConnectionsPerIp(accepting_app, 2)
    (a, task_a), (b, task_b) = await connect(limit), await connect(limit)
    assert a.sent == b.sent == [{"type": "websocket.accept"}]
    refused, task = await connect(limit)
    await task
    assert refused.sent == [
        {"type": "websocket.accept"},
        {
            "type": "websocket.close",
            "code": 1008,
            "reason": "too many connections from this address (limit 2)",
        },
    ]
    other, task_other = await connect(limit, "198.51.100.1")  # another address has its own count
    assert other.sent == [{"type": "websocket.accept"}]
    assert limit.open == {"203.0.113.7": 2, "198.51.100.1": 1} and limit.refused == 1
    for socket, pending in ((a, task_a), (b, task_b), (other, task_other)):
        socket.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await pending
    assert limit.open == {}


async def test_the_slot_is_free_once_the_disconnect_arrives_and_only_counted_once():
    gate, disconnected = asyncio.Event(), asyncio.Event()

    async def slow_to_finish(scope, receive, send):
        await accepting_app(scope, receive, send)
        disconnected.set()
        await gate.wait()  # still cleaning up after the disconnect

    limit = ConnectionsPerIp(slow_to_finish, 1)
    socket, task = await connect(limit)
    socket.incoming.put_nowait({"type": "websocket.disconnect", "code": 1006})
    await asyncio.wait_for(disconnected.wait(), 1)
    assert limit.open == {}
    again, task_again = await connect(limit)
    assert again.sent == [{"type": "websocket.accept"}]
    gate.set()
    await task
    assert limit.open == {"203.0.113.7": 1}  # the first instance's end did not count twice
    again.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await task_again
    assert limit.open == {}


async def test_the_slot_is_freed_when_the_application_fails_or_is_cancelled():
    async def failing(scope, receive, send):
        await receive()
        raise RuntimeError("boom")

    limit = ConnectionsPerIp(failing, 1)
    socket = Socket()
    with pytest.raises(RuntimeError):
        await limit(scope(client=["203.0.113.7", 1]), socket.receive, socket.send)
    assert limit.open == {}
    limit.app = accepting_app
    _, task = await connect(limit)
    task.cancel()  # the server's shutdown, or its application_close_timeout
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limit.open == {}


async def test_connections_without_an_address_are_not_counted():
    limit = ConnectionsPerIp(accepting_app, 1)
    sockets = [Socket(), Socket()]
    tasks = [asyncio.ensure_future(limit(scope(client=None), s.receive, s.send)) for s in sockets]
    await asyncio.wait_for(asyncio.gather(*(s.answered.wait() for s in sockets)), 1)
    assert [s.sent for s in sockets] == [[{"type": "websocket.accept"}]] * 2 and limit.open == {}
    for socket in sockets:
        socket.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.gather(*tasks)
