"""A newcomer's first commands: an unmigrated database and a busy port give one clear line and a
non-zero exit, never a traceback; `serve` on the embedded SQLite default migrates by itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bench.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
NOT_MIGRATED = "is not migrated: run python manage.py migrate"


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
        "BINANCE_REST_URL": "http://127.0.0.1:9",
        "BINANCE_WS_URL": "ws://127.0.0.1:9",
    }


def manage(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("orderbook_stream",),
        ("runworker", "orderbook"),
        ("compute_orderblocks",),
        ("import_candles", "--csv", "{csv}"),
        ("backfill_candles",),
    ],
)
def test_commands_on_an_unmigrated_database_say_so_in_one_line(tmp_path, args):
    csv = tmp_path / "candles.csv"
    csv.write_text(
        "1609459200000,23000.0,23100.0,22900.0,23050.0,12.3,1609462799999,284000.1,1234,6.1,140000.5,0\n"
    )
    done = manage(env_for(tmp_path), *(arg.format(csv=csv) for arg in args))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1] == f"CommandError: database {tmp_path / 'fresh.sqlite3'} {NOT_MIGRATED}"
    assert [line for line in lines if "Error" in line] == lines[-1:]
    assert "Traceback" not in done.stdout + done.stderr


def test_serve_on_a_fresh_sqlite_database_migrates_and_serves(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--no-stream"],
        cwd=ROOT,
        env=env_for(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("serving http://"):
                break
        assert any(line.startswith(f"database {tmp_path / 'fresh.sqlite3'}: applied ") for line in seen), seen
        assert (
            httpx.get(f"http://127.0.0.1:{port}/api/candles", timeout=10).status_code == 200
        )  # tables exist
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in "".join(seen) + rest


def test_serve_on_a_busy_port_exits_non_zero_naming_host_and_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = manage(env_for(tmp_path), "serve", "--port", str(port), "--no-stream")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"CommandError: cannot listen on 127.0.0.1:{port}:" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
