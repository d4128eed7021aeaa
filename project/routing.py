"""WebSocket URL routes and the background-worker channel routes."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from django.urls import path

from apps.live.consumers import OrderBookWorkerConsumer
from apps.overlays.consumers import OverlayConsumer

websocket_router = URLRouter([path("ws/overlays", OverlayConsumer.as_asgi())])

channel_routes: dict[str, Any] = {"orderbook": OrderBookWorkerConsumer.as_asgi()}
