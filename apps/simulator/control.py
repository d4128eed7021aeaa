"""The control API for other processes: ``GET /sim/state``, the truth API ``GET /sim/truth`` and the
``POST /sim/control`` RPC.

``/sim/control`` takes one JSON object naming a simulator method and its arguments, e.g.
``{"action": "inject_gap", "skip_ids": 5}`` or ``{"action": "place_wall", "side": "bid",
"price": "86000.00", "qty": "12.5"}``; it answers ``{"ok": true, "action", "result"}``. Bad input is a
400 ``{"error": "<field>: <what is wrong>"}``.
"""

from __future__ import annotations

import inspect
import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from websockets.http11 import Response

from apps.simulator.faults import Armed
from apps.simulator.http_front import HttpRequest, json_response
from apps.simulator.market import TruthUnavailable
from apps.simulator.rest_rules import RestError, int_param, parse_query
from apps.simulator.wire import fmt_price, fmt_qty

log = logging.getLogger("apps.simulator")

# action -> its parameters and their JSON types (a parameter without a default in the method is required)
CONTROL_ACTIONS: dict[str, dict[str, type]] = {
    "inject_gap": {"skip_ids": int},
    "inject_duplicate": {},
    "inject_overlap": {},
    "inject_old_event": {},
    "inject_bad_quantity": {"qty": str},
    "snapshot_stale": {"times": int, "behind_ids": int},
    "ws_lag": {"seconds": float},
    "stall": {"seconds": float},
    "inject_frame": {"kind": str},
    "disconnect": {"mode": str},
    "refuse_connections": {"seconds": float},
    "rest_fault": {"kind": str, "times": int, "retry_after": float, "delay_s": float, "path": str},
    "place_wall": {"side": str, "price": Decimal, "qty": Decimal},
    "pull_wall": {"wall_id": str},
    "fast_move": {"direction": str, "distance": Decimal},
    "close_candle": {"interval": str},
}


class ControlledSimulator(Protocol):
    """What the control API reads and drives: server.BinanceSimulator (which builds this API, so
    the dependency is this protocol, not that module). The CONTROL_ACTIONS are its methods."""

    @property
    def symbol(self) -> str: ...
    @property
    def market(self) -> Any: ...
    @property
    def candles(self) -> Any: ...
    @property
    def connections(self) -> int: ...
    @property
    def connections_opened(self) -> int: ...
    @property
    def pings_answered(self) -> int: ...
    @property
    def counters(self) -> dict[str, int]: ...


class ControlApi:
    """Answers /sim/ requests for one simulator."""

    def __init__(self, simulator: ControlledSimulator) -> None:
        self._sim = simulator

    async def answer(self, request: HttpRequest) -> Response:
        try:
            if request.path == "/sim/state" and request.method == "GET":
                return json_response(200, self.state())
            if request.path == "/sim/truth" and request.method == "GET":
                return json_response(200, self.truth(parse_query(request.query)))
            if request.path == "/sim/control" and request.method == "POST":
                return json_response(200, await self.call(request.body))
        except RestError as exc:
            return json_response(exc.status, {"error": exc.msg})
        return json_response(404, {"error": f"unknown control endpoint {request.method} {request.path}"})

    def state(self) -> dict[str, Any]:
        """What /sim/state answers."""
        sim = self._sim
        market = sim.market
        bid_levels, ask_levels = market.level_counts()
        return {
            "symbol": sim.symbol,
            "mid": str(market.mid),
            "best_bid": str(market.best_bid),
            "best_ask": str(market.best_ask),
            "update_id": market.update_id,
            "oldest_update_id": market.oldest_update_id,
            "levels": {"bids": bid_levels, "asks": ask_levels},
            "connections": sim.connections,
            "connections_opened": sim.connections_opened,
            "pings_answered": sim.pings_answered,
            "live_candle_open_ms": sim.candles.live.open_ms,
            "walls": [
                {
                    "wall_id": w.wall_id,
                    "side": w.side,
                    "price": fmt_price(w.price),
                    "remaining": fmt_qty(w.remaining),
                    "state": w.state,
                }
                for w in market.walls()
            ],
            "counters": {
                **sim.counters,
                "market_events": market.events_emitted,
                "market_trades": market.trades_emitted,
                "fast_moves": market.fast_moves,
            },
        }

    def truth(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """The true book at ``update_id`` (default: now), ``limit`` levels per side (default 100)."""
        market = self._sim.market
        try:
            update_id = int_param(query, "update_id", default=market.update_id, minimum=0)
            limit = int_param(query, "limit", default=100, minimum=1, maximum=100_000)
        except RestError as exc:
            raise RestError(400, exc.code, exc.msg) from exc
        assert update_id is not None and limit is not None
        try:
            bids, asks = market.truth_ints(update_id, limit)
        except TruthUnavailable as exc:
            raise RestError(400, -1, f"update_id: {exc}") from exc
        return {
            "update_id": update_id,
            "bids": [[fmt_price(p), fmt_qty(q)] for p, q in bids],
            "asks": [[fmt_price(p), fmt_qty(q)] for p, q in asks],
        }

    async def call(self, body: bytes) -> dict[str, Any]:
        """Run one control action; RestError(400) names the offending field."""
        action, arguments = _parse_call(body)
        method = getattr(self._sim, action)
        kwargs = _keyword_arguments(action, arguments, inspect.signature(method))
        try:
            result = method(**kwargs)
            if isinstance(result, Armed):
                result = await result
        except (ValueError, KeyError) as exc:
            message = exc.args[0] if exc.args else str(exc)
            raise RestError(400, -1, f"{action}: {message}") from exc
        log.info("sim control: %s %s", action, kwargs)
        return {"ok": True, "action": action, "result": result}


def _parse_call(body: bytes) -> tuple[str, dict[str, Any]]:
    """The action and its JSON arguments."""
    try:
        request = json.loads(body or b"null")
    except ValueError as exc:
        raise RestError(400, -1, f"body: not valid JSON ({exc})") from exc
    if not isinstance(request, dict):
        raise RestError(400, -1, 'body: expected a JSON object like {"action": "inject_gap", "skip_ids": 5}')
    action = request.pop("action", None)
    if action not in CONTROL_ACTIONS:
        raise RestError(400, -1, f"action: must be one of {', '.join(CONTROL_ACTIONS)}; got {action!r}")
    return action, request


def _keyword_arguments(
    action: str, arguments: dict[str, Any], signature: inspect.Signature
) -> dict[str, Any]:
    spec = CONTROL_ACTIONS[action]
    unknown = sorted(set(arguments) - set(spec))
    if unknown:
        raise RestError(
            400, -1, f"{unknown[0]}: unknown parameter for {action} (allowed: {', '.join(spec) or 'none'})"
        )
    kwargs: dict[str, Any] = {}
    for name, kind in spec.items():
        if name not in arguments:
            if signature.parameters[name].default is inspect.Parameter.empty:
                raise RestError(400, -1, f"{name}: required for {action}")
            continue
        kwargs[name] = _coerce(name, arguments[name], kind)
    return kwargs


def _coerce(name: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RestError(400, -1, f"{name}: expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RestError(400, -1, f"{name}: expected a number, got {value!r}")
        return float(value)
    if kind is Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise RestError(400, -1, f"{name}: expected a decimal string, got {value!r}")
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise RestError(400, -1, f"{name}: expected a decimal string, got {value!r}") from exc
    if not isinstance(value, str):
        raise RestError(400, -1, f"{name}: expected a string, got {value!r}")
    return value
