"""The security headers every answer carries, whichever layer writes it.

Three layers write answers: Django (through `SecurityHeadersMiddleware`), the hot reads answered
ahead of Django (`HotReadsFastPath`) and the server's own refusal of an oversized body
(`BoundedWebRequest`); all three take their headers from here, so they cannot drift apart.

- `X-Content-Type-Options: nosniff`: a browser never guesses HTML out of a JSON or JS answer.
- `Referrer-Policy: same-origin`: the page's address never leaves for another site.
- `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`: no page can frame ours (clickjacking).
- `Cross-Origin-Opener-Policy: same-origin`: a page we link to cannot reach back into ours.
- `Content-Security-Policy`: `default-src 'none'` for everything but the chart page, which gets
  `PAGE_CSP`: its scripts and styles only from our own static files (no inline script or style
  attribute), its data and WebSocket only from the same origin.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

# Everything but the chart page: a JSON or static answer loads and frames nothing.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# The chart page (apps/overlays/templates/overlays/chart.html): Lightweight Charts and the page's
# modules from /static/, its stylesheet from /static/, the JSON API and /ws/overlays on the same
# origin ('self' covers ws:// and wss:// to the page's own host), the `data:,` favicon. The page
# config is a `type="application/json"` block, which is data, not script, so needs no exception.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Content-Security-Policy", DEFAULT_CSP),
)

# the same, as ASGI header pairs (lower-case names, bytes)
ASGI_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS
)


class SecurityHeadersMiddleware(MiddlewareMixin):
    """Adds each of `SECURITY_HEADERS` a response does not set itself (the chart page sets its own
    Content-Security-Policy). Listed first in MIDDLEWARE, so it sees every answer Django gives,
    error pages included. Sync and async capable (MiddlewareMixin): no thread hop of its own."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        for name, value in SECURITY_HEADERS:
            if name not in response:
                response[name] = value
        return response
