"""The simulator's REST app: Binance's /api/v3 endpoints (ping, time, exchangeInfo, depth, klines)
with their weights, the 1-minute weight limit (429, then 418), and the armed REST faults."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.http11 import Response

from apps.simulator.faults import FaultCatalogue, RestFault
from apps.simulator.http_front import HttpRequest, json_response
from apps.simulator.intraday import IntradaySeries
from apps.simulator.klines import CandleSeries
from apps.simulator.market import SimulatedMarket
from apps.simulator.rest_rules import (
    BANNED_MSG,
    DEPTH_DEFAULT_LIMIT,
    DEPTH_MAX_LIMIT,
    KLINE_INTERVALS,
    KLINES_DEFAULT_LIMIT,
    KLINES_MAX_LIMIT,
    TOO_MANY_REQUESTS_MSG,
    RateLimiter,
    RestError,
    check_symbol,
    endpoint_weight,
    int_param,
    parse_query,
    required_param,
)
from apps.simulator.wire import depth_snapshot, exchange_info, kline_row
from apps.simulator.ws_server import WebSocketStreams

log = logging.getLogger("apps.simulator")


@dataclass(slots=True)
class RestRequest:
    """One REST request as the simulator saw it (``monotonic_s`` = arrival, ``time.monotonic()``)."""

    monotonic_s: float
    method: str
    path: str
    query: str
    status: int = 0
    weight: int = 0
    used_weight_1m: int = 0
    fault: str | None = None


class RestApp:
    """Answers /api/ requests; every request is logged in ``rest_log``."""

    def __init__(
        self,
        *,
        symbol: str,
        market: SimulatedMarket,
        candles: CandleSeries,
        intraday: dict[str, IntradaySeries],
        faults: FaultCatalogue,
        streams: WebSocketStreams,
        limiter: RateLimiter,
        counters: dict[str, int],
        clock: Callable[[], float],
    ) -> None:
        self.symbol = symbol
        self.rest_log: list[RestRequest] = []
        self._market = market
        self._candles = candles
        self._series: dict[str, CandleSeries | IntradaySeries] = {"1h": candles, **intraday}
        self._faults = faults
        self._streams = streams
        self._limiter = limiter
        self._counters = counters
        self._clock = clock
        self._stopping = asyncio.Event()

    def open(self) -> None:
        self._stopping.clear()

    def release_delayed_answers(self) -> None:
        """Stopping: requests held by a "timeout" fault are answered now."""
        self._stopping.set()

    async def answer(self, request: HttpRequest) -> Response:
        entry = RestRequest(time.monotonic(), request.method, request.path, request.query)
        self.rest_log.append(entry)
        self._counters["rest_requests"] += 1
        query = parse_query(request.query)
        entry.weight = endpoint_weight(request.path, query)
        admission = self._limiter.admit(entry.weight, self._clock(), entry.monotonic_s)
        entry.used_weight_1m = admission.used_weight
        headers = {
            "X-MBX-USED-WEIGHT-1M": str(admission.used_weight),
            "X-MBX-USED-WEIGHT": str(admission.used_weight),
        }
        if admission.status:
            entry.status = admission.status
            log.info(
                "sim REST %s %s -> %d (%s)", request.path, request.query, admission.status, admission.reason
            )
            return self._limited(admission.status, admission.retry_after_s, headers)
        fault = self._faults.take_rest_fault(request.path)
        if fault is not None:
            entry.fault = fault.kind
            log.info("sim REST %s %s -> injected %s", request.path, request.query, fault.kind)
            faulted = await self._faulted(fault, entry, headers)
            if faulted is not None:
                return faulted
        try:
            if request.method != "GET":
                raise RestError(405, -1000, f"Method {request.method} not allowed; use GET")
            body = self._route(request.path, query)
            status = 200
        except RestError as exc:
            status, body = exc.status, exc.body()
        entry.status = status
        return json_response(status, body, headers)

    async def _faulted(
        self, fault: RestFault, entry: RestRequest, headers: dict[str, str]
    ) -> Response | None:
        """The injected answer, or None once a "timeout" fault has held the request long enough."""
        if fault.kind in ("429", "418"):
            if fault.kind == "429":
                self._limiter.force_429(fault.retry_after_s, entry.monotonic_s)
            else:
                self._limiter.force_418(fault.retry_after_s, entry.monotonic_s)
            entry.status = int(fault.kind)
            return self._limited(entry.status, _ceil_s(fault.retry_after_s), headers)
        if fault.kind == "500":
            entry.status = 500
            return json_response(
                500,
                {"code": -1000, "msg": "An unknown error occurred while processing the request."},
                headers,
            )
        if fault.kind == "error_body":
            entry.status = 200
            return json_response(
                200, {"code": -1003, "msg": TOO_MANY_REQUESTS_MSG.format(limit=self._limiter.limit)}, headers
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), fault.delay_s)
        return None

    def _limited(self, status: int, retry_after_s: int, headers: dict[str, str]) -> Response:
        headers = {**headers, "Retry-After": str(retry_after_s)}
        if status == 429:
            body = {"code": -1003, "msg": TOO_MANY_REQUESTS_MSG.format(limit=self._limiter.limit)}
        else:
            until = int((self._clock() + retry_after_s) * 1000)
            body = {"code": -1003, "msg": BANNED_MSG.format(until=until)}
        return json_response(status, body, headers)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _route(self, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/time":
            return {"serverTime": self._now_ms()}
        if path == "/api/v3/exchangeInfo":
            check_symbol(query, self.symbol, required=False)
            return exchange_info(self.symbol, self._now_ms(), self._limiter.limit)
        if path == "/api/v3/depth":
            check_symbol(query, self.symbol)
            limit = int_param(query, "limit", default=DEPTH_DEFAULT_LIMIT, minimum=1)
            assert limit is not None
            return self._snapshot(min(limit, DEPTH_MAX_LIMIT))
        if path == "/api/v3/klines":
            check_symbol(query, self.symbol)
            return self._klines(query)
        raise RestError(404, -1000, f"Unknown endpoint {path}")

    def _klines(self, query: dict[str, list[str]]) -> list[list[Any]]:
        interval = required_param(query, "interval")
        if interval not in KLINE_INTERVALS:
            raise RestError(400, -1120, "Invalid interval.")
        series = self._series.get(interval)
        if series is None:
            served = ", ".join(self._series)
            raise RestError(400, -1120, f"Invalid interval: the simulator serves interval={served} only.")
        start = int_param(query, "startTime", minimum=0)
        end = int_param(query, "endTime", minimum=0)
        limit = int_param(query, "limit", default=KLINES_DEFAULT_LIMIT, minimum=1, maximum=KLINES_MAX_LIMIT)
        assert limit is not None
        if start is not None and end is not None and start > end:
            raise RestError(
                400, -1130, "Data sent for parameter 'startTime' is not valid: startTime > endTime."
            )
        return [kline_row(c) for c in series.query(start, end, limit)]

    def _snapshot(self, limit: int) -> dict[str, Any]:
        market = self._market
        behind_ids = self._faults.take_stale_snapshot()
        if behind_ids is None:
            bids, asks = market.top_ints(limit)
            return depth_snapshot(market.update_id, bids, asks)
        current = market.update_id
        stale_id = current - behind_ids
        firsts = self._streams.first_depth_ids()
        if firsts:
            stale_id = min(stale_id, min(firsts) - 5)
        stale_id = max(stale_id, market.oldest_update_id)
        bids, asks = market.truth_ints(stale_id, limit)
        log.info("sim REST depth: serving stale snapshot lastUpdateId=%d (current %d)", stale_id, current)
        return depth_snapshot(stale_id, bids, asks)


def _ceil_s(seconds: float) -> int:
    whole = int(seconds)
    return max(1, whole if whole == seconds else whole + 1)
