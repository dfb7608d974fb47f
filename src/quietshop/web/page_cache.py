"""Whole-page cache for public pages, which are the same for everyone who looks.

A route marks a page cacheable by answering ``Cache-Control: public, ...`` and names what
the page shows in ``x-cache-tags`` (space-separated, e.g. ``product:CBL-1 listings``);
the header is read here, kept beside the page and never sent on. This middleware keeps
such answers in memory by exact path and query, serves repeats without entering the
application, and answers ``If-None-Match`` with 304.

Pages are dropped as the catalog's change log says: each change names the tags whose
pages show it, or says it changes everything (then untagged pages go too). A sale thus
drops that product's pages, not every page. The log lives in the database, so a change
made by any process reaches every process within ``check_interval`` seconds (and at once
in the process that made it, which calls ``poll_soon`` after its commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_ENTRIES = 4096
MAX_KEY_LENGTH = 2048
TAGS_HEADER = b"x-cache-tags"

# On PostgreSQL change ids are handed out at insert and become visible at commit, so
# id 101 may appear after 102: a missing id is asked for again ("a gap") until it shows
# up or this many seconds pass (a rolled-back transaction leaves its id unused for good).
GAP_PATIENCE = 120.0
MAX_GAPS = 1000
# A new watch starts this many ids back, to learn the gaps a still-running transaction
# may fill; replaying those changes on an empty cache costs nothing.
STARTUP_WINDOW = 1000
# Invalidations remembered for put() to judge a page built while they arrived.
RECENT_INVALIDATIONS = 1024
# Keys whose last render was kept, remembered past their page's drop: a miss on one of them
# is a page the cache will keep again, so concurrent misses wait for one render.
KNOWN_KEYS = 4 * MAX_ENTRIES
# A request waits at most this long for another request's render of the same page, then
# renders it itself: a slow page never holds its waiters hostage.
RENDER_WAIT_SECONDS = 2.0


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


@dataclass(frozen=True)
class CachedPage:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes
    tags: frozenset[str] = frozenset()

    @cached_property
    def headers_with_length(self) -> list[tuple[bytes, bytes]]:
        return [*self.headers, (b"content-length", str(len(self.body)).encode())]


# ---------------------------------------------------------------- the change log, read


class Change(Protocol):
    """One committed catalog change, as the domain that keeps the log hands it over."""

    @property
    def id(self) -> int: ...
    @property
    def tags(self) -> frozenset[str]: ...
    @property
    def everything(self) -> bool: ...


class ChangeFeed(Protocol):
    """What one read of the log says: the changes after an id (and the gaps asked for),
    the highest id in the log, and the highest id pruned away."""

    @property
    def changes(self) -> Sequence[Change]: ...
    @property
    def last_id(self) -> int: ...
    @property
    def pruned_through(self) -> int: ...


# read(after_id, gaps): the changes with id > after_id or id in gaps, in id order;
# read(None, ()): no changes, only last_id and pruned_through.
ReadChanges = Callable[[int | None, Collection[int]], ChangeFeed]


@dataclass(frozen=True)
class Invalidation:
    """Drop the pages carrying any of ``tags``, or every page."""

    tags: frozenset[str] = frozenset()
    everything: bool = False

    def touches(self, tags: frozenset[str]) -> bool:
        return self.everything or not self.tags.isdisjoint(tags)


class CatalogChangeWatch:
    """Reads the change log at most every ``check_interval`` seconds and tells its
    listeners what to drop. ``generation`` counts whole-catalog changes, for memos of
    what the whole catalog implies (category tree, search vocabulary)."""

    def __init__(
        self,
        read_changes: ReadChanges,
        check_interval: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        gap_patience: float = GAP_PATIENCE,
    ) -> None:
        self._read = read_changes
        self._interval = check_interval
        self._monotonic = monotonic
        self._gap_patience = gap_patience
        self._checked_at = -math.inf
        self._last_id: int | None = None
        self._gaps: dict[int, float] = {}  # id -> when to stop asking for it
        self._generation = 0
        self._listeners: list[Callable[[Invalidation], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[Invalidation], None]) -> None:
        self._listeners.append(listener)

    def poll_soon(self) -> None:
        """This process changed the catalog: read the log at the next look."""
        self._checked_at = -math.inf

    def check(self) -> None:
        """Read the log if the interval has passed, unless another thread is reading it.

        Never waits for that thread: callers hold a pooled connection (a route's session,
        in which the memo asks for the generation) and the reader needs one more. Waiting,
        one worker's threads once held all fifteen connections while queued behind a
        reader that waited for a sixteenth, and every request stalled until the pool's
        30 s timeout. Not waiting, a caller answers with what the last read found (at
        most one interval old, as between any two reads)."""
        now = self._monotonic()
        if now - self._checked_at < self._interval:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is reading the log now
        try:
            if now - self._checked_at < self._interval:
                return  # another thread read the log just before this one
            self._poll(now)
            self._checked_at = now
        finally:
            self._lock.release()

    def generation(self) -> int:
        """How many whole-catalog changes this watch has seen (checking first)."""
        self.check()
        return self._generation

    @property
    def last_id(self) -> int | None:
        return self._last_id

    @property
    def gaps(self) -> frozenset[int]:
        return frozenset(self._gaps)

    def _poll(self, now: float) -> None:
        if self._last_id is None:
            start = self._read(None, ())
            self._last_id = max(start.pruned_through, start.last_id - STARTUP_WINDOW)
        seen = self._last_id
        invalidation = self._replay(self._read(seen, tuple(self._gaps)), seen, now)
        if invalidation is None:
            return
        if invalidation.everything:
            self._generation += 1
        for listener in self._listeners:
            listener(invalidation)

    def _replay(self, feed: ChangeFeed, seen: int, now: float) -> Invalidation | None:
        # Pruned past what this watch has seen (or past a gap it waits for): changes may
        # be gone unread, so everything goes.
        everything = feed.pruned_through > seen
        for gap in [gap for gap in self._gaps if gap <= feed.pruned_through]:
            del self._gaps[gap]
            everything = True
        tags: set[str] = set()
        last = seen
        for change in feed.changes:
            if change.id > last:
                for missing in range(max(last, change.id - MAX_GAPS) + 1, change.id):
                    self._gaps[missing] = now + self._gap_patience
                last = change.id
            else:
                self._gaps.pop(change.id, None)  # a gap filled by a late commit
            everything = everything or change.everything
            tags.update(change.tags)
        self._last_id = last
        self._forget_old_gaps(now)
        if not everything and not tags:
            return None
        return Invalidation(frozenset() if everything else frozenset(tags), everything)

    def _forget_old_gaps(self, now: float) -> None:
        for gap in [gap for gap, until in self._gaps.items() if until <= now]:
            del self._gaps[gap]
        if len(self._gaps) > MAX_GAPS:
            for gap in sorted(self._gaps)[: len(self._gaps) - MAX_GAPS]:
                del self._gaps[gap]


# ---------------------------------------------------------------- the cache


class PageCache:
    def __init__(self, watch: CatalogChangeWatch, max_entries: int = MAX_ENTRIES) -> None:
        self._watch = watch
        self._max_entries = max_entries
        self._pages: OrderedDict[str, CachedPage] = OrderedDict()
        self._keys_by_tag: dict[str, set[str]] = {}
        # Rises with every invalidation; a page remembers the epoch it was started in.
        self._epoch = 0
        self._recent: deque[tuple[int, Invalidation]] = deque(maxlen=RECENT_INVALIDATIONS)
        self._lock = threading.Lock()
        self._known: OrderedDict[str, None] = OrderedDict()
        watch.subscribe(self._invalidate)

    def _invalidate(self, invalidation: Invalidation) -> None:
        with self._lock:
            self._epoch += 1
            self._recent.append((self._epoch, invalidation))
            if invalidation.everything:
                self._pages.clear()
                self._keys_by_tag.clear()
                return
            for tag in invalidation.tags:
                for key in self._keys_by_tag.pop(tag, set()):
                    self._drop(key)

    def _drop(self, key: str) -> None:
        page = self._pages.pop(key, None)
        if page is None:
            return
        for tag in page.tags:
            keys = self._keys_by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_tag[tag]

    def get(self, key: str) -> CachedPage | None:
        self._watch.check()
        page = self._pages.get(key)
        if page is not None:
            with self._lock:
                if key in self._pages:
                    self._pages.move_to_end(key)
        return page

    def put(self, key: str, page: CachedPage, version_seen: int) -> None:
        """Keep ``page``, built from what the catalog was at epoch ``version_seen``,
        unless a change that touches it arrived meanwhile."""
        with self._lock:
            if self._outdated(page.tags, version_seen):
                return
            self._drop(key)
            self._pages[key] = page
            self._known[key] = None
            self._known.move_to_end(key)
            if len(self._known) > KNOWN_KEYS:
                self._known.popitem(last=False)
            for tag in page.tags:
                self._keys_by_tag.setdefault(tag, set()).add(key)
            while len(self._pages) > self._max_entries:
                self._drop(next(iter(self._pages)))

    def _outdated(self, tags: frozenset[str], version_seen: int) -> bool:
        if version_seen == self._epoch:
            return False
        if version_seen > self._epoch or not self._recent or self._recent[0][0] > version_seen + 1:
            return True  # the remembered invalidations do not reach back that far
        return any(inv.touches(tags) for epoch, inv in self._recent if epoch > version_seen)

    def kept_before(self, key: str) -> bool:
        """Whether a render of ``key`` was kept since it was last evicted from memory: the
        page is cacheable, so waiting for another request's render of it pays off."""
        return key in self._known

    @property
    def version(self) -> int:
        return self._epoch

    @property
    def watch(self) -> CatalogChangeWatch:
        return self._watch

    def tags_of(self, key: str) -> frozenset[str] | None:
        """The tags a cached page was stored with (None: not cached); the client never
        sees them, so tests of what a route tags look here."""
        page = self._pages.get(key)
        return None if page is None else page.tags

    def __len__(self) -> int:
        return len(self._pages)

    def __contains__(self, key: object) -> bool:
        return key in self._pages


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
    """Serves cached public pages; stores 200 answers that say ``Cache-Control: public``.

    A whole-catalog change (a product renamed) drops every page at once, and the 32
    connections on the shop's busiest page then all missed it together and rendered it 32
    times (bench/results.md: the cached page fell to 0.59 of its rate). So concurrent misses
    of a page the cache kept before wait, on the event loop, for the first one's render and
    are answered from the cache; misses of other pages (private ones included) never wait.
    """

    def __init__(self, app: ASGIApp, cache: PageCache | None) -> None:
        self.app = app
        self.cache = cache
        self._renders: dict[str, asyncio.Event] = {}  # key -> set once its render is kept

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
            if self.cache.kept_before(key):
                await self._fill_once(scope, receive, send, key)
                return
        await self._fill(scope, receive, send, key)

    async def _fill_once(self, scope: Scope, receive: Receive, send: Send, key: str) -> None:
        """Render ``key`` unless another request is rendering it: then wait for that render
        and answer from the cache (or render after all, if it was not kept)."""
        assert self.cache is not None
        render = self._renders.get(key)
        if render is None:
            render = self._renders[key] = asyncio.Event()
            try:
                await self._fill(scope, receive, send, key, render)
            finally:
                render.set()
                if self._renders.get(key) is render:
                    del self._renders[key]
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(render.wait(), RENDER_WAIT_SECONDS)
        page = self.cache.get(key)
        if page is not None:
            await _send_page(page, scope, send)
        else:  # not kept (a change arrived during the render, or an error): render it here
            await self._fill(scope, receive, send, key)

    async def _fill(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: str | None,
        render: asyncio.Event | None = None,
    ) -> None:
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
                # The tags are for this cache alone, whatever the answer.
                await send({**message, "headers": _without(headers, (TAGS_HEADER,))})
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    page = _page_from(start, b"".join(chunks))
                    if self.cache is not None and key is not None:
                        self.cache.put(key, page, version_seen)
                    if render is not None:
                        render.set()  # waiters need not wait for this client's send
                    await _send_page(page, scope, send)
            elif start is not None and message["type"] == "http.response.pathsend":
                # A file sent by the server itself (granian's pathsend): pass it on, uncached.
                await send({**start, "headers": _without(start["headers"], (TAGS_HEADER,))})
                await send({"type": "http.response.body", "body": b""} if head else message)
            elif head and message["type"] == "http.response.body":
                await send({**message, "body": b""})
            else:
                await send(message)

        await self.app(app_scope, receive, buffer)


def _without(
    headers: list[tuple[bytes, bytes]], names: tuple[bytes, ...]
) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() not in names]


def _page_from(start: Message, body: bytes) -> CachedPage:
    etag = strong_etag(body).encode()
    raw_headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
    tags = frozenset(
        tag
        for k, v in raw_headers
        if k.lower() == TAGS_HEADER
        for tag in v.decode("latin-1").split()
    )
    headers = _without(raw_headers, (b"etag", b"content-length", TAGS_HEADER))
    headers.append((b"etag", etag))
    return CachedPage(status=start["status"], headers=headers, body=body, etag=etag, tags=tags)


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
