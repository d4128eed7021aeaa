"""python manage.py serve [--host --port] [--simulator | --replay FILE...]: the embedded default,
one process."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from channels.routing import get_default_application
from daphne.endpoints import build_endpoint_description_strings
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.book.domain.data_source import SourceKind
from apps.book.services.data_sources import claim_source_for_command
from apps.core.database_state import database_name, is_sqlite, migrate_embedded, require_migrated
from apps.core.framework_bypasses import StreamingServer
from apps.live.runtime import build_streamer, run_streamer
from apps.recording.domain.recording import Recording
from apps.simulator.replay.cli import add_replay_arguments, describe, load, replay_server, replay_symbol

log = logging.getLogger("apps.live.serve")
SIMULATOR_SOURCE_URL = "bundled simulator"


class Command(BaseCommand):
    help = "Run the web server (daphne) and the order-book streamer on one event loop."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--simulator",
            action="store_true",
            help="Start the bundled Binance simulator on loopback and stream from it (offline demo).",
        )
        parser.add_argument("--sim-port", type=int, default=0, help="Simulator port (0 = any free port)")
        parser.add_argument("--sim-seed", type=int, default=1)
        parser.add_argument("--no-stream", action="store_true", help="Web only (scale-out web process)")
        add_replay_arguments(
            parser,
            help_replay="Replay a recording (files or directories, merged by time) over the Binance "
            "protocol on loopback and stream from it; the recorded symbol (SYMBOL if it holds several)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port must be 1..65535, got {options['port']}")
        if options["replay"] and (options["simulator"] or options["no_stream"]):
            raise CommandError("--replay streams from the recording: not with --simulator or --no-stream")
        state: dict[str, Any] = {}
        if options["replay"]:
            state["recording"] = self._prepare_replay(options["replay"])
        config = settings.CONFIG
        self._prepare_database()
        if not options["no_stream"]:
            self._claim_source(options)

        async def background() -> None:
            if not options["no_stream"]:
                await self._stream(config, options, state)

        def on_shutdown() -> None:
            streamer = state.get("streamer")
            if streamer is not None:
                streamer.stop()

        endpoints = build_endpoint_description_strings(host=options["host"], port=options["port"])

        def on_listening() -> None:
            self.stdout.write(f"serving http://{options['host']}:{options['port']}/ (symbol {config.symbol})")
            self.stdout.flush()

        server = StreamingServer(
            application=get_default_application(),
            endpoints=endpoints,
            signal_handlers=True,
            action_logger=None,
            background=background,
            on_shutdown=on_shutdown,
            on_listening=on_listening,
        )
        server.run()
        if server.listen_failure is not None:
            raise CommandError(
                f"cannot listen on {options['host']}:{options['port']}: {server.listen_failure}"
            )

    def _claim_source(self, options: dict[str, Any]) -> None:
        """Refuse to mix simulated, replayed and real market data in one database (one line, exit 1)."""
        if options["simulator"]:
            claim_source_for_command(SourceKind.SIMULATOR, SIMULATOR_SOURCE_URL)
        elif options["replay"]:
            claim_source_for_command(SourceKind.REPLAY, " ".join(options["replay"])[:500])
        else:
            claim_source_for_command(SourceKind.BINANCE, settings.CONFIG.binance_ws_url)

    def _prepare_replay(self, paths: list[str]) -> Recording:
        """Read the recording; the service follows its symbol with the snapshot depth it recorded
        (settings.CONFIG is replaced before anything reads it: the streamer, its listeners, the API)."""
        recording = load(paths)
        config = settings.CONFIG
        symbol = replay_symbol(recording, config.symbol)
        limit = min(recording.depth_limit(symbol) or config.snapshot_limit, 5000)
        settings.CONFIG = dataclasses.replace(config, symbol=symbol, snapshot_limit=limit)
        self.stdout.write(f"replay: {describe(recording)}; following {symbol} (snapshots of {limit} levels)")
        return recording

    async def _stream(self, config: Any, options: dict[str, Any], state: dict[str, Any]) -> None:
        """The streamer (and with --simulator the simulator feeding it, with --replay the replay)
        until shutdown."""
        overrides: dict[str, Any] = {}
        if options["replay"]:
            replay = replay_server(state["recording"], options)
            await replay.start("127.0.0.1", options["sim_port"])
            state["replay"] = replay
            overrides = {"ws_url": replay.ws_url, "rest_url": replay.rest_url}
            self.stdout.write(
                f"replay: ws={replay.ws_url} rest={replay.rest_url} speed={options['speed'] or 'max'}"
            )
            await self._seed_candles(replay.rest_url)
        if options["simulator"]:
            from apps.simulator.server import BinanceSimulator

            sim = BinanceSimulator(symbol=config.symbol, seed=options["sim_seed"])
            await sim.start("127.0.0.1", options["sim_port"])
            state["sim"] = sim
            overrides = {"ws_url": sim.ws_url, "rest_url": sim.rest_url}
            self.stdout.write(f"simulator: ws={sim.ws_url} rest={sim.rest_url}")
            await self._seed_candles(sim.rest_url)
            await self._seed_heatmap(sim, config, options["sim_seed"])
        streamer = build_streamer(config, **overrides)
        if "sim" in state:
            sim_url: str = state["sim"].rest_url
            streamer.health_sections["simulator_url"] = lambda: sim_url
        if "replay" in state:
            streamer.health_sections["replay"] = state["replay"].state  # where it is, frames sent
        state["streamer"] = streamer
        try:
            await run_streamer(streamer)
        finally:
            for server in ("sim", "replay"):
                if server in state:
                    await state[server].stop()

    def _prepare_database(self) -> None:
        """SQLite (the embedded default) is migrated here; any other database must be already."""
        if not is_sqlite():
            require_migrated()
            return
        applied = migrate_embedded()
        if applied:
            self.stdout.write(f"database {database_name()}: applied {applied} migration(s)")

    async def _seed_candles(self, rest_url: str) -> None:
        """Demo and replay only: fill the candle table from the simulator's (or the recording's)
        klines and compute order blocks, so the chart has history and boxes from the first second."""
        from asgiref.sync import sync_to_async

        from apps.orderblocks.services.backfill import backfill_from
        from apps.orderblocks.services.jobs import run_orderblocks

        try:
            summary = await backfill_from(rest_url)
            self.stdout.write(f"seeded candles: {summary.describe()}")
            blocks = await sync_to_async(run_orderblocks, thread_sensitive=True)()
            self.stdout.write(f"seeded order blocks: {blocks.describe()}")
        except Exception:
            log.exception("candle seeding failed; continuing without history")

    async def _seed_heatmap(self, sim: Any, config: Any, seed: int) -> None:
        """Demo only: a few hours of simulated heatmap columns on an empty heatmap
        (apps/live/demo_heatmap.py), so the page shows a heatmap at once."""
        from apps.live.demo_heatmap import seed_demo_heatmap

        try:
            written = await seed_demo_heatmap(sim, config, seed)
            if written:
                self.stdout.write(f"demo heatmap: {written} simulated columns")
        except Exception:
            log.exception("demo heatmap seeding failed; continuing without history")
