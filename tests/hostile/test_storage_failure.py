"""Storage failures are loud: a vanished SQLite file, an unreachable database and bad settings.

Each probe runs the real `serve` and reads what an operator or a load balancer would: the
/api/health status code and body, the exit code and the log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.processes import REPO, free_port, wait_until
from tests.hostile.conftest import start_serve


def test_a_deleted_sqlite_file_turns_health_503_and_logs_one_error_not_one_per_second(tmp_path):
    service = start_serve(tmp_path)
    try:
        service.wait_live()
        assert httpx.get(f"{service.base_url}/api/health", timeout=5).status_code == 200
        for suffix in ("", "-wal", "-shm"):
            Path(f"{service.database}{suffix}").unlink(missing_ok=True)

        def unhealthy() -> bool:
            return httpx.get(f"{service.base_url}/api/health", timeout=5).status_code == 503

        wait_until(unhealthy, 10, "503 from /api/health", processes=[service.process])
        answer = httpx.get(f"{service.base_url}/api/health", timeout=5)
        body = answer.json()
        assert answer.headers["content-type"] == "application/json"
        assert body["ok"] is False
        # the file is gone, or (once another connection re-created it empty) has none of our tables
        assert body["database"]["ok"] is False and body["database"]["error"]
        # the publisher refuses to write into the unlinked file, loudly, once per failure run
        service.process.wait_log("(deleted, moved or replaced while running)", timeout=10)
        deadline = time.monotonic() + 4  # four more failing cycles
        while time.monotonic() < deadline:
            service.process.check_alive()
            time.sleep(0.25)
        log = service.log_text()
        assert log.count("publication failed; continuing") == 1, log[-3000:]
        assert log.count("Traceback") <= 1, log[-3000:]
    finally:
        service.process.stop()


def serve_once(env_overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "BINANCE_REST_URL": "http://127.0.0.1:9",
        "BINANCE_WS_URL": "ws://127.0.0.1:9",
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "serve", "--port", str(free_port()), "--no-stream"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("env", "exit_code", "line"),
    [
        (
            {"DATABASE_URL": "postgres://u:p@127.0.0.1:1/nowhere"},
            1,
            "CommandError: database nowhere on 127.0.0.1:1 cannot be used: connection failed",
        ),
        (
            {"DATABASE_URL": "postgres://u:p@127.0.0.1:99999/x"},
            2,
            "configuration error: DATABASE_URL: postgres URL has a bad port",
        ),
        (
            {"DATABASE_URL": "sqlite:////proc/no/such/dir/db.sqlite3"},
            2,
            "configuration error: DATABASE_URL: cannot create the SQLite folder",
        ),
        ({"WATCHDOG_S": "inf"}, 2, "configuration error: WATCHDOG_S: must be a number above 0 up to 3600"),
        (
            {"PUBLISH_INTERVAL_MS": "1e23"},
            2,
            "configuration error: PUBLISH_INTERVAL_MS: must be a whole number",
        ),
        ({"GC_GEN0_THRESHOLD": "99999999999"}, 2, "configuration error: GC_GEN0_THRESHOLD: must be between"),
        ({"ALLOWED_HOSTS": ""}, 2, "configuration error: ALLOWED_HOSTS: must name at least one host"),
    ],
)
def test_a_bad_database_or_setting_stops_serve_with_one_line_naming_it(tmp_path, env, exit_code, line):
    done = serve_once(env, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == exit_code, output
    lines = [text for text in done.stderr.splitlines() if text.strip()]
    assert lines and lines[-1].startswith(line), output
    assert "Traceback" not in output
