"""The `orderbook` background-worker channel (placeholder until the streamer lands)."""

from __future__ import annotations

from channels.consumer import AsyncConsumer


class OrderBookWorkerConsumer(AsyncConsumer):
    pass
