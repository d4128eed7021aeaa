"""The library internals apps/core/framework_bypasses.py relies on, each checked by name.

When one of these fails after an upgrade of channels, daphne, Django or Python, the matching
bypass in that module must be re-read against the new library before anything else."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import daphne.server
import daphne.ws_protocol
import pytest
import twisted.web.http
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import InMemoryChannelLayer
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

import project.asgi  # noqa: F401  (installs the request limits, as in every server process)
from apps.core import framework_bypasses
from apps.core.framework_bypasses import (
    BoundedWebRequest,
    PumpedWebsocketConsumer,
    Rfc6455WebSocketProtocol,
    StreamingServer,
    ThrottledInMemoryChannelLayer,
    install_request_limits,
    install_websocket_protocol,
    start_all_threads,
)


async def test_in_memory_layer_keeps_expiry_tuples_in_per_channel_queues_and_group_dicts():
    """Bypass 1: ThrottledInMemoryChannelLayer writes the parent's queue items itself."""
    layer = InMemoryChannelLayer()
    name = await layer.new_channel()
    await layer.group_add("g", name)
    assert name in layer.groups["g"]
    await layer.send(name, {"type": "x"})
    item = layer.channels[name].get_nowait()
    assert isinstance(item, tuple) and len(item) == 2
    expires, message = item
    assert isinstance(expires, float) and message == {"type": "x"}
    assert callable(layer._clean_expired) and isinstance(layer.expiry, int | float)
    assert layer.get_capacity(name) > 0
    # and what the subclass writes, the parent's receive reads
    ours = ThrottledInMemoryChannelLayer()
    member = await ours.new_channel()
    await ours.group_add("g", member)
    await ours.group_send("g", {"type": "y"})
    assert await asyncio.wait_for(ours.receive(member), 1) == {"type": "y"}


def test_django_host_check_helpers_still_answer_as_the_fast_path_expects():
    """Bypass 2: the fast path repeats Django's Host check with these two functions."""
    assert split_domain_port("localhost:8000") == ("localhost", "8000")
    assert split_domain_port("[::1]:8000") == ("[::1]", "8000")
    assert validate_host("localhost", ["localhost", "127.0.0.1"])
    assert not validate_host("evil.example", ["localhost"])


def test_channels_consumer_loop_is_one_call_with_base_send_and_handler_names():
    """Bypass 3: PumpedWebsocketConsumer replaces AsyncConsumer.__call__ wholesale."""
    assert list(inspect.signature(AsyncConsumer.__call__).parameters) == ["self", "scope", "receive", "send"]
    assert "self.base_send" in inspect.getsource(AsyncConsumer.send)
    assert AsyncConsumer.channel_layer_alias == "default"
    assert get_handler_name({"type": "websocket.receive"}) == "websocket_receive"
    assert issubclass(StopConsumer, Exception)


async def test_pumped_consumer_dispatches_in_order_and_ends_once():
    seen: list[str] = []
    ended: list[bool] = []

    class Probe(PumpedWebsocketConsumer):
        async def websocket_connect(self, message):
            seen.append("connect")

        async def websocket_receive(self, message):
            seen.append(message["text"])

        async def websocket_disconnect(self, message):
            raise StopConsumer

        async def on_consumer_end(self):
            ended.append(True)

    inbox: asyncio.Queue = asyncio.Queue()
    for message in (
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "a"},
        {"type": "websocket.receive", "text": "b"},
        {"type": "websocket.disconnect", "code": 1000},
    ):
        inbox.put_nowait(message)

    async def send(message):
        pass

    await asyncio.wait_for(Probe()({"type": "websocket", "path": "/"}, inbox.get, send), 5)
    assert seen == ["connect", "a", "b"] and ended == [True]


def test_thread_pool_exposes_its_started_threads():
    """Bypass 4: start_all_threads counts ThreadPoolExecutor._threads."""
    pool = ThreadPoolExecutor(max_workers=3)
    try:
        assert isinstance(pool._threads, set) and len(pool._threads) == 0
        assert start_all_threads(pool, 3, 5.0) == 3
        assert start_all_threads(pool, 3, 5.0) == 3  # idempotent
    finally:
        pool.shutdown()


def test_daphne_server_runs_on_the_asyncio_twisted_reactor():
    """Bypass 5: StreamingServer schedules its coroutine with reactor.callLater on daphne's loop."""
    from twisted.internet import reactor

    assert type(reactor).__name__ == "AsyncioSelectorReactor"
    assert callable(StreamingServer.run) and StreamingServer.run is not StreamingServer.__mro__[1].run
    assert "reactor.run" in inspect.getsource(StreamingServer.__mro__[1].run)


# -- bypass 6: request limits inside daphne ------------------------------------------------------


