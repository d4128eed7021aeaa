"""Real servers in subprocesses and a real headless Chromium for the chart-page tests.

- ``seeded_site``: daphne serving a database seeded with a known scene (tests.browser.seed_demo),
  with a Redis channel layer so the test can push overlay messages exactly as the streamer does.
- ``live_site``: ``manage.py serve --simulator`` (daphne + streamer + the bundled Binance
  simulator), for end-to-end behaviour: walls placed in the simulator, socket loss, screenshots.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.chromium import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from bench.processes import migrate

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `predicate` until it returns a truthy value (a condition on another process)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the server is still starting
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _python() -> str:
    return str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """An empty, migrated SQLite file; every site starts from a copy (one migrate per session)."""
    path = tmp_path_factory.mktemp("template") / "site.sqlite3"
    env = _base_env(path.parent)
    migrate(env)
    return path


def _site_env(tmp: Path, migrated_db: Path) -> dict[str, str]:
    shutil.copy(migrated_db, tmp / "site.sqlite3")
    return _base_env(tmp)


@dataclass
class Site:
    url: str
    env: dict[str, str]
    log_path: Path
    scene: dict[str, Any] = field(default_factory=dict)
    redis_url: str = ""
    simulator_url: str = ""

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: playwright's sync API keeps an event loop running in this thread
    # while it is open, which would break every asyncio test collected after the browser tests.
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'site.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


@pytest.fixture(scope="module")
def seeded_site(tmp_path_factory, migrated_db) -> Iterator[Site]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    tmp = tmp_path_factory.mktemp("seeded")
    redis_port, web_port = free_port(), free_port()
    redis = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = _site_env(tmp, migrated_db)
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    seeded = subprocess.run(
        [_python(), "-m", "tests.browser.seed_demo", "--now-ms", str(int(time.time() * 1000))],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    log_path = tmp / "daphne.log"
    with open(log_path, "wb") as log:
        web = subprocess.Popen(
            [
                str(Path(_python()).with_name("daphne")),
                "-b",
                "127.0.0.1",
                "-p",
                str(web_port),
                "project.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    site = Site(
        url=f"http://127.0.0.1:{web_port}",
        env=env,
        log_path=log_path,
        scene=json.loads(seeded.stdout),
        redis_url=env["REDIS_URL"],
    )
    try:
        wait_until(lambda: httpx.get(f"{site.url}/api/overlays", timeout=2).status_code == 200, 20, "daphne")
        yield site
    finally:
        _stop(web)
        _stop(redis)


def start_live_site(
    tmp: Path, migrated_db: Path, extra_env: dict[str, str] | None = None
) -> tuple[Site, subprocess.Popen]:
    """`manage.py serve --simulator` in `tmp`, returned once its book is live."""
    env = _site_env(tmp, migrated_db)
    env["REDIS_URL"] = ""
    env["HEALTH_DETAILS"] = "1"  # /api/health names the simulator's control URL
    env.update(extra_env or {})
    port = free_port()
    log_path = tmp / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [_python(), "manage.py", "serve", "--simulator", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    site = Site(url=f"http://127.0.0.1:{port}", env=env, log_path=log_path)

    def simulator_ready() -> str | None:
        health = httpx.get(f"{site.url}/api/health", timeout=2).json()
        return health.get("simulator_url") if health.get("status") == "live" else None

    try:
        site.simulator_url = wait_until(simulator_ready, 60, "serve --simulator to go live", interval=0.25)
    except BaseException:
        _stop(server)
        raise
    return site, server


@pytest.fixture(scope="module")
def live_site(tmp_path_factory, migrated_db) -> Iterator[Site]:
    """`manage.py serve --simulator`: the one-process demo the README's `make demo` runs."""
    site, server = start_live_site(tmp_path_factory.mktemp("live"), migrated_db)
    try:
        yield site
    finally:
        _stop(server)


class Pusher:
    """Sends overlay messages through the seeded site's Redis channel layer, as the streamer does."""

    def __init__(self, redis_url: str, symbol: str = "BTCEUR") -> None:
        from channels_redis.core import RedisChannelLayer

        from apps.overlays.broadcast import OverlayBroadcaster

        self.layer = RedisChannelLayer(hosts=[redis_url])
        self.broadcaster = OverlayBroadcaster(symbol, layer=self.layer)
        # sync Playwright owns this thread's event loop: the layer gets a loop of its own
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="pusher", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.loop.run_forever()
        self.loop.close()  # channels_redis flushes its pools on close: on this thread, not Playwright's

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def send(self, kind: str, data: Any) -> int:
        self._run(self.broadcaster.send(kind, data))
        assert self.broadcaster.failed == 0
        return self.broadcaster.last_seq

    def skip_seq(self) -> None:
        """Lose one message on purpose (the clients will see a hole)."""
        next(self.broadcaster._seq)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def pusher(seeded_site) -> Iterator[Pusher]:
    instance = Pusher(seeded_site.redis_url)
    yield instance
    instance.close()


def open_chart(
    browser, site: Site, *, before_load=None, path: str = "/", viewport: dict[str, int] | None = None
):
    context = browser.new_context(viewport=viewport or VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # what the page's Content-Security-Policy blocked, if anything (read with csp_violations(page))
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`));"
    )
    if before_load is not None:
        before_load(page)
    page.goto(site.url + path)
    page.wait_for_function("() => window.__chartDebug && window.__chartDebug.ready", timeout=20_000)
    page.wait_for_function("() => window.__chartDebug.pill === 'live'", timeout=20_000)
    page.page_errors = errors
    return page


def after_next_paint(page) -> None:
    """Until the chart has painted what the test just changed (a visible range, data): Lightweight
    Charts paints in the next animation frame, so the one after it comes once that paint is done.
    Read ``painted`` figures after this, not before: they are the previous paint's until then."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def csp_violations(page) -> list[str]:
    """Everything the page's Content-Security-Policy blocked since it loaded."""
    return page.evaluate("window.__cspViolations")


def save_artifact(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path
