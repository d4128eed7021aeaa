"""`manage.py binance_sim`: run the Binance-protocol simulator until SIGINT/SIGTERM; with
``--replay FILE...`` serve a recording instead (apps/simulator/replay)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.simulator.replay.cli import add_replay_arguments, describe, load, replay_server
from apps.simulator.replay.server import ReplayServer
from apps.simulator.server import BinanceSimulator


def _price(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise CommandError(f"--start-price: {text!r} is not a decimal number") from exc
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise CommandError(f"--start-price: {text!r} must be a positive multiple of 0.01")
    return value


class Command(BaseCommand):
    help = "Run the local Binance spot simulator (WS streams + REST + /sim/control) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9999)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--start-price", default="87000.00")
        parser.add_argument("--symbol", default="BTCEUR")
        parser.add_argument("--depth-interval", type=float, default=0.1, help="depth tick in seconds")
        parser.add_argument("--levels", type=int, default=1500, help="levels per side")
        parser.add_argument("--no-random-fast-moves", action="store_true")
        parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")
        add_replay_arguments(
            parser, help_replay="Serve a recording (files or directories, merged by time) instead of a market"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.style_func = None  # progress lines on stderr: plain, not error-red
        if not 0 <= options["port"] <= 65535:
            raise CommandError(f"--port: {options['port']} is not a TCP port")
        if options["depth_interval"] <= 0:
            raise CommandError("--depth-interval: must be positive")
        if options["levels"] < 10:
            raise CommandError("--levels: must be at least 10")
        if options["replay"]:
            recording = load(options["replay"])
            self.stdout.write(f"recording: {describe(recording)}")
            replay = replay_server(recording, options)
            try:
                asyncio.run(self._replay(replay, options["host"], options["port"], options["status_every"]))
            except OSError as exc:
                raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
            return
        sim = BinanceSimulator(
            symbol=options["symbol"],
            seed=options["seed"],
            start_price=_price(options["start_price"]),
            depth_interval_s=options["depth_interval"],
            levels_per_side=options["levels"],
            random_fast_moves=not options["no_random_fast_moves"],
        )
        try:
            asyncio.run(self._run(sim, options["host"], options["port"], options["status_every"]))
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc

    async def _run(self, sim: BinanceSimulator, host: str, port: int, status_every: float) -> None:
        def status() -> str:
            state = sim.state()
            return (
                f"binance_sim: mid={state['mid']} update_id={state['update_id']} "
                f"connections={state['connections']} depth_events_sent={state['counters']['depth_events_sent']} "
                f"rest_requests={state['counters']['rest_requests']}"
            )

        def ready() -> str:
            return f"binance_sim ready: ws={sim.ws_url} rest={sim.rest_url} symbol={sim.symbol}"

        await self._until_signal(sim.start(host, port), sim.stop, ready, status, status_every)

    async def _replay(self, replay: ReplayServer, host: str, port: int, status_every: float) -> None:
        def status() -> str:
            state = replay.state()
            return (
                f"binance_sim replay: frames {state['frames_replayed']:,}/{state['frames']:,} "
                f"round {state['round']} connections={state['connections']} "
                f"restarts={state['restarts']} finished={state['finished']}"
            )

        def ready() -> str:
            return f"binance_sim ready: ws={replay.ws_url} rest={replay.rest_url} replay"

        await self._until_signal(replay.start(host, port), replay.stop, ready, status, status_every)

    async def _until_signal(
        self,
        start: Awaitable[None],
        stop_server: Callable[[], Awaitable[None]],
        ready: Callable[[], str],
        status: Callable[[], str],
        every: float,
    ) -> None:
        """Start (SIGINT/SIGTERM already caught), say ready, then a status line every ``every`` seconds
        until one of those signals; then stop the server."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await start
        self.stdout.write(ready())
        self.stdout.flush()
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), every)
                except TimeoutError:
                    self.stderr.write(status() + "\n")
                    self.stderr.flush()
        finally:
            await stop_server()
            self.stdout.write("binance_sim stopped")
