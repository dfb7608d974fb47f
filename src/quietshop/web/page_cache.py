"""Whole-page cache for public pages, which are the same for everyone who looks.

A route marks a page cacheable by answering ``Cache-Control: public, ...``. This
middleware keeps such answers in memory by exact path and query, serves repeats
without entering the application, and answers ``If-None-Match`` with 304. Every
page is dropped when the catalog version changes; the version lives in the
database so a change made by any process reaches every process within
``check_interval`` seconds (and at once in the process that made it).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ENTRIES = 4096
MAX_KEY_LENGTH = 2048


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


@dataclass(frozen=True)
class CachedPage:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes

    @cached_property
    def headers_with_length(self) -> list[tuple[bytes, bytes]]:
        return [*self.headers, (b"content-length", str(len(self.body)).encode())]


class CatalogVersionWatch:
    """Asks ``read_version`` for the shared version at most every ``check_interval`` seconds."""

    def __init__(self, read_version: Callable[[], int], check_interval: float) -> None:
        self._read_version = read_version
        self._interval = check_interval
        self._checked_at = -1e18
        self._version = -1
        self._lock = threading.Lock()

    def current(self) -> int:
        now = time.monotonic()
        if now - self._checked_at >= self._interval:
            with self._lock:
                self._version = self._read_version()
                self._checked_at = now
        return self._version


class PageCache:
    def __init__(self, watch: CatalogVersionWatch, max_entries: int = MAX_ENTRIES) -> None:
        self._watch = watch
        self._max_entries = max_entries
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()
        self._version = -1
        self._lock = threading.Lock()

    def _sync_version(self) -> None:
        version = self._watch.current()
        if version != self._version:
            with self._lock:
                self._pages.clear()
                self._version = version

    def get(self, key: str) -> CachedPage | None:
        self._sync_version()
        page = self._pages.get(key)
        if page is not None:
            with self._lock:
                if key in self._pages:
                    self._pages.move_to_end(key)
        return page

    def put(self, key: str, page: CachedPage, version_seen: int) -> None:
        with self._lock:
            if version_seen != self._version:
                return  # built from an older catalog; do not keep it
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self._max_entries:
                self._pages.popitem(last=False)

    @property
    def version(self) -> int:
        return self._version

    def __len__(self) -> int:
        return len(self._pages)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _cache_key(scope: Scope) -> str | None:
    query: bytes = scope.get("query_string", b"")
    key = scope["path"] + ("?" + query.decode("latin-1") if query else "")
    return key if len(key) <= MAX_KEY_LENGTH else None


class PageCacheMiddleware:
    """Serves cached public pages; stores 200 answers that say ``Cache-Control: public``."""

    def __init__(self, app: ASGIApp, cache: PageCache | None) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        key = _cache_key(scope) if self.cache is not None else None
        if self.cache is not None and key is not None:
            page = self.cache.get(key)
            if page is not None:
                await _send_page(page, scope, send)
                return
        await self._fill(scope, receive, send, key)

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: str | None) -> None:
        """Run the app, buffer a public answer, add its ETag, keep it, then send it.

        A HEAD runs as a GET (FastAPI routes answer GET only) and its body is dropped.
        """
        head = scope["method"] == "HEAD"
        app_scope = {**scope, "method": "GET"} if head else scope
        version_seen = self.cache.version if self.cache is not None else -1
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if message["status"] == 200 and b"public" in (
                    _header(headers, b"cache-control") or b""
                ):
                    start = message
                    return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    page = _page_from(start, b"".join(chunks))
                    if self.cache is not None and key is not None:
                        self.cache.put(key, page, version_seen)
                    await _send_page(page, scope, send)
            elif start is not None and message["type"] == "http.response.pathsend":
                # A file sent by the server itself (granian's pathsend): pass it on, uncached.
                await send(start)
                await send({"type": "http.response.body", "body": b""} if head else message)
            elif head and message["type"] == "http.response.body":
                await send({**message, "body": b""})
            else:
                await send(message)

        await self.app(app_scope, receive, buffer)


def _page_from(start: Message, body: bytes) -> CachedPage:
    etag = strong_etag(body).encode()
    headers = [
        (k, v) for k, v in start.get("headers", []) if k.lower() not in (b"etag", b"content-length")
    ]
    headers.append((b"etag", etag))
    return CachedPage(status=start["status"], headers=headers, body=body, etag=etag)


def _if_none_match(scope: Scope) -> bytes | None:
    return _header(scope.get("headers", []), b"if-none-match")


async def _send_page(page: CachedPage, scope: Scope, send: Send) -> None:
    wanted = _if_none_match(scope)
    if wanted is not None and page.etag in (t.strip() for t in wanted.split(b",")):
        await send({"type": "http.response.start", "status": 304, "headers": page.headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {"type": "http.response.start", "status": page.status, "headers": page.headers_with_length}
    )
    body = b"" if scope["method"] == "HEAD" else page.body
    await send({"type": "http.response.body", "body": body})
