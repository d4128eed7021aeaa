"""GET /api/overlays answered ahead of Django from the shared state cache."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from apps.overlays.state_cache import OverlayStateCache
from apps.zones.models import ZoneCurrent
from project.asgi import application

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def make_zone(zone_id: str) -> None:
    ZoneCurrent.objects.create(
        id=zone_id, ts_ms=1, symbol="BTCEUR", side="bid", price_low="86950", price_high="87000",
        notional="1000", strength=5.0, persistence_s=1.0, status="candidate", first_seen_ts_ms=1_000,
        last_seen_ts_ms=2_000, book_update_id=1,
    )


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://127.0.0.1")


async def test_fast_path_serves_the_same_document_as_django_with_etag_and_304():
    from asgiref.sync import sync_to_async

    from apps.overlays.state_cache import state_cache

    await sync_to_async(make_zone)("BTCEUR:bid:86950:87000")
    await state_cache.get("BTCEUR", newer_than=state_cache.clock())  # nothing cached from other tests
    async with client() as http:
        fast = await http.get("/api/overlays")
        assert fast.status_code == 200 and fast.headers["content-type"] == "application/json"
        assert fast.headers["cache-control"] == "no-cache"
        body = fast.json()
        assert [z["id"] for z in body["zones"]] == ["BTCEUR:bid:86950:87000"]
        again = await http.get("/api/overlays", headers={"If-None-Match": fast.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        # a query string goes through Django, which validates it
        rejected = await http.get("/api/overlays?limit=3")
        assert rejected.status_code == 400 and json.loads(rejected.content)["parameter"] == "limit"
        bad_host = await http.get("/api/overlays", headers={"Host": "evil.example"})
        assert bad_host.status_code == 400


async def test_concurrent_readers_share_one_read_and_newer_than_forces_a_fresh_one():
    cache = OverlayStateCache(ttl_s=60)
    results = await asyncio.gather(*[cache.get("BTCEUR") for _ in range(50)])
    assert cache.reads == 1 and len({r.etag for r in results}) == 1
    await cache.get("BTCEUR")
    assert cache.reads == 1  # within the TTL
    from asgiref.sync import sync_to_async

    await sync_to_async(make_zone)("BTCEUR:bid:86950:87000")
    stale = await cache.get("BTCEUR")
    assert stale.state["zones"] == []  # a poller may see data up to ttl_s old
    fresh = await cache.get("BTCEUR", newer_than=cache.clock())
    assert cache.reads == 2 and [z["id"] for z in fresh.state["zones"]] == ["BTCEUR:bid:86950:87000"]
    joined = cache.clock()
    burst = await asyncio.gather(*[cache.get("BTCEUR", newer_than=joined) for _ in range(100)])
    assert cache.reads == 3 and all(b is burst[0] for b in burst)


async def test_a_long_lived_client_refreshes_its_group_membership():
    """Channel layers expire group members 24 h after joining; the process's fan-out re-joins hourly."""
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    from apps.overlays.broadcast import OverlayBroadcaster, group_name
    from apps.overlays.local_fanout import local_fanout

    comm = WebsocketCommunicator(application, "/ws/overlays", headers=[(b"origin", b"http://127.0.0.1")])
    connected, _ = await comm.connect()
    assert connected
    await comm.receive_json_from(timeout=5)
    layer = get_channel_layer()
    group = group_name("BTCEUR")
    fanout = local_fanout(layer, group)
    assert list(layer.groups[group]) == [fanout.channel_name]  # one member for the whole process
    layer.groups[group][fanout.channel_name] = 1.0  # joined "long ago"
    fanout.rejoin_after_s = 0.0
    await OverlayBroadcaster("BTCEUR", layer).send("status", {"status": "live"})
    assert (await comm.receive_json_from(timeout=5))["kind"] == "status"
    assert layer.groups[group][fanout.channel_name] > 1.0
    await comm.disconnect()
