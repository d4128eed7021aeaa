"""GET /api/overlays, /api/book and /api/health answered ahead of Django from shared reads."""

from __future__ import annotations

import asyncio
import gc
import json

import httpx
import pytest

from apps.overlays.state_cache import SharedRead, state_cache
from apps.zones.models import ZoneCurrent
from project.asgi import application
from tests.web.conftest import make_published

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def make_zone(zone_id: str) -> None:
    ZoneCurrent.objects.create(
        id=zone_id,
        ts_ms=1,
        symbol="BTCEUR",
        side="bid",
        price_low="86950",
        price_high="87000",
        notional="1000",
        strength=5.0,
        persistence_s=1.0,
        status="candidate",
        first_seen_ts_ms=1_000,
        last_seen_ts_ms=2_000,
        book_update_id=1,
    )


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://127.0.0.1")


async def test_fast_path_serves_the_same_document_as_django_with_etag_and_304():
    from asgiref.sync import sync_to_async

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
    cache = SharedRead(state_cache.reader, ttl_s=60)
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


async def test_book_and_health_fast_path_answer_the_django_documents():
    from asgiref.sync import sync_to_async
    from django.test import Client

    async with client() as http:
        empty = await http.get("/api/book")
        assert empty.status_code == 200 and empty.json()["status"] == "connecting"
        await sync_to_async(make_published)()
        book = await http.get("/api/book")  # no TTL: a new publication shows on the next request
        assert (
            book.headers["cache-control"] == "no-cache" and book.headers["content-type"] == "application/json"
        )
        assert book.json() == await sync_to_async(lambda: json.loads(Client().get("/api/book").content))()
        assert book.json()["update_id"] == 99 and book.json()["bids"] == [["87000.01", "1.5"]]
        again = await http.get("/api/book", headers={"If-None-Match": book.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        head = await http.head("/api/book")
        assert (
            head.status_code == 200 and head.content == b"" and head.headers["etag"] == book.headers["etag"]
        )
        limited = await http.get("/api/book?limit=0")  # Django validates query strings
        assert limited.status_code == 400 and limited.json()["parameter"] == "limit"
        assert (await http.post("/api/book")).status_code == 405

        health = (await http.get("/api/health")).json()
        django_health = await sync_to_async(lambda: json.loads(Client().get("/api/health").content))()
        assert health.pop("published_age_s") <= django_health.pop("published_age_s")  # read a moment later
        assert health == django_health  # the stream part from the DB, the web part from this process
        assert health["stream"] == {"stream": {"reconnects": 0}}
        assert "pid" not in health["web"]  # HEALTH_DETAILS is off by default


async def asgi_get(path: str) -> int:
    """One GET straight through the ASGI application (no HTTP client objects), its status code."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": "GET",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": "",
    }
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]
    done = asyncio.Event()
    status: list[int] = []

    async def receive() -> dict:
        if incoming:
            return incoming.pop()
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif not message.get("more_body"):
            done.set()

    await application(scope, receive, send)
    return status[0]


async def test_polling_the_hot_reads_leaves_no_reference_cycles():
    """A poller must not feed the cyclic garbage heap: through Django every request leaves ~110
    objects in cycles (its thread's database wrapper, tasks, tracebacks) that only a collection frees."""
    from asgiref.sync import sync_to_async

    await sync_to_async(make_published)()
    paths = ["/api/book", "/api/health", "/api/overlays"]
    for path in paths:  # warm: first reads, imports, connections
        assert await asgi_get(path) == 200
    gc.collect()
    gc.disable()
    try:
        for _ in range(30):
            for path in paths:
                assert await asgi_get(path) == 200
        through_fast_path = gc.collect()
        for _ in range(10):  # the same document through Django, for scale
            assert await asgi_get("/api/book?limit=100") == 200
        through_django = gc.collect()
    finally:
        gc.enable()
    assert through_django > 10 * 50  # Django: dozens of objects in cycles per request
    assert through_fast_path < 90  # fast path: fewer than one object per request


async def test_a_long_lived_client_refreshes_its_group_membership():
    """Channel layers expire group members 24 h after joining; the process's fan-out re-joins hourly."""
    from channels.layers import get_channel_layer
    from channels.testing import WebsocketCommunicator

    from apps.overlays.broadcast import OverlayBroadcaster, group_name
    from apps.overlays.local_fanout import local_fanout

    comm = WebsocketCommunicator(
        application, "/ws/overlays", headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    )
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
