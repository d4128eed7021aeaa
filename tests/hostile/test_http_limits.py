"""Hostile HTTP against a real `serve --simulator`: what an anonymous client can send, and the bound
the service keeps each time (issue #15, the HTTP part).

- a 1 GiB upload (declared, or chunked) is refused with a JSON 413 while serve's RSS stays flat;
- every error under /api/ is JSON, never HTML or a traceback: 404, 400 (bad Host, > 1000 query
  parameters), 500 (a database error, through Django and through the fast path);
- every answer carries the security headers, the page a CSP that fits what it loads;
- `If-None-Match: *` gives 304 on the fast path as through Django;
- a bad Host costs one log line; /api/health names no pid or simulator URL unless HEALTH_DETAILS=1.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.processes import PYTHON, ServiceProcess, free_port, proc_status_kb, wait_until
from tests.hostile.conftest import ServedService, start_serve

GIB = 1 << 30
BLOCK = 1 << 20
RSS_BOUND_KB = 10 * 1024


@pytest.fixture(scope="module")
def detailed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedService]:
    """A second serve, with HEALTH_DETAILS=1, whose database the 500 probe may damage."""
    service = start_serve(tmp_path_factory.mktemp("detailed"), {"HEALTH_DETAILS": "1"})
    try:
        service.wait_live()
        yield service
    finally:
        service.process.stop()


def reset_peak_rss(pid: int) -> None:
    """Start the process's VmHWM (peak RSS) afresh from its current RSS (Linux clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def naive_upload(port: int, total: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST `total` zero bytes in 1 MiB writes, never looking for an answer until it has sent them
    all or the server cut it off (the way a plain streaming client sends); then read the answer.
    Returns the answer and the bytes sent; nothing but one block is ever held here."""
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % total
    block = b"%x\r\n%s\r\n" % (BLOCK, bytes(BLOCK)) if chunked else bytes(BLOCK)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /api/overlays HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing + b"\r\n\r\n")
        try:
            while sent < total:
                sock.sendall(block)
                sent += BLOCK
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:  # cut off: what it had answered before is still there to read
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer, sent


def split_answer(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_1_gib_upload_is_refused_with_413_before_it_is_buffered(served, chunked):
    pid = served.process.pid
    before = served.rss_kb()
    reset_peak_rss(pid)
    started = time.monotonic()
    answer, sent = naive_upload(served.port, GIB, chunked=chunked)
    seconds = time.monotonic() - started
    peak, after = proc_status_kb(pid, "VmHWM"), served.rss_kb()
    status, headers, body = split_answer(answer)
    print(
        f"1 GiB upload ({'chunked' if chunked else 'declared'}): {sent / BLOCK:.0f} MiB sent before the cut, "
        f"{seconds:.2f} s, RSS {before} -> {after} kB, peak {peak} kB"
    )
    assert status == 413 and headers["content-type"] == "application/json", answer[:300]
    assert body.startswith(b'{"error":"content_too_large"') and headers["x-content-type-options"] == "nosniff"
    assert peak is not None and peak - before < RSS_BOUND_KB and after - before < RSS_BOUND_KB
    assert seconds < 10
    assert served.health()["stream"]["state"] == "live"  # and the service carries on


def test_the_procfile_daphne_command_refuses_the_same_way(tmp_path):
    """The Procfile's web process is plain `daphne project.asgi:application`, not `serve`."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}", "PYTHONUNBUFFERED": "1"}
    argv = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"]
    web = ServiceProcess("daphne", argv, env, tmp_path).start()
    try:
        web.wait_http(f"http://127.0.0.1:{port}/static/chart/app.js")
        before = web.rss_kb()
        assert before is not None
        reset_peak_rss(web.pid)
        answer, _ = naive_upload(port, GIB, chunked=False)
        peak = proc_status_kb(web.pid, "VmHWM")
        assert split_answer(answer)[0] == 413, answer[:300]
        assert peak is not None and peak - before < RSS_BOUND_KB
    finally:
        web.stop()


def assert_json_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    assert "<html" not in response.text.lower() and "Traceback" not in response.text
    return response.json()


def test_errors_under_api_are_json_not_html(served):
    with httpx.Client(base_url=served.base_url, timeout=10) as http:
        assert assert_json_error(http.get("/api/no-such-thing"), 404)["error"] == "not_found"
        assert assert_json_error(http.get("/api/overlays/"), 404)["error"] == "not_found"
        many = "&".join(f"p{i}=1" for i in range(1001))  # Django's TooManyFieldsSent
        assert assert_json_error(http.get(f"/api/metrics?{many}"), 400)["error"] == "bad_request"
        assert_json_error(http.get(f"/api/overlays?{many}"), 400)
        assert_json_error(http.get("/api/health", headers={"Host": "evil.example"}), 400)
        assert_json_error(http.get("/api/health?x=1", headers={"Host": "evil.example"}), 400)
        assert assert_json_error(http.post("/api/health"), 405)["error"] == "method_not_allowed"


