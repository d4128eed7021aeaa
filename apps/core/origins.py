"""Web origins as browsers compare them (RFC 6454): scheme, host and port, nothing else. Pure.

A browser's `Origin` header is `scheme://host[:port]`; two origins are the same only when all
three parts are. A missing port is the scheme's default, so `http://example.com` and
`http://example.com:80` are one origin and `http://example.com:8000` another.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
HTTP_SCHEME_OF = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


@dataclass(frozen=True)
class Origin:
    scheme: str  # http or https
    host: str  # lower case, an IPv6 address without brackets, no trailing dot
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_origin(text: str) -> Origin:
    """`http(s)://host[:port]` (a trailing slash is tolerated); ValueError for anything else."""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{text!r} is not an http:// or https:// origin")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{text!r} is not a bare origin (scheme://host[:port])")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"{text!r} has no host")
    port = parts.port  # ValueError when it is not a port number
    return Origin(scheme, host, DEFAULT_PORTS[scheme] if port is None else port)


def request_origin(scheme: str, host_header: str) -> Origin:
    """The origin a request was addressed to: its own scheme (a WebSocket's ws/wss counts as
    http/https) and its Host header. ValueError when the Host header is not a host[:port]."""
    http_scheme = HTTP_SCHEME_OF.get(scheme.lower())
    if http_scheme is None:
        raise ValueError(f"unknown scheme {scheme!r}")
    if not host_header or any(c in host_header for c in "/?#@\\ "):
        raise ValueError(f"Host {host_header!r} is not host[:port]")
    return parse_origin(f"{http_scheme}://{host_header}")
