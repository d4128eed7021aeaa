"""Odd WebSocket frames for the ``inject_frame`` fault: what a client must survive on a live stream."""

from __future__ import annotations

from typing import Any

from apps.simulator.market import SimulatedMarket
from apps.simulator.wire import WireDepth, combined, depth_update, dumps

FRAME_KINDS = (
    "malformed_json",
    "truncated",
    "error_payload",
    "wrong_symbol",
    "unknown_event",
    "server_shutdown",
    "server_shutdown_ws_api",
)


class OddFrames:
    """Builds one odd frame of a kind for one client (wrapped like its other frames if combined)."""

    def __init__(self, *, symbol: str, market: SimulatedMarket) -> None:
        self.symbol = symbol
        self.stream_symbol = symbol.lower()
        self._market = market

    def frame(self, kind: str, streams: list[str], is_combined: bool, now_ms: int) -> str:
        depth_stream = next(
            (s for s in streams if "@depth" in s),
            streams[0] if streams else f"{self.stream_symbol}@depth@100ms",
        )
        last_u = self._market.update_id

        def wrap(payload: dict[str, Any]) -> str:
            return dumps(combined(depth_stream, payload)) if is_combined else dumps(payload)

        if kind == "malformed_json":
            return '{"e":"depthUpdate","E":' + str(now_ms) + ',"s":"' + self.symbol + '","U":,,"b":[["1.0"'
        if kind == "truncated":
            bids, asks = self._market.top_ints(3)
            event = WireDepth(last_u + 1, last_u + 2, now_ms, tuple(bids[:1]), tuple(asks[:1]))
            text = wrap(depth_update(self.symbol, event))
            return text[: len(text) // 2]
        if kind == "error_payload":
            return dumps({"code": -1100, "msg": "Illegal characters found in a parameter."})
        if kind == "wrong_symbol":
            return wrap(
                {
                    "e": "depthUpdate",
                    "E": now_ms,
                    "s": "ETHEUR",
                    "U": last_u + 1,
                    "u": last_u + 3,
                    "b": [["3012.34000000", "1.25000000"], ["3012.10000000", "0.00000000"]],
                    "a": [["3013.01000000", "2.00000000"]],
                }
            )
        if kind == "unknown_event":
            return wrap({"e": "somethingNew", "E": now_ms, "s": self.symbol, "x": 1})
        if kind == "server_shutdown":
            return dumps({"e": "serverShutdown", "E": now_ms})
        return dumps({"event": {"e": "serverShutdown", "E": now_ms}})  # server_shutdown_ws_api
