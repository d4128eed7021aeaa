"""End-to-end latency: a simulator event -> the delta that reflects it, received by a /ws/overlays client.

    python -m bench.e2e [--seconds 30] [--wall-every 6]

Starts `binance_sim` and `serve` (defaults: 100 ms depth stream, 1 s publish cycle) as separate
processes, then, in this process, one /ws/overlays client and one raw depth-stream client on the
simulator. All three processes share this machine's wall clock, so timestamps compare directly.

Two measurements (definitions in docs/benchmarks.md):

1. book events (every simulator depth event is a sample)
   t_event   = the simulator's event time E of depth event u (set when its tick made the event)
   t_publish = ts_ms of the first "metrics" delta whose update_id >= u (the publish cycle's clock)
   t_client  = when the /ws/overlays client received that delta
   event -> client = t_client - t_event = (t_publish - t_event) + (t_client - t_publish)
   The first part waits for the next 1 s publication cycle (uniform over 0..1 s by design);
   the second is the service's own work: DB write, channel-layer fan-out, WebSocket send.

2. walls (a wall placed every --wall-every s through POST /sim/control)
   t0 = just before the control request; done when a "zones" delta adds (or changes) a zone on
   the wall's side whose bin range covers the wall's price; split at the zone's ts_ms (the cycle).
   Few samples: the median and max are reported, no p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.figures import Figure, print_figures
from bench.percentiles import Distribution, number
from bench.stack import ServiceStack, load_text, progress

WALL_DISTANCE = Decimal("0.003")  # 0.3 % below mid: inside the default 1 % zone range and the sim's book
BIN = Decimal("50")  # ZONE_BIN_SIZE default
WALL_MULTIPLE = 8  # wall = 8 x the median bin volume around it (the detector's threshold is 4x)


@dataclass
class Recording:
    depth: list[tuple[int, int, float]] = field(default_factory=list)  # (u, E ms, received s)
    metrics: list[tuple[int, int, float]] = field(default_factory=list)  # (update_id, ts_ms, received s)
    zone_messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    live_zones: dict[Any, dict[str, Any]] = field(default_factory=dict)
    messages: int = 0
    snapshots: int = 0
    last_mid: Decimal | None = None
    zone_event: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class WallSample:
    placed_s: float
    cycle_ms: int
    received_s: float

    @property
    def total_ms(self) -> float:
        return (self.received_s - self.placed_s) * 1000

    @property
    def to_cycle_ms(self) -> float:
        return self.cycle_ms - self.placed_s * 1000

    @property
    def cycle_to_client_ms(self) -> float:
        return self.received_s * 1000 - self.cycle_ms


@dataclass
class E2EResult:
    event_to_client: Distribution
    event_to_publish: Distribution
    publish_to_client: Distribution
    walls: list[WallSample]
    walls_missed: int
    seconds: float
    load: str = ""


async def read_depth(ws: ClientConnection, rec: Recording) -> None:
    async for frame in ws:
        received = time.time()
        payload = json.loads(frame)
        if payload.get("e") == "depthUpdate":
            rec.depth.append((int(payload["u"]), int(payload["E"]), received))


def apply_zone_changes(rec: Recording, data: dict[str, Any]) -> None:
    for zone in [*data.get("added", []), *data.get("changed", [])]:
        if zone.get("status") in ("candidate", "confirmed"):
            rec.live_zones[zone["id"]] = zone
        else:
            rec.live_zones.pop(zone["id"], None)
    for zone_id in data.get("removed", []):
        rec.live_zones.pop(zone_id, None)


async def read_overlays(ws: ClientConnection, rec: Recording) -> None:
    async for frame in ws:
        received = time.time()
        message = json.loads(frame)
        rec.messages += 1
        if message.get("type") == "snapshot":
            rec.snapshots += 1
            state = message.get("state") or {}
            rec.live_zones = {
                z["id"]: z for z in state.get("zones", []) if z.get("status") in ("candidate", "confirmed")
            }
        elif message.get("type") == "delta":
            kind, data = message.get("kind"), message.get("data") or {}
            if kind == "metrics":
                rec.metrics.append((int(data["update_id"]), int(data["ts_ms"]), received))
                rec.last_mid = Decimal(data["mid"])
            elif kind == "zones":
                rec.zone_messages.append((received, data))
                apply_zone_changes(rec, data)
                rec.zone_event.set()
        if rec.messages % 16 == 0:  # as the chart page does (static/chart/transport.js ACK_EVERY)
            await ws.send(json.dumps({"action": "ack", "received": rec.messages}))


def covers(zone: dict[str, Any], side: str, price: Decimal) -> bool:
    if zone.get("side") != side:
        return False
    return Decimal(zone["price_low"]) - BIN <= price <= Decimal(zone["price_high"]) + BIN


def free_wall_price(rec: Recording) -> Decimal | None:
    """A bid price WALL_DISTANCE below mid (stepping further down) with no live bid zone within a bin."""
    if rec.last_mid is None:
        return None
    price = (rec.last_mid * (1 - WALL_DISTANCE)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    for _ in range(20):
        if not any(covers(z, "bid", price) for z in rec.live_zones.values()):
            return price
        price -= 2 * BIN
    return None


async def wall_quantity(stack: ServiceStack, client: httpx.AsyncClient, price: Decimal) -> Decimal:
    """WALL_MULTIPLE x the median 50-EUR bin volume of the simulator's bids within 3 bins of ``price``."""
    response = await client.get(
        f"{stack.sim_url}/api/v3/depth", params={"symbol": stack.symbol, "limit": 5000}
    )
    response.raise_for_status()
    bins: dict[Decimal, Decimal] = {}
    for level_price, qty in response.json()["bids"]:
        key = Decimal(level_price) // BIN
        bins[key] = bins.get(key, Decimal(0)) + Decimal(qty)
    center = price // BIN
    near = [bins.get(center + k, Decimal(0)) for k in range(-3, 4) if k != 0]
    return max(Decimal(10), (statistics.median(near) * WALL_MULTIPLE).quantize(Decimal(1)))