def test_a_database_error_answers_json_500_through_django_and_the_fast_path(detailed):
    with sqlite3.connect(detailed.database, timeout=20) as db:
        db.execute("ALTER TABLE orderbook_metrics RENAME TO hostile_gone_metrics")
        db.execute("ALTER TABLE orderbook_zones_current RENAME TO hostile_gone_zones")
    with httpx.Client(base_url=detailed.base_url, timeout=10) as http:
        body = assert_json_error(http.get("/api/metrics"), 500)  # Django
        assert body["error"] == "internal_server_error"
        # the fast path's shared read may answer from before the damage for up to its TTL
        wait_until(lambda: http.get("/api/overlays").status_code == 500, 5, "a failed shared read")
        failed = http.get("/api/overlays")
        assert assert_json_error(failed, 500) == body
        assert failed.headers["x-frame-options"] == "DENY"
    assert "no such table: orderbook_metrics" in detailed.log_text()  # the traceback is in the log


SECURITY_HEADERS = {
    "x-content-type-options": {"nosniff"},
    "referrer-policy": {"same-origin", "no-referrer"},
    "x-frame-options": {"DENY"},
    "cross-origin-opener-policy": {"same-origin"},
}


def assert_security_headers(response: httpx.Response) -> None:
    for name, allowed in SECURITY_HEADERS.items():
        assert response.headers.get(name) in allowed, (response.request.url, name, response.headers)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_every_answer_carries_the_security_headers(served):
    with httpx.Client(base_url=served.base_url, timeout=10) as http:
        fast = http.get("/api/overlays")  # answered ahead of Django
        for response in (
            fast,
            http.get("/api/overlays", headers={"If-None-Match": fast.headers["etag"]}),  # fast 304
            http.head("/api/health"),
            http.get("/api/book?limit=5"),  # Django
            http.get("/api/metrics", headers={"If-None-Match": "*"}),  # Django 304
            http.get("/static/chart/app.js"),
            http.get("/api/nope"),
            http.get("/nope"),
            http.get("/api/health", headers={"Host": "evil.example"}),
            http.post("/api/overlays", content=b"x" * 70_000),  # the server's own 413
            http.get("/"),
        ):
            assert_security_headers(response)


def test_the_page_csp_allows_only_what_the_page_loads(served):
    page = httpx.get(f"{served.base_url}/", timeout=10)
    csp = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'"  # the API and /ws/overlays on the same host
    assert "unsafe" not in page.headers["content-security-policy"]
    for tag in re.findall(r"<script[^>]*>", page.text):  # no inline script but the JSON data block
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "style=" not in page.text and "<style" not in page.text
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):  # each one loads
        assert httpx.get(f"{served.base_url}{src}", timeout=10).status_code == 200, src


def test_if_none_match_star_gives_304_on_the_fast_path_and_through_django(served):
    with httpx.Client(base_url=served.base_url, timeout=10, headers={"If-None-Match": "*"}) as http:
        fast, django = http.get("/api/book"), http.get("/api/book?limit=100")
        assert (fast.status_code, django.status_code) == (304, 304)
        assert http.get("/api/overlays").status_code == http.get("/api/overlays?").status_code == 304
        assert fast.content == django.content == b""


def test_a_bad_host_costs_one_log_line(served):
    marker = uuid.uuid4().hex
    logged_before = len(served.log_text())
    response = httpx.get(
        f"{served.base_url}/api/probe-{marker}", headers={"Host": f"{marker}.example"}, timeout=10
    )
    assert response.status_code == 400
    # Django logs while it answers: the lines are there once the answer is
    since = served.log_text()[logged_before:]
    lines = [line for line in since.splitlines() if marker in line]
    assert len(lines) == 1 and len(lines[0]) < 400, lines
    assert "DisallowedHost" in lines[0] and "Traceback" not in since


def test_health_names_no_pid_and_no_simulator_url_by_default(served):
    body = httpx.get(f"{served.base_url}/api/health", timeout=10).text
    simulator = re.search(r"simulator: ws=\S+ rest=(\S+)", served.log_text())
    assert simulator is not None  # the operator still has it, in the log
    assert simulator.group(1) not in body and "simulator_url" not in body and '"pid"' not in body


def test_health_details_names_them(detailed):
    health = detailed.health()
    assert health["web"]["pid"] == detailed.process.pid
    assert health["simulator_url"].startswith("http://127.0.0.1:")
