"""The serve process's in-memory layer: same delivery semantics, O(N) per broadcast."""

from __future__ import annotations

import pytest

from apps.core.framework_bypasses import ThrottledInMemoryChannelLayer

pytestmark = pytest.mark.asyncio


async def test_group_send_reaches_every_member_in_order_and_a_full_member_is_skipped():
    layer = ThrottledInMemoryChannelLayer(capacity=2)
    names = [await layer.new_channel() for _ in range(3)]
    for name in names:
        await layer.group_add("g", name)
    await layer.group_send("g", {"type": "m", "n": 1})
    await layer.group_send("g", {"type": "m", "n": 2})
    await layer.group_send("g", {"type": "m", "n": 3})  # queues hold 2: dropped, not raised
    for name in names:
        assert [(await layer.receive(name))["n"] for _ in range(2)] == [1, 2]
    await layer.group_discard("g", names[0])
    await layer.group_send("g", {"type": "m", "n": 4})
    assert (await layer.receive(names[1]))["n"] == 4
    assert names[0] not in layer.channels


async def test_the_sender_can_reuse_its_dict_after_sending():
    layer = ThrottledInMemoryChannelLayer()
    name = await layer.new_channel()
    await layer.group_add("g", name)
    message = {"type": "m", "data": {"x": 1}}
    await layer.group_send("g", message)
    message["data"]["x"] = 2
    assert (await layer.receive(name))["data"] == {"x": 1}


async def test_expired_members_are_still_swept_at_most_once_per_interval():
    layer = ThrottledInMemoryChannelLayer(group_expiry=10, clean_interval_s=0.0)
    name = await layer.new_channel()
    await layer.group_add("g", name)
    layer.groups["g"][name] = 1  # joined in 1970
    await layer.group_send("g", {"type": "m"})
    assert name not in layer.groups["g"]


async def test_concurrent_broadcasts_reach_the_group_in_seq_order():
    import asyncio

    from apps.overlays.broadcast import OverlayBroadcaster, group_name

    class SlowFirstLayer(ThrottledInMemoryChannelLayer):
        calls = 0

        async def group_send(self, group, message):
            SlowFirstLayer.calls += 1
            if SlowFirstLayer.calls == 1:
                await asyncio.sleep(0.05)  # the first send is slow on the wire (e.g. Redis)
            await super().group_send(group, message)

    layer = SlowFirstLayer()
    name = await layer.new_channel()
    await layer.group_add(group_name("BTCEUR"), name)
    broadcaster = OverlayBroadcaster("BTCEUR", layer)
    await asyncio.gather(*(broadcaster.send("status", {"n": n}) for n in range(5)))
    assert [(await layer.receive(name))["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]
