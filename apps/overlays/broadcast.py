"""The push contract between the single streamer and every web process.

The streamer broadcasts overlay changes to one channel-layer group per symbol. Every message
carries ``epoch`` (random per streamer start) and ``seq`` (1, 2, 3... within the epoch) so a
client that sees a hole, or a new epoch, re-fetches the full state (GET /api/overlays).

Message kinds and their ``data``:
- ``zones``        {"added": [zone...], "changed": [zone...], "removed": [zone_id...]}
- ``orderblocks``  {"added": [block...], "changed": [block...]}
- ``metrics``      one orderbook_metrics row as a dict
- ``candle``       {"time": s, "open", "high", "low", "close", "volume", "closed": bool, "tf"}: ``tf``
                   is the timeframe ("5m", "15m", "1h", or "4h"/"1d" made from the 1h candle, those with
                   "hours"); a page applies only the timeframe it shows
- ``status``       the stream status dict (as in /api/health "stream")
- ``depth``        the depth profile: the cycle's book on the heatmap grid (apps.heatmap.presentation)
- ``heatmap``      a finished heatmap column, as GET /api/heatmap with one column
- ``confluence``   {"changed": [{"id", "liquidity", "backed"}...], "state": {"computing", "reason"}}: the
                   order blocks whose liquidity inside moved beyond a rounding step or became unknown
                   (apps.confluence.presentation)
- ``reaction``     a new or changed order-block reaction, as one item of GET /api/reactions
                   (apps.reactions.presentation); a reaction's extreme price alone moving is not pushed
- ``alert``        one alert as it fired, as GET /api/alerts shows it (apps.alerts.presentation)
Zone and block dicts are the chart-ready shapes from apps.zones.presentation /
apps.orderblocks.presentation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
from typing import Any

from channels.layers import BaseChannelLayer, get_channel_layer

GROUP_MESSAGE_TYPE = "overlay.message"
log = logging.getLogger(__name__)


def group_name(symbol: str) -> str:
    return f"overlays_{symbol.lower()}"


def delta_text(epoch: str, seq: int, kind: str, data: Any) -> str:
    """The client frame of one group message (JSON text, ASCII)."""
    return json.dumps(
        {"type": "delta", "epoch": epoch, "seq": seq, "kind": kind, "data": data},
        separators=(",", ":"),
        default=str,
    )


class OverlayBroadcaster:
    """Numbers and sends overlay messages to the symbol's group. Never raises on a full layer."""

    def __init__(self, symbol: str, layer: BaseChannelLayer | None = None) -> None:
        self.symbol = symbol
        self.group = group_name(symbol)
        self.epoch = secrets.token_hex(6)
        self._seq = itertools.count(1)
        self._layer = layer
        self.sent = 0
        self.failed = 0
        self.last_seq = 0
        self._lock = asyncio.Lock()

    @property
    def layer(self) -> BaseChannelLayer:
        if self._layer is None:
            self._layer = get_channel_layer()
        return self._layer

    async def send(self, kind: str, data: Any) -> None:
        # Numbering and sending under one lock: concurrent sends (status changes, klines, the
        # cycle) must reach the layer in seq order, or every client would see a false hole.
        async with self._lock:
            await self._send_locked(kind, data)

    async def _send_locked(self, kind: str, data: Any) -> None:
        seq = next(self._seq)
        self.last_seq = seq
        # `text` is the client frame, serialised once here instead of once per connected client.
        text = delta_text(self.epoch, seq, kind, data)
        message = {
            "type": GROUP_MESSAGE_TYPE,
            "epoch": self.epoch,
            "seq": seq,
            "kind": kind,
            "data": data,
            "text": text,
        }
        try:
            await self.layer.group_send(self.group, message)
            self.sent += 1
        except Exception as exc:  # a broken layer must never stop the streamer
            self.failed += 1
            log.warning("broadcast failed kind=%s seq=%s reason=%r", kind, seq, exc)
