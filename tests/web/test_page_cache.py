"""The whole-page cache: strong ETags, 304s, and invalidation when the catalog changes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp
from quietshop.catalog import service
from quietshop.web.page_cache import CachedPage, CatalogChangeWatch, PageCache
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
