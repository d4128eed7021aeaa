"""A real `manage.py serve --simulator` per test module, on loopback, for the hostile probes.

Each probe measures a bound on this process from outside: its RSS (/proc), its answers, its log.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.processes import ServiceProcess, free_port, manage_argv, wait_until


@dataclass
class ServedService:
    """A running serve process and how to reach it."""

    process: ServiceProcess
    port: int
    database: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/overlays"

    def rss_kb(self) -> int:
        rss = self.process.rss_kb()
        assert rss is not None, f"serve exited:\n{self.process.log_tail()}"
        return rss

    def health(self) -> dict:
        return httpx.get(f"{self.base_url}/api/health", timeout=5).json()

    def log_text(self) -> str:
        return self.process.log.read_text(errors="replace")

    def wait_live(self, timeout: float = 60.0) -> None:
        wait_until(
            lambda: self.health()["stream"]["state"] == "live",
            timeout,
            "a live book",
            processes=[self.process],
        )


def start_serve(tmp_path: Path, extra_env: Mapping[str, str] | None = None) -> ServedService:
    """`serve --simulator` on a free loopback port with its own SQLite file; waits until it answers."""
    port = free_port()
    database = tmp_path / "hostile.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "PYTHONUNBUFFERED": "1",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **(extra_env or {}),
    }
    process = ServiceProcess(
        "serve",
        manage_argv("serve", "--host", "127.0.0.1", "--port", str(port), "--simulator"),
        env,
        tmp_path,
    ).start()
    served = ServedService(process, port, database)
    try:
        process.wait_log("serving http://", timeout=90)
    except BaseException:
        process.stop()
        raise
    return served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedService]:
    """One live `serve --simulator` shared by a module's probes."""
    service = start_serve(tmp_path_factory.mktemp("hostile"))
    try:
        service.wait_live()
        yield service
    finally:
        service.process.stop()
