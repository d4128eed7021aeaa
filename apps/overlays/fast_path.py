"""ASGI edge for the hot reads: plain GET/HEAD of /api/overlays, /api/book and /api/health,
answered from the process's shared reads (state_cache.py) ahead of Django.

Why: Django's ASGI handler runs every request in a fresh `ThreadSensitiveContext`, so each request
starts a new OS thread for its sync parts (signals, `response.close`, sync views) and opens a new
database wrapper there; each leaves ~110 objects in reference cycles (~16 kB: the request, its
tasks and tracebacks, the wrapper). Pollers hitting these three paths several times a second kept
the cyclic-garbage heap ~6 MB high between young-generation collections and made the allocators'
retained memory creep (docs/soak.md, session 4). Here a poller costs a shared read and two sends.

A query string, another method, a bad Host or any other path goes to the Django application
unchanged (Django validates and answers 400/405). The answer is the same document, ETag and
caching headers the Django view gives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from apps.overlays.local_fanout import web_health
from apps.overlays.state_cache import CachedState, book_cache, encode_state, health_cache, state_cache

Scope = dict[str, Any]
Receive = Any
Send = Any


async def _health(symbol: str) -> CachedState:
    entry = await health_cache.get(symbol)
    return encode_state({**entry.state, "web": web_health()}, entry.read_at)


ROUTES: dict[str, Callable[[str], Awaitable[CachedState]]] = {
    "/api/overlays": state_cache.get,
    "/api/book": book_cache.get,
    "/api/health": _health,
}


class HotReadsFastPath:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        document = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if document is None or scope["method"] not in ("GET", "HEAD") or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        domain, _ = split_domain_port(headers.get("host", ""))
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            await self.app(scope, receive, send)  # let Django answer 400 for a bad Host
            return
        entry = await document(settings.CONFIG.symbol)
        common = [(b"etag", entry.etag.encode()), (b"cache-control", b"no-cache")]
        if entry.etag in headers.get("if-none-match", ""):
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(entry.body)).encode()), *common],
        })
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else entry.body})
