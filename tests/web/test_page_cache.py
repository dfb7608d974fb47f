"""The whole-page cache: strong ETags, 304s, and invalidation when the catalog changes."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quietshop.app import AssembledApp
from quietshop.catalog import service
from quietshop.web import page_cache
from quietshop.web.page_cache import (
    CachedPage,
    CatalogChangeWatch,
    PageCache,
    PageCacheMiddleware,
)
from tests.catalog.factories import make_product, small_catalog
from tests.web.test_page_cache_tags import FakeLog


def test_public_pages_get_a_strong_etag_and_304(db: Session, client: TestClient) -> None:
    small_catalog(db)
    first = client.get("/categories/cables")
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get("/categories/cables", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = client.get("/categories/cables", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_repeat_requests_are_served_from_memory(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    small_catalog(db)
    assert assembled.page_cache is not None
    client.get("/categories/tools")
    assert len(assembled.page_cache) == 1
    assert client.get("/categories/tools").status_code == 200
    assert len(assembled.page_cache) == 1


def test_a_catalog_change_drops_cached_pages(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    catalog = small_catalog(db)
    before = client.get("/categories/tools")
    make_product(db, catalog.tools, name="Punch Down Tool", price_cents=999)
    db.commit()
    after = client.get("/categories/tools")
    assert "Punch Down Tool" in after.text
    assert after.headers["etag"] != before.headers["etag"]


def test_a_change_made_by_another_process_is_seen(
    db: Session, client: TestClient, connection: Connection
) -> None:
    small_catalog(db)
    client.get("/categories/tools")
    # Another process's sessions: this app hears of the change only through the log.
    elsewhere = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    product = service.list_products(db, service.ListingQuery(category="tools")).items[0]
    with elsewhere() as session:
        service.set_product_active(session, product.sku, False)
        session.commit()
    assert product.name not in client.get("/categories/tools").text


def test_private_and_error_answers_are_never_cached(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    small_catalog(db)
    client.get("/products/nope")
    client.get("/categories/cables?page=0")
    assert assembled.page_cache is not None and len(assembled.page_cache) == 0


def test_cache_size_is_bounded() -> None:
    cache = PageCache(CatalogChangeWatch(FakeLog().read, 0), max_entries=3)
    cache.get("warm-up")
    for i in range(10):
        cache.put(f"/p{i}", CachedPage(200, [], b"x", b'"e"'), cache.version)
    assert len(cache) == 3 and cache.get("/p9") is not None and cache.get("/p0") is None


def test_pages_built_from_an_old_catalog_are_not_kept() -> None:
    log = FakeLog()
    cache = PageCache(CatalogChangeWatch(log.read, 0))
    cache.get("/x")
    seen = cache.version
    log.add(everything=True)
    cache.get("/y")  # the catalog changed while /x was being built
    cache.put("/x", CachedPage(200, [], b"old", b'"o"'), seen)
    assert cache.get("/x") is None


# ---------------------------------------------------------------- one render per page


class _SlowPages:
    """An ASGI app whose GET answers wait for ``gate``; counts the renders of each path.
    Paths under /private answer without ``Cache-Control: public``."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.renders: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.renders[scope["path"]] += 1
        await self.gate.wait()
        public = not scope["path"].startswith("/private")
        headers = [(b"cache-control", b"public, max-age=60" if public else b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": f"page {scope['path']}".encode()})


async def _get(app: ASGIApp, path: str) -> tuple[int, bytes]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


async def _concurrently(app: ASGIApp, pages: _SlowPages, path: str, n: int) -> list[bytes]:
    requests = [asyncio.create_task(_get(app, path)) for _ in range(n)]
    await asyncio.sleep(0)  # every request has missed and is rendering or waiting
    await asyncio.sleep(0)
    pages.gate.set()
    answers = await asyncio.gather(*requests)
    pages.gate.clear()
    return [body for _status, body in answers]


def _dropped_everything(log: FakeLog, cache: PageCache) -> None:
    log.add(everything=True)
    cache.watch.poll_soon()
    cache.get("/after-the-change")  # reads the log: every page goes


def test_concurrent_misses_of_a_kept_page_wait_for_one_render() -> None:
    log = FakeLog()
    cache = PageCache(CatalogChangeWatch(log.read, 3600))
    pages = _SlowPages()
    app = PageCacheMiddleware(pages, cache)

    async def scenario() -> tuple[list[bytes], list[bytes]]:
        first = await _concurrently(app, pages, "/products/a", 1)
        _dropped_everything(log, cache)
        after_the_drop = await _concurrently(app, pages, "/products/a", 20)
        return first, after_the_drop

    first, after_the_drop = asyncio.run(scenario())
    assert first == [b"page /products/a"]
    assert after_the_drop == [b"page /products/a"] * 20
    assert pages.renders["/products/a"] == 2  # the first fill, then one for all twenty


def test_misses_of_pages_never_kept_do_not_wait_for_each_other() -> None:
    """Private answers (and pages not yet known to be cacheable) render once per request:
    one customer's request never waits on another's."""
    cache = PageCache(CatalogChangeWatch(FakeLog().read, 3600))
    pages = _SlowPages()
    app = PageCacheMiddleware(pages, cache)

    async def scenario() -> None:
        await _concurrently(app, pages, "/private/orders", 5)
        await _concurrently(app, pages, "/private/orders", 5)
        await _concurrently(app, pages, "/products/new", 3)

    asyncio.run(scenario())
    assert pages.renders["/private/orders"] == 10
    assert pages.renders["/products/new"] == 3
    assert not cache.kept_before("/private/orders") and cache.kept_before("/products/new")


def test_a_waiter_renders_itself_when_the_render_was_not_kept() -> None:
    """A change during the render stops the cache keeping it: a waiter then renders the
    page itself, from the changed catalog, rather than get nothing (here the first waiter's
    render is kept, and the second waiter is answered from it)."""
    log = FakeLog()
    cache = PageCache(CatalogChangeWatch(log.read, 3600))
    pages = _SlowPages()
    app = PageCacheMiddleware(pages, cache)

    async def scenario() -> list[bytes]:
        await _concurrently(app, pages, "/products/a", 1)
        _dropped_everything(log, cache)
        requests = [asyncio.create_task(_get(app, "/products/a")) for _ in range(3)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        _dropped_everything(log, cache)  # arrives while the page is being rendered
        pages.gate.set()
        return [body for _status, body in await asyncio.gather(*requests)]

    assert asyncio.run(scenario()) == [b"page /products/a"] * 3
    assert pages.renders["/products/a"] == 1 + 1 + 1


def test_a_slow_render_holds_its_waiters_only_so_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_cache, "RENDER_WAIT_SECONDS", 0.01)
    log = FakeLog()
    cache = PageCache(CatalogChangeWatch(log.read, 3600))
    pages = _SlowPages()
    app = PageCacheMiddleware(pages, cache)

    async def scenario() -> int:
        await _concurrently(app, pages, "/products/a", 1)
        _dropped_everything(log, cache)
        requests = [asyncio.create_task(_get(app, "/products/a")) for _ in range(3)]
        await asyncio.sleep(0.05)  # past the wait: the waiters render on their own
        rendering = pages.renders["/products/a"]
        pages.gate.set()
        await asyncio.gather(*requests)
        return rendering

    assert asyncio.run(scenario()) == 1 + 3
