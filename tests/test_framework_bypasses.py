"""The library internals apps/core/framework_bypasses.py relies on, each checked by name.

When one of these fails after an upgrade of channels, daphne, Django or Python, the matching
bypass in that module must be re-read against the new library before anything else."""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor

from channels.consumer import AsyncConsumer, get_handler_name
from channels.exceptions import StopConsumer
from channels.layers import InMemoryChannelLayer
from django.http.request import split_domain_port, validate_host

from apps.core.framework_bypasses import (
    PumpedWebsocketConsumer,
    StreamingServer,
    ThrottledInMemoryChannelLayer,
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
