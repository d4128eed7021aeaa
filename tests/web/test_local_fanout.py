"""The per-process fan-out: one group member, every local subscriber served, in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer
from apps.overlays.local_fanout import LocalFanout, local_fanout

pytestmark = pytest.mark.asyncio
TIMEOUT = 3


class Recorder:
    def __init__(self, expected: int) -> None:
        self.got: list[int] = []
        self.expected = expected
        self.done = asyncio.Event()

    async def __call__(self, message: dict[str, Any]) -> None:
        self.got.append(message["n"])
        if len(self.got) >= self.expected:
            self.done.set()


async def test_one_group_member_serves_every_subscriber_in_order_and_leaves_with_the_last():
    layer = ThrottledInMemoryChannelLayer()
    fanout = LocalFanout(layer, "g")
    recorders = [Recorder(3) for _ in range(5)]
    for index, recorder in enumerate(recorders):
        await fanout.subscribe(f"c{index}", recorder)
    assert list(layer.groups["g"]) == [fanout.channel_name]
    for n in (1, 2, 3):
        await layer.group_send("g", {"type": "m", "n": n})
    for recorder in recorders:
        await asyncio.wait_for(recorder.done.wait(), TIMEOUT)
        assert recorder.got == [1, 2, 3]
    assert fanout.received == 3 and fanout.delivered == 15
    for index in range(4):
        await fanout.unsubscribe(f"c{index}")
    assert fanout.running and list(layer.groups["g"]) == [fanout.channel_name]
    await fanout.unsubscribe("c4")
    assert not fanout.running and "g" not in layer.groups


async def test_a_failing_subscriber_is_counted_and_the_others_still_get_the_message():
    layer = ThrottledInMemoryChannelLayer()
    fanout = LocalFanout(layer, "g")

    async def broken(message: dict[str, Any]) -> None:
        raise RuntimeError("socket gone")

    after = Recorder(1)
    await fanout.subscribe("broken", broken)
    await fanout.subscribe("after", after)
    await layer.group_send("g", {"type": "m", "n": 1})
    await asyncio.wait_for(after.done.wait(), TIMEOUT)
    assert fanout.subscriber_errors == 1 and fanout.running
    await fanout.unsubscribe("broken")
    await fanout.unsubscribe("after")


async def test_a_long_fan_out_lets_other_tasks_run_between_batches_of_subscribers():
    layer = ThrottledInMemoryChannelLayer()
    fanout = LocalFanout(layer, "g", yield_every=10)
    ticks: list[int] = []
    seen_ticks: list[int] = []

    async def subscriber(message: dict[str, Any]) -> None:
        seen_ticks.append(len(ticks))

    for index in range(30):
        await fanout.subscribe(f"c{index}", subscriber)

    async def ticker() -> None:  # stands in for the streamer's book task
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    ticking = asyncio.ensure_future(ticker())
    await layer.group_send("g", {"type": "m", "n": 1})
    while len(seen_ticks) < 30:
        await asyncio.sleep(0)
    ticking.cancel()
    # within a batch of 10 nothing else runs; between batches the ticker does
    assert len(set(seen_ticks[0:10])) == 1 and len(set(seen_ticks[10:20])) == 1
    assert seen_ticks[0] < seen_ticks[10] < seen_ticks[20]
    for index in range(30):
        await fanout.unsubscribe(f"c{index}")


class FlakyLayer(ThrottledInMemoryChannelLayer):
    """receive() fails once, as a Redis layer does when the server restarts."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1
        self.rejoined = asyncio.Event()

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        if not self.failures:
            self.rejoined.set()

    async def receive(self, channel: str) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("redis restarted")
        return await super().receive(channel)


async def test_a_failed_receive_is_retried_after_re_joining_the_group():
    layer = FlakyLayer()
    fanout = LocalFanout(layer, "g", retry_after_s=0.01)
    recorder = Recorder(1)
    await fanout.subscribe("c", recorder)
    await asyncio.wait_for(layer.rejoined.wait(), TIMEOUT)
    await layer.group_send("g", {"type": "m", "n": 7})
    await asyncio.wait_for(recorder.done.wait(), TIMEOUT)
    assert recorder.got == [7] and fanout.receive_errors == 1 and fanout.joins == 2
    await fanout.unsubscribe("c")


async def test_each_event_loop_and_layer_has_its_own_fan_out():
    first, second = ThrottledInMemoryChannelLayer(), ThrottledInMemoryChannelLayer()
    assert local_fanout(first, "g") is local_fanout(first, "g")
    assert local_fanout(first, "g") is not local_fanout(second, "g")
    assert local_fanout(first, "g") is not local_fanout(first, "h")
