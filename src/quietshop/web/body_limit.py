"""Request bodies have a size limit, enforced before anything is read into memory.

A declared ``Content-Length`` over the limit is answered 413 without calling the app or
reading a byte. A body without a length (chunked, HTTP/2) is counted as it streams in:
the moment it passes the limit the client gets the 413 and the app sees a disconnect, so
at most one chunk beyond the limit is ever held. The limit is a setting, with larger
limits for the path prefixes that will take uploads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def too_large_answer(limit: int) -> tuple[Message, Message]:
    """The 413 with the API's error body, as the two ASGI messages that send it."""
    body = json.dumps(
        {
            "error": "payload_too_large",
            "detail": f"The request body is larger than {limit} bytes; nothing was changed.",
        }
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, default_limit: int, limits_by_prefix: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        # Longest prefix first, so /api/v1/staff/uploads wins over /api/v1/staff.
        self.limits = sorted((limits_by_prefix or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            for message in too_large_answer(limit):
                await send(message)
            return
        await _CountingCall(self.app, limit).run(scope, receive, send)


class _CountingCall:
    """One request whose body is counted as it arrives."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.received = 0
        self.refused = False
        self.started = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            if self.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.limit:
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if self.refused:
                return  # the client already has its 413; whatever the app says is dropped
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not self.refused:
                raise
            # The app stumbled over the disconnect we gave it; the 413 is already sent.

    async def _refuse(self, send: Send) -> None:
        self.refused = True
        if self.started:
            return  # too late for a 413: just stop reading
        for message in too_large_answer(self.limit):
            await send(message)
