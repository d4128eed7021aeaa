"""The replay's REST side: Binance's /api/v3 answers from the recording.

- ``depth``: the recorded snapshot body the feed chooses (nearest in update id; see feed.py), byte
  for byte, whatever ``limit`` asks (a recording holds what it was asked for: `serve --replay` sets
  SNAPSHOT_LIMIT to it);
- ``klines``: the recorded candles closed by the replay's position (recorded klines answers and
  closed candles of the kline streams), selected as Binance does, times shifted with ``--times now``;
- ``exchangeInfo``: the last recorded answer, byte for byte (404 when the recording has none: the
  streamer then keeps its static level bounds);
- ``ping`` and ``time`` (the replay's time). No rate limit: the recording's answers cost nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from websockets.http11 import Response

from apps.recording.domain.pacing import shift_kline_row
from apps.recording.domain.recording import Recording
from apps.simulator.http_front import HttpRequest, json_bytes_response, json_response
from apps.simulator.replay.feed import ReplayFeed
from apps.simulator.rest_rules import (
    KLINES_DEFAULT_LIMIT,
    KLINES_MAX_LIMIT,
    RestError,
    int_param,
    parse_query,
    required_param,
)

log = logging.getLogger("apps.simulator.replay")


class ReplayRest:
    def __init__(self, recording: Recording, feed: ReplayFeed, counters: dict[str, int]) -> None:
        self.recording = recording
        self.feed = feed
        self.counters = counters
        self._routes: dict[str, Callable[[dict[str, list[str]]], Response]] = {
            "/api/v3/ping": lambda query: json_response(200, {}),
            "/api/v3/time": lambda query: json_response(200, {"serverTime": self.feed.now_ms()}),
            "/api/v3/depth": self._depth,
            "/api/v3/klines": self._klines,
            "/api/v3/exchangeInfo": self._exchange_info,
        }

    async def answer(self, request: HttpRequest) -> Response:
        self.counters["rest_requests"] += 1
        route = self._routes.get(request.path)
        try:
            if route is None:
                raise RestError(404, -1000, f"Unknown endpoint {request.path}")
            if request.method != "GET":
                raise RestError(405, -1000, f"Method {request.method} not allowed; use GET")
            return route(parse_query(request.query))
        except RestError as exc:
            return json_response(exc.status, exc.body())

    def _symbol(self, query: dict[str, list[str]]) -> str:
        symbol = required_param(query, "symbol").upper()
        if symbol not in self.recording.depth and symbol not in self.recording.snapshots:
            raise RestError(400, -1121, "Invalid symbol.")
        return symbol

    def _depth(self, query: dict[str, list[str]]) -> Response:
        symbol = self._symbol(query)
        snapshot = self.feed.snapshot_for(symbol)
        if snapshot is None:
            raise RestError(503, -1000, f"The recording holds no snapshot of {symbol}.")
        self.counters["snapshots_served"] += 1
        return json_bytes_response(200, snapshot.text.encode())

    def _klines(self, query: dict[str, list[str]]) -> Response:
        symbol = self._symbol(query)
        interval = required_param(query, "interval")
        start = int_param(query, "startTime", minimum=0)
        end = int_param(query, "endTime", minimum=0)
        limit = int_param(query, "limit", default=KLINES_DEFAULT_LIMIT, minimum=1, maximum=KLINES_MAX_LIMIT)
        assert limit is not None
        offset = self.feed.offset_ms
        rows: list[Any] = self.recording.klines.query(
            symbol,
            interval,
            start - offset if start is not None else None,
            end - offset if end is not None else None,
            limit,
            closed_before_ms=self.feed.position_ns() // 1_000_000,
        )
        return json_response(200, [shift_kline_row(row, offset) for row in rows])

    def _exchange_info(self, query: dict[str, list[str]]) -> Response:
        answer = self.recording.exchange_info()
        if answer is None:
            raise RestError(404, -1000, "The recording holds no exchangeInfo answer.")
        return json_bytes_response(200, answer.text.encode())
