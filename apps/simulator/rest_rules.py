"""Binance REST rules the simulator enforces: request weights, the 1-minute weight limit, 429 -> 418
escalation, parameter validation. Pure (times are passed in)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import parse_qs

from apps.book.domain.rate_limit import depth_weight

WEIGHT_LIMIT_1M = 6000
DEPTH_DEFAULT_LIMIT = 100
DEPTH_MAX_LIMIT = 5000
KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1000
WEIGHTS = {
    "/api/v3/ping": 1,
    "/api/v3/time": 1,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/klines": 2,
}
KLINE_INTERVALS = {
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
}


class RestError(Exception):
    """A Binance-style error answer: HTTP status + {"code", "msg"}."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def endpoint_weight(path: str, query: dict[str, list[str]]) -> int:
    if path == "/api/v3/depth":
        try:
            limit = int(query.get("limit", [str(DEPTH_DEFAULT_LIMIT)])[0])
        except ValueError:
            limit = DEPTH_DEFAULT_LIMIT
        return depth_weight(min(max(limit, 1), DEPTH_MAX_LIMIT))
    return WEIGHTS.get(path, 1)


def parse_query(query: str) -> dict[str, list[str]]:
    return parse_qs(query, keep_blank_values=True)


def int_param(
    query: dict[str, list[str]],
    name: str,
    *,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    values = query.get(name)
    if not values or values[0] == "":
        return default
    text = values[0]
    if not text.lstrip("-").isdigit():
        raise RestError(
            400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        )
    value = int(text)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise RestError(400, -1130, f"Data sent for parameter '{name}' is not valid.")
    return value


def required_param(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name)
    if not values or not values[0]:
        raise RestError(
            400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return values[0]


def check_symbol(query: dict[str, list[str]], symbol: str, *, required: bool = True) -> None:
    if not required and "symbol" not in query:
        return
    if required_param(query, "symbol") != symbol:
        raise RestError(400, -1121, "Invalid symbol.")


@dataclass(frozen=True, slots=True)
class Admission:
    """Outcome of the rate limiter for one request: status 0 means "serve it"."""

    status: int
    used_weight: int
    retry_after_s: int = 0
    reason: str = ""


class RateLimiter:
    """Per-minute request weight (calendar minutes of the wall clock) plus Retry-After windows.

    A request arriving while a 429's Retry-After runs escalates to 418 (IP ban) for ``ban_s`` seconds.
    Windows are measured on the monotonic clock.
    """

    def __init__(self, limit: int = WEIGHT_LIMIT_1M, ban_s: float = 120.0) -> None:
        self.limit = limit
        self.ban_s = ban_s
        self._minute = -1
        self._used = 0
        self._retry_until = 0.0  # 429 window (monotonic)
        self._ban_until = 0.0  # 418 window (monotonic)

    def used(self, now_wall_s: float) -> int:
        return self._used if int(now_wall_s // 60) == self._minute else 0

    def admit(self, weight: int, now_wall_s: float, now_mono_s: float) -> Admission:
        minute = int(now_wall_s // 60)
        if minute != self._minute:
            self._minute, self._used = minute, 0
        self._used += weight
        if now_mono_s < self._ban_until:
            return Admission(418, self._used, _ceil(self._ban_until - now_mono_s), "request during an IP ban")
        if now_mono_s < self._retry_until:
            self._ban_until = now_mono_s + self.ban_s
            self._retry_until = 0.0
            return Admission(418, self._used, _ceil(self.ban_s), "request inside a 429 Retry-After window")
        if self._used > self.limit:
            retry = max(1, _ceil(60 - now_wall_s % 60))
            self._retry_until = now_mono_s + retry
            return Admission(429, self._used, retry, f"weight {self._used} > {self.limit} in this minute")
        return Admission(0, self._used)

    def force_429(self, retry_after_s: float, now_mono_s: float) -> None:
        self._retry_until = now_mono_s + retry_after_s

    def force_418(self, retry_after_s: float, now_mono_s: float) -> None:
        self._ban_until = now_mono_s + retry_after_s


def _ceil(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


TOO_MANY_REQUESTS_MSG = (
    "Too many requests; current limit of IP is {limit} requests per minute. Please use the websocket for "
    "live updates to avoid polling the API."
)
BANNED_MSG = (
    "Way too many requests; IP banned until {until}. Please use the websocket for live updates to avoid bans."
)
