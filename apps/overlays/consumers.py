"""WebSocket /ws/overlays (placeholder until the overlay push lands)."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class OverlayConsumer(AsyncJsonWebsocketConsumer):
    pass
