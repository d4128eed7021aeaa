"""Record a faulty session from the simulator, replay it, and hold both against the simulator's truth.

    python -m bench.record_replay [--minutes 2] [--speed 10] [--seed 3] [--fault-every 4]

Issue 18's acceptance run (tests/recording/test_record_replay.py runs a short one in the suite):

1. Live: the real streamer (zones and heatmap listeners, a recorder as its wire tap, as with
   RECORD_DIR) follows the simulator for --minutes while a fault is armed every --fault-every seconds
   (gaps, duplicates, overlaps, old events, odd frames, serverShutdown, disconnects, a stall past the
   watchdog, a bad quantity, stale snapshots and REST failures on resyncs, fast moves, walls placed
   and pulled). Every publication's whole book is compared with the simulator's truth at its update id.
2. Replay at --speed: the same service on the recording, served by `ReplayServer`; every publication
   compared with the truth again, and at each cycle the zones detected and the heatmap's picture of
   the book (the `depth` push: the bins a heatmap column accumulates) compared with the live run's at
   the same update id (the live run publishes every 50 ms on a 100 ms stream: a cycle at nearly every
   update id).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from bench.django_setup import setup_django

LIVE_PUBLISH_MS = 50
REPLAY_PUBLISH_MS = 50
DEPTH_INTERVAL_S = 0.1


# ------------------------------------------------------------------------------------- what a run saw


class TruthCheck:
    """A publication observer: each live book against the simulator's truth at its update id (the
    whole local book: observers run inside the publication, before any await)."""

    def __init__(self, sim: Any, streamer: Any) -> None:
        self.sim, self.streamer = sim, streamer
        self.checked = 0
        self.mismatches: list[str] = []
        self.statuses: list[str] = []

    def __call__(self, published: Any) -> None:
        from apps.book.domain.events import Side

        if not self.statuses or self.statuses[-1] != published.status:
            self.statuses.append(published.status)
        view = published.view
        if published.status != "live" or view is None:
            return
        book = self.streamer.sync.book
        bids, asks = self.sim.market.truth_at(view.update_id)
        top_bids, top_asks = self.sim.market.truth_top(view.update_id, len(view.bids))
        if list(view.bids) != list(top_bids) or list(view.asks) != list(top_asks):
            self.mismatches.append(f"published top differs at update_id={view.update_id}")
        elif book.top(Side.BID, book.depth(Side.BID)) != list(bids) or book.top(
            Side.ASK, book.depth(Side.ASK)
        ) != list(asks):
            self.mismatches.append(f"book differs at update_id={view.update_id}")
        self.checked += 1


class Pushes:
    """A DeltaSink that keeps the last `depth` push (the heatmap listener's picture of a cycle)."""

    def __init__(self) -> None:
        self.last_depth: Any = None

    async def send(self, kind: str, data: Any) -> None:
        if kind == "depth":
            self.last_depth = data


class Noted:
    """A listener, wrapped: what it made of each live cycle, by the cycle's update id."""

    def __init__(self, inner: Any, note: Callable[[], Any]) -> None:
        self.inner, self.note = inner, note
        self.notes: dict[int, Any] = {}

    async def on_cycle(self, cycle: Any) -> None:
        await self.inner.on_cycle(cycle)
        if cycle.status == "live" and cycle.update_id is not None:
            value = self.note()
            if value is not None:
                self.notes[cycle.update_id] = value

    async def on_kline(self, kline: Any) -> None:
        await self.inner.on_kline(kline)


def noted_listeners(config: Any) -> tuple[Noted, Noted]:
    """The zone and heatmap listeners, each noting its cycles: the zones detected; the picture."""
    from apps.heatmap.services.live import HeatmapListener
    from apps.zones.services.live import ZoneCycleListener

    zones = ZoneCycleListener(config, None)
    counted = [zones.cycles]

    def zones_now() -> Any:
        if zones.cycles == counted[0] or zones.last_detection is None:
            return None
        counted[0] = zones.cycles
        return (zones.last_detection.bounds, zones.last_detection.zones)

    pushes = Pushes()
    heatmap = HeatmapListener(config, pushes)

    def picture_now() -> Any:
        depth, pushes.last_depth = pushes.last_depth, None
        if depth is None or not depth["live"]:
            return None
        return (depth["bid_from"], tuple(depth["bid_qty"]), depth["ask_from"], tuple(depth["ask_qty"]))

    return Noted(zones, zones_now), Noted(heatmap, picture_now)


@dataclass
class RunResult:
    name: str
    seconds: float
    checked: int
    mismatches: list[str]
    statuses: list[str]
    zones: dict[int, Any]
    pictures: dict[int, Any]
    health: dict[str, Any]


def streamer_for(url_of: Any, publish_ms: int, tap: Any = None, listeners: tuple[Any, ...] = ()) -> Any:
    from apps.book.services.streamer import OrderBookStreamer, StreamerSettings

    settings = StreamerSettings(
        ws_url=url_of.ws_url,
        rest_url=url_of.rest_url,
        symbol="BTCEUR",
        publish_interval_ms=publish_ms,
        watchdog_s=1.5,
        backoff_base_s=0.05,
        backoff_cap_s=0.4,
        rest_timeout_s=1.0,
    )
    return OrderBookStreamer(settings, listeners=listeners, tap=tap)


async def until_live(check: TruthCheck, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check.statuses or check.statuses[-1] != "live":
            await asyncio.sleep(0.05)  # publications every 50 ms; nothing else to await on


# ------------------------------------------------------------------------------------------- faults


def fault_steps(sim: Any, streamer: Any) -> list[tuple[str, Callable[[], Awaitable[Any] | Any]]]:
    """The faults, armed in turn; a resync is requested where the fault is in the answer to one."""

    def resync_after(arm: Callable[[], Any], name: str) -> Callable[[], Any]:
        def step() -> Any:
            arm()
            streamer.request_resync(name)

        return step

    def wall() -> None:
        price = (sim.mid * Decimal(random.choice(("0.996", "1.004")))).quantize(Decimal("0.01"), ROUND_DOWN)
        side = "bid" if price < sim.mid else "ask"
        wall_id = sim.place_wall(side, price, Decimal("40"))
        asyncio.get_running_loop().call_later(20, sim.pull_wall, wall_id)

    return [
        ("gap", lambda: sim.inject_gap(5)),
        ("wall", wall),
        ("duplicate", sim.inject_duplicate),
        ("overlap", sim.inject_overlap),
        ("old_event", sim.inject_old_event),
        ("malformed_json", lambda: sim.inject_frame("malformed_json")),
        ("truncated", lambda: sim.inject_frame("truncated")),
        ("wrong_symbol", lambda: sim.inject_frame("wrong_symbol")),
        ("server_shutdown", lambda: sim.inject_frame("server_shutdown")),
        ("abrupt", lambda: sim.disconnect("abrupt")),
        ("bad_quantity", sim.inject_bad_quantity),
        ("stall", lambda: sim.stall(2.5)),
        ("snapshot_stale", resync_after(lambda: sim.snapshot_stale(times=1), "snapshot_stale")),
        ("rest_500", resync_after(lambda: sim.rest_fault("500"), "rest_500")),
        ("going_away", lambda: sim.disconnect("going_away")),
        ("fast_move", lambda: sim.fast_move(random.choice(("up", "down")), Decimal("60"))),
        ("error_payload", lambda: sim.inject_frame("error_payload")),
        ("unknown_event", lambda: sim.inject_frame("unknown_event")),
    ]


async def arm_faults(sim: Any, streamer: Any, seconds: float, every_s: float) -> list[str]:
    armed: list[str] = []
    steps = fault_steps(sim, streamer)
    deadline = time.monotonic() + seconds
    while time.monotonic() + every_s < deadline:
        await asyncio.sleep(every_s)
        name, step = steps[len(armed) % len(steps)]
        result = step()
        if result is not None and hasattr(result, "__await__"):
            await result
        armed.append(name)
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
    return armed


# --------------------------------------------------------------------------------------------- runs


async def run_streamer(
    name: str, streamer: Any, sim: Any, noted: tuple[Noted, Noted], body: Callable[[], Awaitable[Any]]
) -> RunResult:
    check = TruthCheck(sim, streamer)
    streamer.observers.append(check)
    task = asyncio.create_task(streamer.run())
    started = time.monotonic()
    try:
        await until_live(check)
        await body()
    finally:
        streamer.stop()
        await asyncio.wait_for(task, 30)
    return RunResult(
        name,
        time.monotonic() - started,
        check.checked,
        check.mismatches,
        check.statuses,
        noted[0].notes,
        noted[1].notes,
        streamer.health(),
    )


async def live_run(sim: Any, config: Any, out: Path, seconds: float, fault_every_s: float) -> RunResult:
    from apps.recording.services.recorder import FileRecorder

    recorder = FileRecorder(out, symbol="BTCEUR", snapshot_limit=5000)
    noted = noted_listeners(config)
    streamer = streamer_for(sim, LIVE_PUBLISH_MS, recorder, noted)
    faults: list[str] = []

    async def body() -> None:
        faults.extend(await arm_faults(sim, streamer, seconds, fault_every_s))

    result = await run_streamer("live", streamer, sim, noted, body)
    result.health["faults"] = faults
    result.health["recording"] = recorder.health()
    return result


async def replay_run(sim: Any, config: Any, recorded: Path, speed: float) -> RunResult:
    from apps.recording.services.files import load_recording
    from apps.simulator.replay.server import ReplayServer

    recording = load_recording([recorded])
    noted = noted_listeners(config)
    async with ReplayServer(recording, speed=speed) as replay:
        streamer = streamer_for(replay, REPLAY_PUBLISH_MS, None, noted)

        async def body() -> None:
            await replay.wait_finished()
            await asyncio.sleep(0.5)  # the last frames applied and published

        result = await run_streamer("replay", streamer, sim, noted, body)
        result.health["replay"] = replay.state()
    return result


@dataclass
class Comparison:
    replay_cycles: int
    common: int
    zone_mismatches: list[int] = field(default_factory=list)
    picture_mismatches: list[int] = field(default_factory=list)
    picture_cycles: int = 0
    picture_common: int = 0

    @property
    def ok(self) -> bool:
        return not self.zone_mismatches and not self.picture_mismatches


def compare(live: RunResult, replay: RunResult) -> Comparison:
    common = sorted(set(live.zones) & set(replay.zones))
    result = Comparison(len(replay.zones), len(common))
    result.zone_mismatches = [u for u in common if live.zones[u] != replay.zones[u]]
    pictures = sorted(set(live.pictures) & set(replay.pictures))
    result.picture_cycles, result.picture_common = len(replay.pictures), len(pictures)
    result.picture_mismatches = [u for u in pictures if live.pictures[u] != replay.pictures[u]]
    return result


@dataclass
class Scenario:
    live: RunResult
    replay: RunResult
    comparison: Comparison
    recording_bytes: int


async def scenario(
    workdir: Path, *, seconds: float, speed: float, seed: int, fault_every_s: float, config: Any = None
) -> Scenario:
    """Record a live session with faults, replay it, compare. Django must be set up (a migrated DB)."""
    from django.conf import settings

    from apps.simulator.server import BinanceSimulator

    config = config or dataclasses.replace(settings.CONFIG, symbol="BTCEUR")
    random.seed(seed)
    out = workdir / "recording"
    out.mkdir(parents=True, exist_ok=True)
    async with BinanceSimulator(depth_interval_s=DEPTH_INTERVAL_S, seed=seed, history_s=seconds + 600) as sim:
        live = await live_run(sim, config, out, seconds, fault_every_s)
        replay = await replay_run(sim, config, out, speed)
    size = sum(p.stat().st_size for p in out.iterdir())
    return Scenario(live, replay, compare(live, replay), size)


def report(result: Scenario, speed: float) -> list[str]:
    live, replay, comparison = result.live, result.replay, result.comparison
    recording = live.health["recording"]
    return [
        f"live: {live.seconds:.0f} s, {live.checked:,} live books checked against the truth, "
        f"{len(live.mismatches)} differed; faults armed: {', '.join(live.health['faults'])}",
        f"live stream: resyncs {live.health['resyncs']}, reconnects {live.health['reconnects']}, "
        f"snapshots {live.health['snapshots']}, handovers {live.health['handovers']}",
        f"recording: {recording['lines_written']:,} lines, {recording['lines_dropped']} dropped, "
        f"{result.recording_bytes:,} bytes gzip",
        f"replay at {speed:g}x: {replay.seconds:.1f} s, {replay.checked:,} live books checked against the "
        f"truth, {len(replay.mismatches)} differed; resyncs {replay.health['resyncs']}, snapshots "
        f"{replay.health['snapshots']}, snapshots too old {replay.health['snapshots_too_old']}; "
        f"replay restarts {replay.health['replay']['restarts']}",
        f"zones: {comparison.common:,} of {comparison.replay_cycles:,} replay cycles have a live cycle at "
        f"the same update id; {len(comparison.zone_mismatches)} differ",
        f"heatmap picture: {comparison.picture_common:,} of {comparison.picture_cycles:,} replay cycles "
        f"have a live one at the same update id; {len(comparison.picture_mismatches)} differ",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--fault-every", type=float, default=4.0, help="seconds between faults")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lm-record-replay-") as workdir:
        setup_django(workdir)
        result = asyncio.run(
            scenario(
                Path(workdir),
                seconds=args.minutes * 60,
                speed=args.speed,
                seed=args.seed,
                fault_every_s=args.fault_every,
            )
        )
    for line in report(result, args.speed):
        print(line)
    failed = result.live.mismatches or result.replay.mismatches or not result.comparison.ok
    print("record/replay: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