class FakeDaphneServer:
    """What daphne's WebRequest reads from its server, recording what the application would get."""

    request_buffer_size = 8192
    proxy_forwarded_address_header = None
    root_path = ""
    server_name = "daphne"

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.scopes: list[dict] = []

    def protocol_connected(self, protocol) -> None:
        pass

    def protocol_disconnected(self, protocol) -> None:
        pass

    def create_application(self, protocol, scope):
        self.scopes.append(scope)
        return SimpleNamespace(put_nowait=self.messages.append)


class HalfClosingTransport(StringTransport):
    """A TCP transport: it can close its sending side only (as Twisted's TCP transport can)."""

    write_closed = False

    def loseWriteConnection(self) -> None:
        self.write_closed = True


@pytest.fixture
def connection(monkeypatch):
    """A daphne HTTP connection as daphne's own factory builds it, on an in-memory transport and a
    fake clock, with a 1000-byte body cap."""
    clock = Clock()
    monkeypatch.setattr(framework_bypasses, "reactor", clock)
    install_request_limits(1000)
    server = FakeDaphneServer()
    factory = daphne.http_protocol.HTTPFactory(server)
    factory.reactor = clock
    factory.timeOut = None
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    transport = HalfClosingTransport()
    protocol.makeConnection(transport)
    yield SimpleNamespace(protocol=protocol, transport=transport, server=server, clock=clock)
    install_request_limits(settings.CONFIG.max_request_body)


def test_daphne_builds_requests_from_its_module_global_and_twisted_reads_header_caps_per_line():
    """Bypass 6: HTTPFactory.buildProtocol takes `WebRequest` from its module; HTTPChannel reads
    maxHeaders / totalHeadersSize on the instance and calls the request's body hooks."""
    assert "protocol.requestFactory = WebRequest" in inspect.getsource(daphne.http_protocol.HTTPFactory)
    assert daphne.http_protocol.WebRequest is BoundedWebRequest  # installed by project.asgi
    channel_source = inspect.getsource(twisted.web.http.HTTPChannel)
    assert "self._receivedHeaderCount > self.maxHeaders" in channel_source
    assert "self._receivedHeaderSize > self.totalHeadersSize" in channel_source
    all_headers = inspect.getsource(twisted.web.http.HTTPChannel.allHeadersReceived)
    assert all_headers.index("req.gotLength(") < all_headers.index("_send100Continue")
    assert "handleContentChunk" in inspect.getsource(twisted.web.http.HTTPChannel._maybeChooseTransferDecoder)


def test_a_declared_body_over_the_cap_gets_413_json_at_once_and_no_100_continue(connection):
    connection.protocol.dataReceived(
        b"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n"
        + b"x" * 500
    )
    answer = connection.transport.value()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer
    assert b"Content-Type: application/json" in head and b"X-Content-Type-Options: nosniff" in head
    assert json.loads(body)["error"] == "content_too_large"
    assert connection.transport.write_closed and connection.server.scopes == []
    connection.protocol.dataReceived(b"x" * 100_000)  # the rest of the upload: read and dropped
    assert connection.transport.value() == answer and connection.server.scopes == []
    connection.clock.advance(framework_bypasses.REFUSED_LINGER_S)
    assert connection.transport.disconnecting  # then cut


def test_a_chunked_body_is_refused_once_it_grows_past_the_cap(connection):
    connection.protocol.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
    connection.protocol.dataReceived(b"258\r\n" + b"y" * 600 + b"\r\n")
    assert connection.transport.value() == b""
    connection.protocol.dataReceived(b"258\r\n" + b"y" * 600 + b"\r\n")
    assert connection.transport.value().startswith(b"HTTP/1.1 413 ") and connection.server.scopes == []


def test_a_body_within_the_cap_reaches_the_application_whole(connection):
    connection.protocol.dataReceived(
        b"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + b"z" * 1000
    )
    assert [scope["path"] for scope in connection.server.scopes] == ["/api/x"]
    assert b"".join(m["body"] for m in connection.server.messages) == b"z" * 1000


def test_more_header_fields_than_the_cap_are_refused(connection):
    fields = b"".join(b"X-F%d: 1\r\n" % i for i in range(framework_bypasses.MAX_HEADERS + 1))
    connection.protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n")
    assert connection.transport.value().startswith(b"HTTP/1.1 400 ") and connection.server.scopes == []


# -- bypass 6: daphne's WebSocket protocol ------------------------------------------------------
CAP = 1000
PEER = IPv4Address("TCP", "127.0.0.1", 50000)


class HandshakeServer:
    """The part of daphne's Server a WebSocketProtocol talks to during a handshake."""

    root_path = ""
    proxy_forwarded_address_header = None

    def __init__(self) -> None:
        self.inbox: asyncio.Queue = asyncio.Queue()

    def protocol_connected(self, protocol):
        pass

    def protocol_disconnected(self, protocol):
        pass

    def create_application(self, protocol, scope):
        return self.inbox

    def log_action(self, *args):
        pass


