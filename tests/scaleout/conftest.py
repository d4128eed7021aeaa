"""The scale-out stack as real processes on loopback, shared by the tests of one module:

    redis-server, postgres (temp data dirs, free ports)
    binance_sim            (manage.py binance_sim)
    web A                  (daphne -b 127.0.0.1 -p A project.asgi:application)
    web B                  (manage.py serve --no-stream)
    worker                 (manage.py runworker orderbook: the one streamer)

Every Django process gets DATABASE_URL=postgres://... and REDIS_URL=redis://... and nothing else
changes: the settings pick Postgres and channels_redis from those two variables alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.processes import ServiceProcess, free_port, manage_argv, migrate, run_manage, tail_of, wait_until
from tests.scaleout.servers import PostgresServer, RedisServer

# Fast cycles so a few seconds hold many messages; quick reconnects after the crash test.
STACK_ENV = {
    "PUBLISH_INTERVAL_MS": "250",
    "WATCHDOG_S": "3",
    "BACKOFF_BASE_S": "0.1",
    "BACKOFF_CAP_S": "1",
    "REST_TIMEOUT_S": "3",
    "OB_RUN_DELAY_S": "0",
    "SYMBOL": "BTCEUR",
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}


@dataclass
class ScaleOutStack:
    env: dict[str, str]
    postgres: PostgresServer
    redis: RedisServer
    sim: ServiceProcess
    web_a: ServiceProcess
    web_b: ServiceProcess
    worker: ServiceProcess
    sim_url: str
    web_a_url: str
    web_b_url: str
    logs: Path

    def ws_url(self, web_url: str) -> str:
        return web_url.replace("http://", "ws://") + "/ws/overlays"

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        conn: Any = self.postgres.connect()
        with conn:
            return list(conn.execute(query, params).fetchall())

    def wait_live(self, after_update_id: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until web A serves a live book newer than `after_update_id`; return it."""
        found: dict[str, Any] = {}

        def live() -> bool:
            self.worker.check_alive()
            book = httpx.get(f"{self.web_a_url}/api/book", timeout=2).json()
            if book["status"] == "live" and (book["update_id"] or 0) > after_update_id:
                found.update(book)
                return True
            return False

        wait_until(live, timeout, f"a live book after update_id {after_update_id}", self.worker.log)
        return found

    def control(self, action: str, **params: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.sim_url}/sim/control", json={"action": action, **params}, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def sim_state(self) -> dict[str, Any]:
        return httpx.get(f"{self.sim_url}/sim/state", timeout=5).json()

    def diagnostics(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{tail_of(p.log, 25)}" for p in (self.worker, self.web_a, self.web_b)
        )


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> Iterator[ScaleOutStack]:
    logs = Path(tempfile.mkdtemp(prefix="liq-scaleout-logs-"))
    failed_before = request.session.testsfailed
    sim_port, a_port, b_port = free_port(), free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = {
        **os.environ,
        **STACK_ENV,
        "DATABASE_URL": postgres_server.url,
        "REDIS_URL": redis_server.url,
        "BINANCE_WS_URL": f"ws://127.0.0.1:{sim_port}",
        "BINANCE_REST_URL": sim_url,
    }
    migrate(env, timeout=120)  # against Postgres

    sim = ServiceProcess(
        "binance_sim",
        manage_argv("binance_sim", "--port", str(sim_port), "--seed", "11", "--no-random-fast-moves"),
        env,
        logs,
    )
    web_a = ServiceProcess(
        "web_a",
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(a_port), "project.asgi:application"],
        env,
        logs,
    )
    web_b = ServiceProcess(
        "web_b", manage_argv("serve", "--no-stream", "--host", "127.0.0.1", "--port", str(b_port)), env, logs
    )
    worker = ServiceProcess("worker", manage_argv("runworker", "orderbook"), env, logs)
    s = ScaleOutStack(
        env,
        postgres_server,
        redis_server,
        sim,
        web_a,
        web_b,
        worker,
        sim_url,
        f"http://127.0.0.1:{a_port}",
        f"http://127.0.0.1:{b_port}",
        logs,
    )
    try:
        for proc in (sim, web_a, web_b):
            proc.start()
        sim.wait_http(f"{sim_url}/sim/state")
        # candle history and its order blocks in Postgres, as an operator would seed them
        for command in (("backfill_candles",), ("compute_orderblocks", "--full")):
            run_manage(env, *command, timeout=120)
        worker.start()
        web_a.wait_http(f"{s.web_a_url}/api/health")
        web_b.wait_http(f"{s.web_b_url}/api/health")
        s.wait_live(timeout=60)
        yield s
    finally:
        for proc in (worker, web_a, web_b, sim):
            proc.terminate()
        for proc in (worker, web_a, web_b, sim):
            proc.stop()
        if request.session.testsfailed > failed_before:  # keep the evidence, say where it is
            sys.stderr.write(f"\nscale-out process logs kept in {logs}\n{s.diagnostics()}\n")
        else:
            shutil.rmtree(logs, ignore_errors=True)
