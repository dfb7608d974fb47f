"""Defect 7: a request body over the limit is refused with 413 before it is read into
memory, whether it declares its length or streams without one."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from quietshop.settings import Settings
from quietshop.web.body_limit import BodyLimitMiddleware

LIMIT = 64 * 1024
CHUNK = 16 * 1024


class Recorder:
    """An app that reads its whole body, as FastAPI does, and notes how much it got."""

    def __init__(self) -> None:
        self.called = False
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away (or was refused)
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(
    app: Any, *, chunks: int, headers: list[tuple[bytes, bytes]], path: str = "/api/v1/x"
) -> tuple[list[Message], int]:
    """POST ``chunks`` chunks of 16 KiB; the answer's messages and how many chunks were pulled."""
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, pulled


def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    inner = Recorder()
    huge = str(200 * 1024 * 1024).encode()  # the 200 MB POST of the report
    sent, pulled = call(
        BodyLimitMiddleware(inner, LIMIT), chunks=12800, headers=[(b"content-length", huge)]
    )
    assert pulled == 0 and not inner.called
    assert sent[0]["status"] == 413
    body = json.loads(sent[1]["body"])
    assert body["error"] == "payload_too_large" and str(LIMIT) in body["detail"]


def test_a_stream_without_a_length_is_cut_off_at_the_limit() -> None:
    inner = Recorder()
    sent, pulled = call(BodyLimitMiddleware(inner, LIMIT), chunks=12800, headers=[])
    # 64 KiB is 4 chunks; the fifth passes the limit and is the last one ever pulled.
    assert pulled == 5 and inner.received == 4 * CHUNK
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]


def test_a_body_within_the_limit_reaches_the_app() -> None:
    inner = Recorder()
    sent, pulled = call(BodyLimitMiddleware(inner, LIMIT), chunks=4, headers=[])
    assert pulled == 4 and inner.received == LIMIT and sent[0]["status"] == 200


def test_an_upload_prefix_may_have_a_larger_limit() -> None:
    limited = BodyLimitMiddleware(Recorder(), LIMIT, {"/api/v1/staff/uploads": 1024 * 1024})
    sent, _ = call(limited, chunks=40, headers=[], path="/api/v1/staff/uploads/images")
    assert sent[0]["status"] == 200
    sent, _ = call(limited, chunks=40, headers=[], path="/api/v1/staff/other")
    assert sent[0]["status"] == 413


def test_the_shop_refuses_a_huge_registration_with_the_json_error(
    client: TestClient, settings: Settings
) -> None:
    body = json.dumps({"name": "A" * (2 * LIMIT), "email": "a@example.org", "password": "x"})
    response = client.post(
        "/api/v1/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    # The answer still carries the privacy headers and is logged like any other (by its
    # private prefix: no route ran to name a template).
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert '"POST /api/v1/auth/{unmatched} HTTP/1.1" 413' in settings.access_log_path.read_text()


def test_the_limit_is_a_setting(settings: Settings) -> None:
    assert settings.max_request_body_bytes == LIMIT
