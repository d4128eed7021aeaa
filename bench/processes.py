"""Child processes for the benchmarks, the soak and the scale-out tests: start, wait, measure, stop.

One `ServiceProcess` per child (`manage.py serve`, `binance_sim`, `runworker`...), its stdout and
stderr in a log file whose tail goes into every error; `wait_until` for cross-process readiness
(an HTTP answer, a log line, a live book) that fails early, with the logs, when a child exits.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE = str(REPO / "manage.py")


class ProcessExited(RuntimeError):
    """A child process exited while something waited for it."""


def manage_argv(*args: str) -> list[str]:
    """argv for `python manage.py <args>` with this interpreter."""
    return [PYTHON, MANAGE, *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return parse_status_kb(text, key)


def parse_status_kb(status_text: str, key: str) -> int | None:
    """The kB value of `key` (e.g. VmRSS) in a /proc/PID/status text."""
    for line in status_text.splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            parts = rest.split()
            return int(parts[0]) if parts and parts[0].isdigit() else None
    return None


class ManageCommandFailed(RuntimeError):
    """A `manage.py` command exited non-zero; the message carries its output."""

    def __init__(self, command: str, returncode: int, stdout: str, stderr: str) -> None:
        super().__init__(f"{command} failed (exit {returncode}):\n{stdout}{stderr}")
        self.command = command
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def run_manage(env: Mapping[str, str], *args: str, timeout: float = 300.0) -> None:
    """Run `manage.py <args>` to completion in `env`; ManageCommandFailed if it exits non-zero."""
    done = subprocess.run(
        manage_argv(*args), env=dict(env), cwd=str(REPO), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise ManageCommandFailed(args[0], done.returncode, done.stdout, done.stderr)


def migrate(env: Mapping[str, str], timeout: float = 300.0) -> None:
    """Run `manage.py migrate` for the database `env` points at (DATABASE_URL or DATABASE_PATH)."""
    run_manage(env, "migrate", "--noinput", "-v", "0", timeout=timeout)


def tail_of(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    log: Path | None = None,
    *,
    processes: Sequence[ServiceProcess] = (),
    interval: float = 0.05,
) -> None:
    """Poll a cross-process readiness check until it is true. A check that raises an HTTP or
    parsing error counts as "not yet". ProcessExited if one of `processes` exits meanwhile,
    TimeoutError when time runs out; both carry the log tails."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in processes:
            proc.check_alive()
        try:
            if check():
                return
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() > deadline:
            logs = [log] if log is not None else [p.log for p in processes]
            tails = "".join(f"\n--- {path} ---\n{tail_of(path)}" for path in logs)
            raise TimeoutError(f"{what} not ready after {timeout:g}s{tails}")
        time.sleep(interval)


class ServiceProcess:
    """One child process with stdout+stderr in `log_dir/<name>.log` (appended across restarts);
    stop() is SIGTERM, then SIGKILL. The child gets the hard open-file limit (1000s of sockets)."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, *, log_name: str = ""
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log = log_dir / (log_name or f"{name}.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> ServiceProcess:
        self.starts += 1
        with open(self.log, "ab") as out:
            out.write(f"--- start #{self.starts}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=str(REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=raise_fd_limit,
            )
        return self

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return tail_of(self.log, lines)

    def check_alive(self) -> bool:
        """For readiness checks: raise ProcessExited with the log if the process already exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ProcessExited(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
        return True

    def wait_http(self, url: str, timeout: float = 60.0, *, ok: Callable[[int], bool] | None = None) -> None:
        """Wait until GET url answers 200 (or a status `ok` accepts): the process is serving."""
        accept = ok or (lambda status: status == 200)
        wait_until(
            lambda: accept(httpx.get(url, timeout=1.0).status_code),
            timeout,
            f"{self.name} ({url})",
            processes=[self],
        )

    def wait_log(self, text: str, timeout: float = 60.0) -> None:
        """Wait until the process wrote `text` to its log (since its latest start)."""

        def seen() -> bool:
            try:
                content = self.log.read_text(errors="replace")
            except OSError:
                return False
            return text in content.rsplit(f"--- start #{self.starts}:", 1)[-1]

        wait_until(seen, timeout, f"{self.name} log line {text!r}", processes=[self])

    def rss_kb(self) -> int | None:
        """Resident set size from /proc/PID/status (None if gone or not Linux)."""
        return proc_status_kb(self.pid, "VmRSS") if self.alive else None

    def thread_count(self) -> int | None:
        """OS threads of the process (the `Threads:` line of /proc/PID/status; None if gone)."""
        return proc_status_kb(self.pid, "Threads") if self.alive else None

    def kill(self) -> None:
        """SIGKILL, no clean-up: what a crash looks like to everything else."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self) -> None:
        """SIGTERM without waiting (stop several processes in parallel, then stop() each)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write(
                    f"{self.name} (pid {self.pid}) ignored SIGTERM for {timeout:g}s; killing it\n"
                )
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
