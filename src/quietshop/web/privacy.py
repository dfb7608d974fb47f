"""The privacy middleware: no cookies in or out (P1), same-origin only (P2), HSTS (P3),
and an access log that names no one (P5): a private route's line shows a visitor hash,
or "-", where a public one shows the client's address.

It wraps the whole application, outside Starlette's error handling, so every answer,
a 500 included, carries the headers and is logged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quietshop.clock import Clock
from quietshop.web.access_log import LogPolicy, format_line
from quietshop.web.forwarded import UNKNOWN, client_address

logger = logging.getLogger("quietshop.privacy")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=(), browsing-topics=()"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


# (client address, User-Agent, the line's time) -> what a private route's line shows in the
# address field: the day's visitor hash (analytics/, handed over by app.py), which no one
# can recompute once its day's salt is destroyed, or "-".
PrivateClient = Callable[[str, str, datetime], str]
# What may stand in that field: one token of a few characters, so an answer can never
# forge or shift the line's other fields.
_CLIENT_FIELD = re.compile(r"[A-Za-z0-9.:_-]{1,64}")


def _forwarded_client(scope: Scope, proxies: tuple[str, ...]) -> tuple[str, int] | None:
    """The scope's client, or the one a trusted proxy's X-Forwarded-For names."""
    peer = scope.get("client")
    if not peer:
        return None
    forwarded = b",".join(v for k, v in scope["headers"] if k.lower() == b"x-forwarded-for")
    address = client_address(peer[0], forwarded.decode("latin-1"), proxies)
    return (address, peer[1]) if address != UNKNOWN else peer


class CookieLeakError(RuntimeError):
    """A response tried to set a cookie. Raised in strict mode (tests)."""


def _header_value(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    for key, value in headers:
        if key == name:
            return value
    return b""


def _response_headers(
    headers: list[tuple[bytes, bytes]], strict: bool
) -> list[tuple[bytes, bytes]]:
    kept: list[tuple[bytes, bytes]] = []
    has_cache_control = False
    for key, value in headers:
        lower = key.lower()
        if lower == b"set-cookie":
            if strict:
                raise CookieLeakError(f"a response tried to set a cookie: {value[:40]!r}")
            logger.error("stripped a Set-Cookie header from a response (promise P1)")
            continue
        if lower in _SECURITY_HEADER_NAMES:
            continue  # ours win; a route cannot weaken them
        has_cache_control = has_cache_control or lower == b"cache-control"
        kept.append((lower, value))
    kept.extend(SECURITY_HEADERS)
    if not has_cache_control:
        kept.append((b"cache-control", b"no-store"))  # private unless a route says public
    return kept


class PrivacyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        strict: bool,
        write_log: Callable[[str], None] | None,
        log_policy: LogPolicy,
        clock: Clock,
        private_client: PrivateClient | None = None,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.strict = strict
        self.write_log = write_log
        self.log_policy = log_policy
        self.clock = clock
        self.private_client = private_client
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # P1: the handlers never see a cookie, whatever the browser sends.
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"cookie"]
        if self.trusted_proxies:
            # Behind a proxy of ours, the client it names is the client: for the log line
            # and for every limit keyed by address (request.client reads this).
            scope["client"] = _forwarded_client(scope, self.trusted_proxies)
        status = 500
        sent_bytes = 0
        declared_bytes = 0

        async def guarded_send(message: Message) -> None:
            nonlocal status, sent_bytes, declared_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                length = _header_value(message.get("headers", []), b"content-length")
                declared_bytes = int(length) if length.isdigit() else 0
                message = {
                    **message,
                    "headers": _response_headers(list(message.get("headers", [])), self.strict),
                }
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
            elif message["type"] == "http.response.pathsend":
                sent_bytes = declared_bytes  # the server sends the file; trust its length
            await send(message)

        # A duration, not a moment: the monotonic counter, not the injectable clock.
        started = time.perf_counter()
        try:
            await self.app(scope, receive, guarded_send)
        finally:
            if self.write_log is not None:
                seconds = time.perf_counter() - started
                self.write_log(self._log_line(scope, status, sent_bytes, seconds))

    def _log_line(self, scope: Scope, status: int, sent_bytes: int, seconds: float) -> str:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")
        when = self.clock()
        user_agent = _header_value(headers, b"user-agent").decode("latin-1") or "-"
        client_ip = client[0] if client else "-"
        if self.log_policy.private_prefix(scope["path"]) is not None:
            client_ip = self._private_client(client_ip, user_agent, when)
        return format_line(
            client_ip=client_ip,
            when=when,
            method=scope["method"],
            target=self.log_policy.target(scope["path"], query, template),
            http_version=scope.get("http_version", "1.1"),
            status=status,
            sent_bytes=sent_bytes,
            referrer=self.log_policy.referrer(_header_value(headers, b"referer").decode("latin-1")),
            user_agent=user_agent,
            seconds=seconds,
        )

    def _private_client(self, client_ip: str, user_agent: str, when: datetime) -> str:
        """A private route's line never holds the address (P5): the visitor hash, or "-"
        when there is none (no hasher, or it failed)."""
        if self.private_client is None or client_ip == "-":
            return "-"
        try:
            shown = self.private_client(client_ip, user_agent, when)
        except Exception:
            logger.exception("no visitor hash for an access-log line; '-' written")
            return "-"
        return shown if _CLIENT_FIELD.fullmatch(shown) and shown != client_ip else "-"
