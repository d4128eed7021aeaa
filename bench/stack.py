"""Starts the service under test for the system benchmarks: a `binance_sim` process and a `serve`
process on 127.0.0.1 with free ports and a throw-away SQLite database, and tears both down.

    with ServiceStack(env={"PUBLISH_INTERVAL_MS": "1000"}) as stack:
        stack.base_url, stack.overlays_ws_url, stack.sim_url, stack.serve.pid ...

The simulator runs as its own process so that `serve`'s CPU time is the service's alone. Both
processes write their logs to files in the temp directory; on a start-up failure the tail of the
log is part of the error. Progress goes to stderr.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from bench.processes import (
    ManageCommandFailed,
    ServiceProcess,
    free_port,
    manage_argv,
    migrate,
    run_manage,
    wait_until,
)


class StackError(RuntimeError):
    """A benchmark process did not start or did not become ready in time."""


def progress(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


class ServiceStack:
    """binance_sim + serve (+ optional demo candles) in a temp directory; a context manager."""

    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        sim_args: list[str] | None = None,
        serve_args: list[str] | None = None,
        seed_candles: bool = False,
        log_level: str = "WARNING",
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.extra_env = dict(env or {})
        self.sim_args = list(sim_args or [])
        self.serve_args = list(serve_args or [])
        self.seed_candles = seed_candles
        self.log_level = log_level
        self.ready_timeout_s = ready_timeout_s
        self.workdir: Path | None = None
        self.sim: ServiceProcess | None = None
        self.serve: ServiceProcess | None = None
        self.sim_port = 0
        self.port = 0
        self.notes: list[str] = []
        self.symbol = self.extra_env.get("SYMBOL", "BTCEUR").upper()

    # -- addresses ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return self.base_url

    @property
    def overlays_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/overlays"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def sim_ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.sim_port}"

    def env(self) -> dict[str, str]:
        assert self.workdir is not None
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{self.workdir / 'bench.sqlite3'}",
            "BINANCE_WS_URL": self.sim_ws_url,
            "BINANCE_REST_URL": self.sim_url,
            "LOG_LEVEL": self.log_level,
            "REDIS_URL": "",  # the embedded default: in-memory channel layer
            "WS_MAX_PER_IP": "100000",  # every bench client connects from 127.0.0.1
            "PYTHONUNBUFFERED": "1",
        }
        env.update(self.extra_env)
        return env

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ServiceStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="lm-bench-"))
        self.sim_port = free_port()
        self.port = free_port()
        env = self.env()
        progress(f"migrating a temp SQLite DB in {self.workdir}")
        try:
            migrate(env)
        except ManageCommandFailed as exc:
            raise StackError(str(exc)) from exc

        progress(f"starting binance_sim on :{self.sim_port}")
        self.sim = ServiceProcess(
            "binance_sim",
            manage_argv(
                "binance_sim",
                "--port",
                str(self.sim_port),
                "--symbol",
                self.symbol,
                "--status-every",
                "3600",
                *self.sim_args,
            ),
            env,
            self.workdir,
            log_name="sim.log",
        ).start()
        self.sim.wait_http(f"{self.sim_url}/sim/state", self.ready_timeout_s)

        if self.seed_candles:
            self._seed_candles(env)

        progress(f"starting serve on :{self.port}")
        self.serve = ServiceProcess(
            "serve",
            manage_argv("serve", "--host", "127.0.0.1", "--port", str(self.port), *self.serve_args),
            env,
            self.workdir,
        ).start()
        if "--no-stream" in self.serve_args:
            self.serve.wait_http(
                f"{self.base_url}/api/health", self.ready_timeout_s, ok=lambda status: status < 500
            )
        else:
            wait_until(
                self._is_live,
                self.ready_timeout_s,
                "a live, published book",
                processes=[self.sim, self.serve],
                interval=0.2,
            )
        progress(f"stack ready: serve pid {self.serve.pid}, binance_sim pid {self.sim.pid}")

    def _is_live(self) -> bool:
        health = self.health()
        return health.get("status") == "live" and health["stream"].get("published", 0) > 0

    def _seed_candles(self, env: dict[str, str]) -> None:
        """Candles from the simulator's klines + order blocks, so /api/overlays carries real boxes."""
        progress("seeding candles and order blocks from the simulator")
        for command in ("backfill_candles", "compute_orderblocks"):
            try:
                run_manage(env, command)
            except ManageCommandFailed as exc:
                note = (
                    f"{command} failed (rc {exc.returncode}); running without order blocks: "
                    f"{(exc.stderr or exc.stdout).strip().splitlines()[-1:]}"
                )
                progress(note)
                self.notes.append(note)
                return

    def stop(self) -> None:
        for proc in (self.serve, self.sim):
            if proc is not None:
                proc.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    # -- reads -------------------------------------------------------------------------------
    def get_json(self, path: str) -> dict[str, Any]:
        """GET a path of serve's API; raises on a non-2xx answer."""
        response = httpx.get(f"{self.base_url}{path}", timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def health(self) -> dict[str, Any]:
        return self.get_json("/api/health")

    def sim_state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.sim_url}/sim/state", timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def sim_control(self, action: str, **params: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.sim_url}/sim/control", json={"action": action, **params}, timeout=5)
        if response.status_code != 200:
            raise StackError(f"/sim/control {action}: HTTP {response.status_code} {response.text}")
        data: dict[str, Any] = response.json()
        return data


def load_text() -> str:
    """The 1/5/15-minute load averages, e.g. '0.52 0.61 0.70' (this machine is shared)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
