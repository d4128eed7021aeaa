"""/api/health for load balancers: 503 with the reason while the book cannot be live (Binance refuses
connections), 200 again once it is; the same JSON body either way."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from apps.book.selectors import health_http_status
from apps.simulator.server import BinanceSimulator
from bench.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_health_answers_503_only_once_the_book_has_been_down_for_longer_than_health_stale_s():
    live = {"ok": True, "since": 100.0}
    down = {"ok": False, "since": 100.0}
    assert health_http_status(live, 1000.0, 10) == 200
    assert health_http_status(down, 109.0, 10) == 200  # a blip: not worth taking the node out
    assert health_http_status(down, 110.5, 10) == 503
    assert health_http_status({"ok": False, "since": None}, 100.0, 10) == 503  # never published
    # publications failing (a broken database): 503 at once, whatever the grace for a reconnect
    failing = {"ok": False, "since": 100.0, "publishing": False, "database": {"ok": True}}
    assert health_http_status(failing, 101.0, 10) == 503
    unreadable = {"ok": False, "since": None, "publishing": False, "database": {"ok": False}}
    assert health_http_status(unreadable, 101.0, 10) == 503


def test_missed_publications_count_the_cycles_the_row_should_have_been_written_since():
    from apps.book.selectors import missed_publications

    assert missed_publications(None, 1000) == 0
    assert missed_publications(0.2, 1000) == 0
    assert missed_publications(1.9, 1000) == 0  # the next one is due: not missed yet
    assert missed_publications(2.0, 1000) == 1
    assert missed_publications(4.5, 1000) == 3
    assert missed_publications(4.5, 500) == 8


def test_the_database_file_watch_notices_a_deleted_or_replaced_sqlite_file(tmp_path):
    import pytest

    from apps.core.database_state import DatabaseFileLost, DatabaseFileWatch

    path = tmp_path / "watched.sqlite3"
    path.write_bytes(b"")
    watch = DatabaseFileWatch(str(path))
    watch.check()
    replacement = tmp_path / "new.sqlite3"
    replacement.write_bytes(b"")
    replacement.replace(path)
    with pytest.raises(DatabaseFileLost, match="is no longer the file this process opened"):
        watch.check()
    path.unlink()
    with pytest.raises(DatabaseFileLost, match="deleted, moved or replaced"):
        watch.check()


async def wait_for(predicate, timeout: float, what: str):
    async with asyncio.timeout(timeout):
        while True:
            result = await predicate()
            if result is not None:
                return result
            await asyncio.sleep(0.2)  # polling an HTTP endpoint: there is no event to await
    raise AssertionError(what)


async def test_health_is_503_with_the_reason_while_binance_refuses_and_200_once_live(tmp_path):
    exchange, web = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BINANCE_WS_URL": f"ws://127.0.0.1:{exchange}",
        "BINANCE_REST_URL": f"http://127.0.0.1:{exchange}",
        "HEALTH_STALE_S": "1",
        "BACKOFF_BASE_S": "0.1",
        "BACKOFF_CAP_S": "0.5",
        "PUBLISH_INTERVAL_MS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "serve",
        "--port",
        str(web),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web}", timeout=5) as client:

            async def answer(code: int, published: bool = True, ok: bool | None = None):
                try:
                    response = await client.get("/api/health")
                except httpx.TransportError:
                    return None
                body = response.json()
                if response.status_code != code or (published and not body["stream"]):
                    return None
                if ok is not None and body["ok"] is not ok:
                    return None  # e.g. 200 while syncing: down for less than HEALTH_STALE_S
                return response

            # before the first publication the answer is 503 too (nothing is known yet)
            await wait_for(lambda: answer(503, published=False), 60, "503 before any publication")
            down = await wait_for(lambda: answer(503), 60, "503 while Binance refuses connections")
            body = down.json()
            assert body["ok"] is False and body["status"] in ("connecting", "backoff")
            assert "connect failed" in body["last_error"]["text"] and body["since"] is not None
            assert "connect failed" in body["stream"]["reason"] and body["stream"]["attempt"] >= 1
            via_django = await client.get("/api/health?")  # a query string goes through Django
            assert via_django.status_code in (200, 503) and via_django.json()["ok"] is False
            sim = BinanceSimulator(depth_interval_s=0.05, seed=3)
            await sim.start("127.0.0.1", exchange)
            try:
                up = await wait_for(lambda: answer(200, ok=True), 60, "200 once the book is live")
                assert up.json()["ok"] is True and up.json()["status"] == "live"
                assert up.json()["last_error"] is not None  # the last error stays visible, with its time
            finally:
                await sim.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