def client_frame(opcode: int, payload: bytes, announced: int | None = None) -> bytes:
    """A masked client frame (zero mask: the payload goes as it is) announcing `announced` bytes."""
    length = len(payload) if announced is None else announced
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 2**16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", length)
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", length)
    return header + b"\0\0\0\0" + payload


def close_frame(code: int, reason: bytes = b"") -> bytes:
    payload = struct.pack("!H", code) + reason
    return bytes([0x88, len(payload)]) + payload


@pytest.fixture
def opened():
    """One of our protocols built by daphne's own factory, through an accepted handshake."""
    install_websocket_protocol(CAP)
    factory = daphne.ws_protocol.WebSocketFactory(HandshakeServer(), server="daphne")
    factory.setProtocolOptions(maxFramePayloadSize=2**20, maxMessagePayloadSize=2**20)  # daphne's
    protocol = factory.buildProtocol(PEER)
    transport = StringTransport(peerAddress=PEER, hostAddress=IPv4Address("TCP", "127.0.0.1", 8000))
    protocol._raw_query_string = b""  # set by daphne's HTTP protocol when it hands the socket over
    protocol.makeConnection(transport)
    key = base64.b64encode(os.urandom(16))
    protocol.dataReceived(
        b"GET /ws/overlays HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n"
    )
    protocol.handle_reply({"type": "websocket.accept"})
    assert transport.value().startswith(b"HTTP/1.1 101 ")
    transport.clear()
    return protocol, transport


def test_daphne_builds_our_websocket_protocol_with_our_caps_over_its_factory_options(opened):
    """Bypass 6: WebSocketFactory.protocol is what buildProtocol makes; autobahn keeps an option
    the protocol class defines instead of the factory's."""
    protocol, _ = opened
    assert type(protocol) is Rfc6455WebSocketProtocol
    assert protocol.factory.maxFramePayloadSize == 2**20  # what daphne's flags set...
    assert protocol.maxFramePayloadSize == CAP and protocol.maxMessagePayloadSize == CAP  # ...and ours
    assert protocol.failByDrop is False and protocol.factory.failByDrop is True


@pytest.mark.parametrize("code", [1003, 1008, 1009, 1011, 4000])
def test_an_asgi_close_sends_any_rfc6455_code_with_its_reason(opened, code):
    """Bypass 6: daphne's handle_reply and autobahn's sendCloseFrame carry the code and reason."""
    protocol, transport = opened
    protocol.handle_reply({"type": "websocket.close", "code": code, "reason": "why"})
    assert transport.value() == close_frame(code, b"why")
    assert protocol.state == AutobahnProtocol.STATE_CLOSING
    assert code in AutobahnProtocol.CLOSE_STATUS_CODES_ALLOWED or code >= 3000


def test_codes_no_endpoint_may_send_are_still_refused(opened):
    protocol, transport = opened
    for code in (1005, 1006, 1015, 2000, 5000):
        with pytest.raises(Exception, match="invalid close code"):
            protocol.handle_reply({"type": "websocket.close", "code": code})
    assert transport.value() == b""


def test_nothing_is_sent_after_a_close(opened):
    """Bypass 6: autobahn raises Disconnected for a send while closing; ours drops it."""
    protocol, transport = opened
    protocol.handle_reply({"type": "websocket.close", "code": 1003})
    transport.clear()
    protocol.handle_reply({"type": "websocket.send", "text": "a late delta"})
    assert transport.value() == b""


def test_a_frame_over_the_cap_is_refused_with_1009_from_its_header(opened):
    """Bypass 6: autobahn checks the announced length before reading the payload, and with
    failByDrop off answers with a close frame instead of dropping the TCP."""
    protocol, transport = opened
    protocol.dataReceived(client_frame(0x1, b"x" * 10, announced=16 * 2**20))
    sent = transport.value()
    assert sent[:4] == bytes([0x88, len(sent) - 2]) + struct.pack("!H", 1009)
    assert b"exceeds payload limit of 1000 octets" in sent
    assert not transport.disconnecting  # the closing handshake runs: the client can read the code
    protocol.dataReceived(b"y" * 100_000)  # the rest of the announced payload is not kept
    assert len(protocol.data) == 0 and protocol.message_data == []


def test_a_message_within_the_cap_reaches_the_application(opened):
    protocol, _ = opened
    server = protocol.server
    server.inbox.get_nowait()  # websocket.connect
    protocol.dataReceived(client_frame(0x1, b"x" * CAP))
    assert server.inbox.get_nowait() == {"type": "websocket.receive", "text": "x" * CAP}
