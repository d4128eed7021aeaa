"""What every answer promises, whichever layer gives it: JSON errors under /api/, the security
headers, the page's CSP, `If-None-Match: *`, health without pid or simulator URL by default, and one
log line for a request Django refuses as suspicious."""

from __future__ import annotations

import dataclasses
import logging

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db.utils import OperationalError
from django.test import Client

from apps.book.models import PublishedBook
from apps.book.selectors import health_document
from apps.core.rejected_requests import OneLinePerRejectedRequest
from apps.core.security_headers import PAGE_CSP, SECURITY_HEADERS
from apps.overlays import fast_path, views
from project.asgi import application
from tests.web.conftest import SYMBOL, make_published


def assert_headers(response) -> None:
    for name, value in SECURITY_HEADERS:
        if name != "Content-Security-Policy":
            assert response.headers[name] == value, name
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert_headers(response)
    return response.json()


@pytest.mark.django_db
def test_unknown_api_paths_answer_json_404_and_other_paths_keep_django_pages(client):
    assert assert_json_error(client.get("/api/nope"), 404) == {
        "error": "not_found",
        "detail": "no such endpoint; GET /api/schema lists them",
    }
    page = client.get("/nope")
    assert page.status_code == 404 and "json" not in page.headers["Content-Type"]
    assert_headers(page)


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_exception_answers_json_500_without_a_traceback_even_with_debug(settings, monkeypatch, debug):
    settings.DEBUG = debug

    def broken(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(views.selectors, "metrics", broken)
    response = Client(raise_request_exception=False).get("/api/metrics")
    body = assert_json_error(response, 500)
    assert body["error"] == "internal_server_error" and "locked" not in response.content.decode()


@pytest.mark.django_db
def test_too_many_query_parameters_and_a_bad_host_answer_json_400(client):
    many = "&".join(f"p{i}=1" for i in range(1001))
    assert assert_json_error(client.get(f"/api/metrics?{many}"), 400)["error"] == "bad_request"
    assert_json_error(client.get("/api/metrics", HTTP_HOST="evil.example"), 400)


@pytest.mark.django_db
def test_an_endpoints_own_json_error_passes_unchanged(client):
    response = client.post("/api/metrics")
    assert (
        assert_json_error(response, 405)["error"] == "method_not_allowed" and response["Allow"] == "GET, HEAD"
    )


@pytest.mark.django_db
def test_the_chart_page_has_its_own_csp(client):
    response = client.get("/")
    assert response.status_code == 200 and response["Content-Security-Policy"] == PAGE_CSP
    assert_headers(response)


def asgi_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://127.0.0.1")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_fast_path_agrees_with_django_on_if_none_match_star_and_headers():
    await sync_to_async(make_published)()
    async with asgi_client() as http:
        for path in ("/api/book", "/api/book?limit=100"):  # the fast path, then Django
            fresh = await http.get(path)
            assert fresh.status_code == 200
            assert_headers(fresh)
            star = await http.get(path, headers={"If-None-Match": "*"})
            assert star.status_code == 304 and star.content == b""
            assert_headers(star)
            weak = await http.get(path, headers={"If-None-Match": f"W/{fresh.headers['etag']}"})
            assert weak.status_code == 304
            other = await http.get(path, headers={"If-None-Match": '"other"'})
            assert other.status_code == 200


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_failed_hot_read_answers_json_500(monkeypatch):
    async def broken(symbol: str):
        raise OperationalError("no such table: orderbook_published")

    monkeypatch.setitem(fast_path.ROUTES, "/api/book", broken)
    monkeypatch.setattr(application.application_mapping["http"], "routes", dict(fast_path.ROUTES))
    async with asgi_client() as http:
        response = await http.get("/api/book")
    body = assert_json_error(response, 500)
    assert body["error"] == "internal_server_error" and "orderbook" not in response.text


@pytest.mark.django_db
def test_health_shows_pid_and_simulator_url_only_with_details(client, settings):
    make_published()
    PublishedBook.objects.update(health={"reconnects": 0, "simulator_url": "http://127.0.0.1:9"})
    hidden = health_document(SYMBOL, details=False)
    assert "simulator_url" not in hidden and "simulator_url" not in hidden["stream"]
    shown = health_document(SYMBOL, details=True)
    assert shown["simulator_url"] == shown["stream"]["simulator_url"] == "http://127.0.0.1:9"
    assert "pid" not in client.get("/api/health").json()["web"]
    settings.CONFIG = dataclasses.replace(settings.CONFIG, health_details=True)
    assert client.get("/api/health").json()["web"]["pid"] > 0


def record(name: str, message: str, request: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(message)
        except ValueError as error:
            exc_info = (type(error), error, error.__traceback__)
    made = logging.getLogger(name).makeRecord(name, logging.ERROR, __file__, 1, message, None, exc_info)
    made.request = request
    made.status_code = 400
    return made


def test_a_refused_request_keeps_one_line_without_traceback():
    one_line = OneLinePerRejectedRequest()
    request = type("Request", (), {"method": "GET", "path": "/api/x\n"})()
    other = type("Request", (), {"method": "GET", "path": "/api/y"})()
    security = record("django.security.DisallowedHost", "Invalid HTTP_HOST header: 'e'.", request, exc=True)
    assert one_line.filter(security) and security.exc_info is None
    line = logging.Formatter("%(name)s %(message)s").format(security)
    assert line == "django.security.DisallowedHost Invalid HTTP_HOST header: 'e'. (GET '/api/x\\n')"
    assert not one_line.filter(record("django.request", "Bad Request: /api/x", request))
    assert one_line.filter(
        record("django.request", "Bad Request: /api/y", other)
    )  # not refused as suspicious