async def probe_wall(
    stack: ServiceStack, client: httpx.AsyncClient, rec: Recording, timeout: float
) -> WallSample | None:
    price = free_wall_price(rec)
    if price is None:
        progress("e2e: no free price for a wall probe this time")
        return None
    qty = await wall_quantity(stack, client, price)
    seen = len(rec.zone_messages)
    placed = time.time()
    response = await client.post(
        f"{stack.sim_url}/sim/control",
        json={"action": "place_wall", "side": "bid", "price": str(price), "qty": str(qty)},
    )
    response.raise_for_status()
    wall_id = response.json()["result"]
    sample: WallSample | None = None
    deadline = time.monotonic() + timeout
    while sample is None and time.monotonic() < deadline:
        rec.zone_event.clear()
        for received, data in rec.zone_messages[seen:]:
            for zone in [*data.get("added", []), *data.get("changed", [])]:
                if covers(zone, "bid", price) and zone.get("status") in ("candidate", "confirmed"):
                    sample = WallSample(placed, int(zone["ts_ms"]), received)
                    break
            if sample is not None:
                break
        seen = len(rec.zone_messages)
        if sample is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rec.zone_event.wait(), max(0.01, deadline - time.monotonic()))
    await client.post(f"{stack.sim_url}/sim/control", json={"action": "pull_wall", "wall_id": wall_id})
    return sample


def match_events(rec: Recording) -> tuple[list[float], list[float], list[float]]:
    """Per depth event: (event->client, event->publish, publish->client) in ms via the first metrics
    message whose update_id covers the event. Events after the last metrics message are dropped."""
    metrics = sorted(rec.metrics)
    ids = [m[0] for m in metrics]
    total: list[float] = []
    to_publish: list[float] = []
    to_client: list[float] = []
    for u, event_ms, _ in rec.depth:
        i = bisect_left(ids, u)
        if i == len(ids):
            continue
        _, ts_ms, received = metrics[i]
        total.append(received * 1000 - event_ms)
        to_publish.append(ts_ms - event_ms)
        to_client.append(received * 1000 - ts_ms)
    return total, to_publish, to_client


