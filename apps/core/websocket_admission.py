"""Who may open a WebSocket: two ASGI wrappers, put around the WebSocket router by project/asgi.py.

`OriginCheck` (outermost) refuses the handshake with HTTP 403 unless
- the Host header is one of ALLOWED_HOSTS (Django's rule, as for every HTTP request), and
- the browser's Origin is the request's own origin: same scheme (ws counts as http, wss as https),
  host and port as the Host header; or it is listed in WS_ALLOWED_ORIGINS (full origins, compared
  the same way: for a TLS-terminating proxy, which daphne cannot see, list `https://your.host`).
A handshake without an Origin header is refused too, unless ALLOWED_HOSTS contains `*`: exactly
what Channels' AllowedHostsOriginValidator, which this replaces, did. Browsers always send Origin
on a WebSocket handshake; other clients (the bench, the scale-out tests) set one.
The old validator compared the Origin's host with ALLOWED_HOSTS only, so any page served from an
allowed host name, on any scheme or port, could open the socket.

`ConnectionsPerIp` holds at most `limit` open connections per client address in this process
(IPv4: per address; IPv6: per /64, what one subscriber is usually given). The count is this
instance's own: it goes up when the server starts an application instance for a connection and
down when the server reports the connection gone (`websocket.disconnect`: client close, dropped
TCP, server close) or the instance ends (handshake timeout, error, server shutdown), whichever
comes first, once. Over the limit the handshake is accepted and
at once closed with 1008 (policy violation) and a reason: a browser's WebSocket API reports a
refused handshake only as 1006 with no detail, but shows a 1008 close and its reason to the page.
Connections without a client address (a Unix socket behind a local proxy) are not counted.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.http.request import split_domain_port, validate_host

from apps.core.origins import Origin, parse_origin, request_origin

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Any
Send = Any

CLOSE_POLICY_VIOLATION = 1008


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _refuse_handshake(receive: Receive, send: Send) -> None:
    """Answer the handshake with HTTP 403 (a close before the accept)."""
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.close"})


class OriginCheck:
    def __init__(self, app: Any, allowed_hosts: Sequence[str], allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed_hosts = list(allowed_hosts)
        self.allowed_origins: frozenset[Origin] = frozenset(parse_origin(o) for o in allowed_origins)
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or self.allows(scope):
            await self.app(scope, receive, send)
            return
        self.refused += 1
        log.info(
            "websocket refused: origin %r not allowed for host %r",
            (_header(scope, b"origin") or "")[:200],
            (_header(scope, b"host") or "")[:200],
        )
        await _refuse_handshake(receive, send)

    def allows(self, scope: Scope) -> bool:
        host = _header(scope, b"host")
        domain, _ = split_domain_port(host or "")
        if not domain or not validate_host(domain, self.allowed_hosts):
            return False
        origin = _header(scope, b"origin")
        if origin is None:
            return "*" in self.allowed_hosts
        try:
            theirs = parse_origin(origin)
            ours = request_origin(scope.get("scheme", "ws"), host or "")
        except ValueError:
            return False
        return theirs == ours or theirs in self.allowed_origins


def client_key(scope: Scope) -> str | None:
    """What a connection counts against: its IPv4 address, or its IPv6 address's /64."""
    client = scope.get("client")
    if not client:
        return None
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return str(client[0])
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class ConnectionsPerIp:
    def __init__(self, app: Any, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.app = app
        self.limit = limit
        self.open: dict[str, int] = {}  # client key -> connections open now
        self.refused = 0
        self._warned: set[str] = set()  # keys refused since they last dropped below the limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = client_key(scope) if scope["type"] == "websocket" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        count = self.open.get(key, 0)
        if count >= self.limit:
            await self._refuse(key, receive, send)
            return
        self.open[key] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release(key)

        async def receive_counted() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "websocket.disconnect":
                release()  # the connection is gone, whatever the application still does
            return message

        try:
            await self.app(scope, receive_counted, send)
        finally:
            release()

    def _release(self, key: str) -> None:
        left = self.open[key] - 1
        if left:
            self.open[key] = left
        else:
            del self.open[key]
        if left < self.limit:
            self._warned.discard(key)

    async def _refuse(self, key: str, receive: Receive, send: Send) -> None:
        self.refused += 1
        if key not in self._warned:
            self._warned.add(key)
            log.warning("websocket refused: %s has %d connections open (the limit)", key, self.limit)
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send(
            {
                "type": "websocket.close",
                "code": CLOSE_POLICY_VIOLATION,
                "reason": f"too many connections from this address (limit {self.limit})",
            }
        )
