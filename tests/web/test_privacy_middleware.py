"""P1, P2, P3 on every response: no cookie in or out, same-origin only, HSTS."""

from __future__ import annotations

import logging

import pytest
from fastapi import Request
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp, build_app
from quietshop.settings import Settings
from quietshop.web.privacy import CookieLeakError
from tests.catalog.factories import small_catalog

EVERY_KIND_OF_ANSWER = [
    "/",
    "/categories/cables",
    "/search?q=cable",
    "/privacy",
    "/api/v1/products",
    "/api/v1/products/NOPE",
    "/api/openapi.json",
    "/api/docs",
    "/static/style.css",
    "/no/such/page",
    "/categories/cables?page=0",
]


@pytest.mark.parametrize("path", EVERY_KIND_OF_ANSWER)
def test_security_headers_on_every_answer(db: Session, client: TestClient, path: str) -> None:
    small_catalog(db)
    response = client.get(path)
    headers = response.headers
    assert "set-cookie" not in headers
    assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "camera=()" in headers["permissions-policy"]
    assert "cache-control" in headers


def test_incoming_cookies_never_reach_a_handler(
    assembled: AssembledApp, client: TestClient
) -> None:
    @assembled.fastapi.get("/echo-cookies")
    def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(repr(dict(request.cookies)) + request.headers.get("cookie", "-"))

    response = client.get("/echo-cookies", headers={"Cookie": "session=abc; tracking=xyz"})
    assert response.text == "{}-"


def test_a_set_cookie_fails_loudly_in_strict_mode(
    assembled: AssembledApp, client: TestClient
) -> None:
    @assembled.fastapi.get("/sets-cookie")
    def sets_cookie() -> PlainTextResponse:
        response = PlainTextResponse("hello")
        response.set_cookie("tracker", "1")
        return response

    with pytest.raises(CookieLeakError):
        client.get("/sets-cookie")


def test_a_set_cookie_is_stripped_and_logged_in_production(
    settings: Settings, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    production = build_app(settings.model_copy(update={"strict_privacy_guard": False}), sessions)

    @production.fastapi.get("/sets-cookie")
    def sets_cookie() -> PlainTextResponse:
        response = PlainTextResponse("hello")
        response.set_cookie("tracker", "1")
        return response

    with caplog.at_level(logging.ERROR, logger="quietshop.privacy"), TestClient(production) as c:
        response = c.get("/sets-cookie")
    assert response.status_code == 200 and response.text == "hello"
    assert "set-cookie" not in response.headers
    assert "stripped a Set-Cookie" in caplog.text
    assert production.access_log is not None
    production.access_log.close()


def test_routes_cannot_weaken_the_security_headers(
    assembled: AssembledApp, client: TestClient
) -> None:
    @assembled.fastapi.get("/weak")
    def weak() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"content-security-policy": "default-src *"})

    assert client.get("/weak").headers["content-security-policy"].startswith("default-src 'self'")


def test_private_answers_are_not_stored_and_public_ones_are(
    db: Session, client: TestClient
) -> None:
    small_catalog(db)
    assert client.get("/api/v1/products/NOPE").headers["cache-control"] == "no-store"
    assert client.get("/categories/cables").headers["cache-control"] == "public, max-age=60"


def test_framework_telemetry_stays_off_whatever_the_environment(
    settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # FastAPI's native OpenTelemetry would export request paths and client addresses.
    monkeypatch.setenv("FASTAPI_OTEL_AUTO_CONFIGURE", "true")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    app = build_app(settings, sessions)
    config = app.fastapi._telemetry
    assert not any(config[k] for k in ("tracing", "metrics", "logs", "auto_configure"))
    assert app.fastapi._native_telemetry.enabled() is False
    if app.access_log is not None:
        app.access_log.close()