async def measure(stack: ServiceStack, seconds: float, wall_every: float) -> E2EResult:
    rec = Recording()
    symbol = stack.symbol.lower()
    async with (
        connect(f"{stack.overlays_ws_url}", origin=stack.origin, max_size=None) as overlays,  # type: ignore[arg-type]
        connect(f"{stack.sim_ws_url}/ws/{symbol}@depth@100ms", max_size=None) as depth,
        httpx.AsyncClient(timeout=5) as client,
    ):
        tasks = [
            asyncio.create_task(read_overlays(overlays, rec)),
            asyncio.create_task(read_depth(depth, rec)),
        ]
        walls: list[WallSample] = []
        missed = 0
        started = time.monotonic()
        # Two publish cycles first, so the client has a baseline and a mid price.
        while len(rec.metrics) < 2 and time.monotonic() - started < 10:
            await asyncio.sleep(0.05)
        started = time.monotonic()
        rec.depth.clear()
        progress(f"e2e: measuring for {seconds:g}s (a wall every {wall_every:g}s)")
        next_wall = started + 1.0
        while (now := time.monotonic()) < started + seconds:
            if now >= next_wall:
                sample = await probe_wall(stack, client, rec, timeout=min(8.0, wall_every))
                if sample is None:
                    missed += 1
                else:
                    walls.append(sample)
                    progress(f"e2e: wall -> zone on the client in {sample.total_ms:.0f} ms")
                next_wall += wall_every
            await asyncio.sleep(min(0.2, max(0.0, started + seconds - time.monotonic())))
        await asyncio.sleep(1.2)  # the events of the last second get their publication
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    total, to_publish, to_client = match_events(rec)
    return E2EResult(
        Distribution.of(total),
        Distribution.of(to_publish),
        Distribution.of(to_client),
        walls,
        missed,
        seconds,
    )


def figures(result: E2EResult) -> list[Figure]:
    walls = Distribution.of([w.total_ms for w in result.walls])
    return [
        Figure("e2e", "depth event -> client p50 (ms)", result.event_to_client.p50, "publish cycle 1000 ms"),
        Figure(
            "e2e", "depth event -> client p99 (ms)", result.event_to_client.p99, "<= cycle + publish->client"
        ),
        Figure("e2e", "publish -> client p50 (ms)", result.publish_to_client.p50, "service's own work"),
        Figure("e2e", "publish -> client p99 (ms)", result.publish_to_client.p99, "service's own work"),
        Figure(
            "e2e", f"wall -> zone on client median (ms, n={walls.count})", walls.p50, "tick + cycle + detect"
        ),
    ]


def print_result(result: E2EResult) -> None:
    print(
        f"\nend-to-end latency, ms ({result.seconds:g} s at defaults; one /ws/overlays client; "
        f"load average {result.load})"
    )
    header = f"{'measure':<34} {'n':>5} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}"
    print(header)
    print("-" * len(header))
    rows = [
        ("depth event -> client (total)", result.event_to_client),
        ("  depth event -> publish cycle", result.event_to_publish),
        ("  publish cycle -> client", result.publish_to_client),
    ]
    walls = result.walls
    rows += [
        ("wall placed -> zone on client", Distribution.of([w.total_ms for w in walls])),
        ("  wall placed -> zone cycle", Distribution.of([w.to_cycle_ms for w in walls])),
        ("  zone cycle -> client", Distribution.of([w.cycle_to_client_ms for w in walls])),
    ]
    for name, d in rows:
        print(
            f"{name:<34} {d.count:>5} {number(d.p50):>8} {number(d.p90):>8} {number(d.p99):>8} {number(d.max):>8}"
        )
    if result.walls_missed:
        print(f"wall probes without a zone in time: {result.walls_missed}")
    print("(wall rows: few samples; read the median and max, not p99)")


def run(seconds: float = 30.0, wall_every: float = 6.0) -> list[Figure]:
    before = load_text()
    with ServiceStack() as stack:
        result = asyncio.run(measure(stack, seconds, wall_every))
    result.load = f"{before} before, {load_text()} after"
    print_result(result)
    return figures(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement time (default 30)")
    parser.add_argument(
        "--wall-every", type=float, default=6.0, help="seconds between wall probes (default 6)"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.wall_every <= 0:
        parser.error("--seconds and --wall-every must be positive")
    print_figures(run(args.seconds, args.wall_every))
    return 0


if __name__ == "__main__":
    sys.exit(main())
