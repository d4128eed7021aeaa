"""Binance REST adapter (httpx) sharing one request-weight budget across every call.

- The budget is seeded from `X-MBX-USED-WEIGHT-1M` on every response.
- 429 and 418 honour `Retry-After` globally: no REST call of any kind is sent before it expires.
- 5xx, timeouts, transport errors and 200-with-error-body retry with exponential backoff (klines);
  a depth snapshot is tried once: its caller paces the next try (apps.book.domain.rate_limit).
- The weight limit is the exchange's own when exchangeInfo answers (`refresh_exchange_info`), and so
  are the level bounds every price and quantity is held to (`level_bounds`: the static ones before).
- A body that cannot be decoded (invalid, or nested too deeply for `json`) is an invalid-JSON answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from apps.book.domain.backoff import Backoff
from apps.book.domain.events import DepthSnapshot
from apps.book.domain.rate_limit import WeightBudget, depth_weight
from apps.book.domain.wire import (
    STATIC_BOUNDS,
    LevelBounds,
    WireError,
    exchange_level_bounds,
    exchange_weight_limit,
    parse_error_payload,
    parse_klines_body,
    parse_retry_after,
    parse_snapshot,
    parse_used_weight,
)
from apps.book.services.wire_tap import WireTap

log = logging.getLogger("apps.book.rest")


class RestError(Exception):
    """A REST call that cannot succeed (bad request, or retries exhausted)."""


class RestLimits(Protocol):
    """The settings a REST client and its weight budget are built from (Config, StreamerSettings)."""

    @property
    def rest_timeout_s(self) -> float: ...
    @property
    def rest_weight_limit_1m(self) -> int: ...
    @property
    def rest_weight_reserve(self) -> int: ...


class BinanceRestClient:
    @classmethod
    def with_budget_from(
        cls, base_url: str, limits: RestLimits, *, monotonic: Callable[[], float] = time.monotonic
    ) -> BinanceRestClient:
        """A client with its own weight budget, both sized from the service's settings."""
        budget = WeightBudget(
            limit_per_minute=limits.rest_weight_limit_1m,
            reserve=limits.rest_weight_reserve,
        )
        return cls(base_url, budget=budget, timeout_s=limits.rest_timeout_s, monotonic=monotonic)

    def __init__(
        self,
        base_url: str,
        *,
        budget: WeightBudget | None = None,
        timeout_s: float = 10.0,
        max_attempts: int = 6,
        monotonic: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget or WeightBudget()
        self.max_attempts = max_attempts
        # the clock of every budget decision (and of the budget figures in /api/health)
        self.monotonic = monotonic
        self._backoff = backoff or Backoff(0.25, 10.0)
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)
        self.counters: Counter[str] = Counter()
        # what a price and a quantity may be (snapshots here, stream frames through the router)
        self.level_bounds: LevelBounds = STATIC_BOUNDS
        # a recorder (apps/live/runtime.py sets it with RECORD_DIR): every body used, every error
        self.tap: WireTap | None = None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_depth(self, symbol: str, limit: int) -> DepthSnapshot:
        payload = await self._request(
            "/api/v3/depth",
            {"symbol": symbol, "limit": limit},
            depth_weight(limit),
            snapshot=True,
            attempts=1,
        )
        try:
            return parse_snapshot(payload, self.level_bounds)
        except WireError as exc:
            raise RestError(f"bad depth snapshot: {exc}") from None

    async def get_klines(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[list[Any]]:
        params: dict[str, Any] = {"symbol": symbol, "interval": interval, "limit": limit}
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        payload = await self._request("/api/v3/klines", params, 2)
        try:
            return parse_klines_body(payload)
        except WireError as exc:
            raise RestError(str(exc)) from None

    async def refresh_exchange_info(self, symbol: str) -> None:
        """Adopt the exchange's REQUEST_WEIGHT per minute and `symbol`'s level bounds (PRICE_FILTER,
        LOT_SIZE) from exchangeInfo; keep the setting / the static bounds when they cannot be had
        (logged, never raised)."""
        try:
            payload = await self._request("/api/v3/exchangeInfo", {"symbol": symbol}, 20, attempts=1)
            limit = exchange_weight_limit(payload)
        except (RestError, WireError) as exc:
            log.warning(
                "exchangeInfo unavailable (%s): weight limit stays %d/min", exc, self.budget.limit_per_minute
            )
            return
        if limit is not None and limit != self.budget.limit_per_minute:
            log.info("weight limit from exchangeInfo: %d/min (was %d)", limit, self.budget.limit_per_minute)
            self.budget.adopt_exchange_limit(limit)
        try:
            self.level_bounds = exchange_level_bounds(payload, symbol)
        except WireError as exc:
            log.warning("exchangeInfo filters unusable (%s): level bounds stay the static ones", exc)
            return
        bounds = self.level_bounds
        log.info(
            "level bounds from exchangeInfo: price %s..%s, qty <= %s",
            bounds.min_price,
            bounds.max_price,
            bounds.max_qty,
        )

    async def _wait_for_budget(self, weight: int) -> None:
        while True:
            wait = self.budget.wait_for(weight, self.monotonic())
            if wait <= 0:
                return
            reason = (
                self.budget.block_reason if self.monotonic() < self.budget.blocked_until else "weight budget"
            )
            self.counters[f"waited:{reason}"] += 1
            log.info("rest waiting %.2fs reason=%s", wait, reason)
            await asyncio.sleep(wait)

    async def _request(
        self, path: str, params: dict[str, Any], weight: int, *, snapshot: bool = False, attempts: int = 0
    ) -> Any:
        """One call, retried on 5xx/timeouts/transport errors up to `attempts` (default: the client's)
        tries; a 429/418 is no failed try: the client waits out its Retry-After and sends again."""
        attempts = attempts or self.max_attempts
        failures = 0
        while True:
            await self._wait_for_budget(weight)
            self.budget.spend(weight, self.monotonic(), snapshot=snapshot)
            self.counters["requests"] += 1
            problem: str
            try:
                response = await self._client.get(path, params=params)
            except httpx.TimeoutException:
                problem = "timeout"
            except httpx.TransportError as exc:
                problem = f"transport error {type(exc).__name__}"
            else:
                answer = self._judge(path, params, response)
                if isinstance(answer, _WaitedOut):
                    continue  # not a failed attempt: the wait is the remedy
                if isinstance(answer, _Payload):
                    self._backoff.reset()
                    return answer.value
                problem = answer
            self._tap_marker("rest_error", f"{path}: {problem}")
            failures += 1
            if failures >= attempts:
                raise RestError(f"{path}: {problem} after {failures} attempt{'s' if failures > 1 else ''}")
            self.counters["retries"] += 1
            delay = self._backoff.next_delay()
            log.warning("rest %s on %s, retry %d in %.2fs", problem, path, failures, delay)
            await asyncio.sleep(delay)

    def _judge(
        self, path: str, params: dict[str, Any], response: httpx.Response
    ) -> _Payload | _WaitedOut | str:
        """One answer: its payload, the problem that makes it a failed try, or `_WAITED_OUT` (a 429/418:
        no REST call until its Retry-After). A 4xx other than those raises RestError."""
        used = parse_used_weight(response.headers.get("X-MBX-USED-WEIGHT-1M"))
        if used is not None:
            self.budget.observe_used(used, self.monotonic())
        status = response.status_code
        if status in (429, 418):
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            self.budget.block(retry_after, self.monotonic(), str(status))
            self.counters[str(status)] += 1
            log.warning("rest %s on %s: no REST call for %.1fs", status, path, retry_after)
            self._tap_marker("rest_error", f"{path}: http {status}, Retry-After {retry_after:g} s")
            return _WAITED_OUT
        if status >= 500:
            return f"http {status}"
        if status >= 400:
            self.counters["client_error"] += 1
            self._tap_marker("rest_error", f"{path}: http {status}")
            raise RestError(f"{path} answered {status}: {response.text[:200]}")
        try:
            payload = response.json()
        except (ValueError, RecursionError):
            return "invalid json"
        error = parse_error_payload(payload)
        if error is not None:
            return f"error body code={error.code}"
        if self.tap is not None:
            self.tap.rest_answer(time.time_ns(), f"{path}?{urlencode(params)}", response.text)
        return _Payload(payload)

    def _tap_marker(self, kind: str, detail: str) -> None:
        if self.tap is not None:
            self.tap.marker(time.time_ns(), kind, detail)


@dataclass(frozen=True, slots=True)
class _Payload:
    value: Any


class _WaitedOut:
    """A 429/418 answer: waited out, then tried again."""


_WAITED_OUT = _WaitedOut()
