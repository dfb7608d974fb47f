"""The whole-page cache: strong ETags, 304s, and invalidation when the catalog changes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.catalog import service
from quietshop.catalog.models import CatalogState
from quietshop.web.page_cache import CatalogVersionWatch, PageCache
from tests.catalog.factories import make_product, small_catalog


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


def test_a_change_made_by_another_process_is_seen(db: Session, client: TestClient) -> None:
    small_catalog(db)
    client.get("/categories/tools")
    # Another process only moves the shared version number; the page must be rebuilt.
    product = service.list_products(db, service.ListingQuery(category="tools")).items[0]
    db.execute(update(CatalogState).values(version=CatalogState.version + 1))
    service.set_product_active(db, product.sku, False)
    db.commit()
    assert product.name not in client.get("/categories/tools").text


def test_private_and_error_answers_are_never_cached(
    db: Session, client: TestClient, assembled: AssembledApp
) -> None:
    small_catalog(db)
    client.get("/products/nope")
    client.get("/categories/cables?page=0")
    assert assembled.page_cache is not None and len(assembled.page_cache) == 0


def test_cache_size_is_bounded() -> None:
    from quietshop.web.page_cache import CachedPage

    cache = PageCache(CatalogVersionWatch(lambda: 1, 0), max_entries=3)
    cache.get("warm-up")
    for i in range(10):
        cache.put(f"/p{i}", CachedPage(200, [], b"x", b'"e"'), cache.version)
    assert len(cache) == 3 and cache.get("/p9") is not None and cache.get("/p0") is None


def test_pages_built_from_an_old_catalog_are_not_kept() -> None:
    from quietshop.web.page_cache import CachedPage

    version = [1]
    cache = PageCache(CatalogVersionWatch(lambda: version[0], 0))
    cache.get("/x")
    seen = cache.version
    version[0] = 2
    cache.get("/y")  # the version moved while /x was being built
    cache.put("/x", CachedPage(200, [], b"old", b'"o"'), seen)
    assert cache.get("/x") is None


def test_version_is_read_at_most_once_per_interval() -> None:
    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return 7

    watch = CatalogVersionWatch(read, check_interval=3600)
    assert [watch.current() for _ in range(100)] == [7] * 100
    assert len(reads) == 1
