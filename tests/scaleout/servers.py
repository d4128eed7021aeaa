"""Real Redis and PostgreSQL servers for the scale-out tests, started on loopback in temp dirs.

PostgreSQL refuses to run as root, so when the tests run as root (CI) the temp directory is
chowned to the `postgres` system user and initdb/postgres run as that user (Popen user=/group=,
the same as `runuser -u postgres --` but the pid we hold is postgres itself, so signals reach it).
A missing binary skips the tests with the reason, except in CI (env CI=true), where it fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.processes import free_port, tail_of, wait_until

START_TIMEOUT_S = 30.0


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: CI must run the scale-out tests."""
    if in_ci():
        pytest.fail(f"scale-out prerequisites missing in CI: {reason}")
    pytest.skip(reason)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class RedisServer:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def start(cls) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (make system-packages installs it)")
        assert binary is not None
        server = cls(port=free_port(), workdir=Path(tempfile.mkdtemp(prefix="liq-redis-")))
        log = server.workdir / "redis.log"
        with open(log, "wb") as out:
            server.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(server.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(server.workdir),
                    "--daemonize",
                    "no",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: server._ping(), START_TIMEOUT_S, "redis-server", log)
        return server

    def _ping(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"redis-server exited with {self.proc.returncode}:\n{tail_of(self.workdir / 'redis.log')}"
            )
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.workdir, ignore_errors=True)


def postgres_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("postgres")
    return Path(found).parent if found else None


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@dataclass
class PostgresServer:
    port: int
    workdir: Path
    bindir: Path
    run_as: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    database: str = "liquidity"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = postgres_bindir()
        if bindir is None or not (bindir / "initdb").exists():
            unavailable("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
        assert bindir is not None
        run_as: dict[str, Any] = {}
        workdir = Path(tempfile.mkdtemp(prefix="liq-pg-"))
        if os.geteuid() == 0:  # postgres refuses to run as root
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(workdir, ignore_errors=True)
                unavailable("running as root and there is no `postgres` system user to run PostgreSQL")
                raise
            os.chown(workdir, pg.pw_uid, pg.pw_gid)
            run_as = {"user": pg.pw_uid, "group": pg.pw_gid, "extra_groups": [], "cwd": str(workdir)}
        server = cls(port=free_port(), workdir=workdir, bindir=bindir, run_as=run_as)
        server._initdb()
        server._run()
        server._create_database()
        return server

    def _initdb(self) -> None:
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            timeout=120,
            **self.run_as,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}):\n{result.stderr.decode(errors='replace')}"
            )

    def _run(self) -> None:
        log = self.workdir / "postgres.log"
        # The log file is opened by this process (root may own it); postgres only inherits the fd.
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.datadir),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.workdir),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=60",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                **self.run_as,
            )
        wait_until(self._ready, START_TIMEOUT_S, "postgres", log)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"postgres exited with {self.proc.returncode}:\n{tail_of(self.workdir / 'postgres.log')}"
            )
        if not port_open(self.port):
            return False
        import psycopg

        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", connect_timeout=2
            ):
                return True
        except psycopg.OperationalError:  # "the database system is starting up"
            return False

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def connect(self) -> object:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=self.database, autocommit=True
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)  # "fast" shutdown
        shutil.rmtree(self.workdir, ignore_errors=True)
