"""ASGI entry point: HTTP through Django, WebSockets through the Channels router."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from apps.core.framework_bypasses import install_request_limits, install_websocket_protocol  # noqa: E402
from apps.core.garbage_collection import settle_after_startup  # noqa: E402
from apps.core.sync_threads import start_sync_threads  # noqa: E402
from apps.core.websocket_admission import ConnectionsPerIp, OriginCheck  # noqa: E402
from apps.overlays.consumers import MAX_PROTOCOL_PAYLOAD_BYTES  # noqa: E402
from apps.overlays.fast_path import hot_reads_fast_path  # noqa: E402
from project.routing import channel_routes, websocket_router  # noqa: E402

# One connection count per process: this instance is the only one, and every socket passes it.
websocket_connections = ConnectionsPerIp(websocket_router, settings.CONFIG.ws_max_per_ip)

application = ProtocolTypeRouter(
    {
        "http": hot_reads_fast_path(django_asgi_app),
        "websocket": OriginCheck(
            websocket_connections, settings.ALLOWED_HOSTS, settings.CONFIG.ws_allowed_origins
        ),
        "channel": ChannelNameRouter(channel_routes),
    }
)

# Every server process (serve, daphne web processes, runworker) loads this module once it is set up,
# before its daphne server listens: from here on, a body over MAX_REQUEST_BODY is refused unread.
install_request_limits(settings.CONFIG.max_request_body)
start_sync_threads()
install_websocket_protocol(MAX_PROTOCOL_PAYLOAD_BYTES)
settle_after_startup(settings.CONFIG.gc_gen0_threshold)
