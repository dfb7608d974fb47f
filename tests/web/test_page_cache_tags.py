"""The page cache drops what a change shows: a sale drops that product's answers, not the
listings (unless its badge flips), not the memo; a structure change drops everything.
Changes by other processes arrive through the log within the check interval."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp, build_app
from quietshop.catalog import service
from quietshop.catalog.memo import CatalogMemo
from quietshop.settings import Settings
from quietshop.web.page_cache import (
    GAP_PATIENCE,
    STARTUP_WINDOW,
    CachedPage,
    CatalogChangeWatch,
    Invalidation,
    PageCache,
)
from tests.catalog.factories import SmallCatalog, make_product, small_catalog
from tests.clock import MovableClock

# ---------------------------------------------------------------- a log in memory


@dataclass(frozen=True)
class FakeChange:
    id: int
    tags: frozenset[str] = frozenset()
    everything: bool = False


@dataclass(frozen=True)
class FakeFeed:
    changes: list[FakeChange]
    last_id: int
    pruned_through: int


@dataclass
class FakeLog:
    """The change log as the watch reads it; ``visible`` hides uncommitted ids."""

    rows: list[FakeChange] = field(default_factory=list)
    pruned_through: int = 0
    reads: int = 0
    hidden: set[int] = field(default_factory=set)

    def add(self, *tags: str, everything: bool = False, hidden: bool = False) -> int:
        change = FakeChange(len(self.rows) + 1, frozenset(tags), everything)
        self.rows.append(change)
        if hidden:
            self.hidden.add(change.id)
        return change.id

    def read(self, after: int | None, gaps: Collection[int]) -> FakeFeed:
        self.reads += 1
        visible = [c for c in self.rows if c.id not in self.hidden and c.id > self.pruned_through]
        if after is None:
            return FakeFeed([], max((c.id for c in visible), default=0), self.pruned_through)
        found = [c for c in visible if c.id > after or c.id in gaps]
        return FakeFeed(found, max([after, *(c.id for c in found)]), self.pruned_through)


class Ticks:
    """An injected monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def page(body: bytes = b"x", *tags: str) -> CachedPage:
    return CachedPage(200, [], body, b'"e"', frozenset(tags))


def cache_over(log: FakeLog, interval: float = 0.0, ticks: Ticks | None = None) -> PageCache:
    watch = CatalogChangeWatch(log.read, interval, monotonic=ticks or Ticks())
    return PageCache(watch)


def fill(cache: PageCache, pages: dict[str, tuple[str, ...]]) -> None:
    cache.get("/warm-up")
    for key, tags in pages.items():
        cache.put(key, page(key.encode(), *tags), cache.version)


PAGES = {
    "/products/a": ("product:A",),
    "/api/v1/variants?sku=A-1&sku=B-1": ("product:A", "product:B"),
    "/products/b": ("product:B",),
    "/": ("listings",),
    "/categories/cables": ("listings",),
    "/privacy": (),
}


def kept(cache: PageCache) -> set[str]:
    return {key for key in PAGES if key in cache}


# ---------------------------------------------------------------- what each change drops


def test_a_product_change_drops_only_that_products_answers() -> None:
    log = FakeLog()
    cache = cache_over(log)
    fill(cache, PAGES)
    log.add("product:A")
    cache.get("/anything")
    assert kept(cache) == {"/products/b", "/", "/categories/cables", "/privacy"}


def test_a_listings_change_drops_the_listings_too_and_untagged_pages_stay() -> None:
    log = FakeLog()
    cache = cache_over(log)
    fill(cache, PAGES)
    log.add("product:B", "listings")
    cache.get("/anything")
    assert kept(cache) == {"/products/a", "/privacy"}
    assert cache.watch.generation() == 0  # no whole-catalog change: memos keep


def test_a_whole_catalog_change_drops_every_page_and_moves_the_generation() -> None:
    log = FakeLog()
    cache = cache_over(log)
    fill(cache, PAGES)
    log.add(everything=True)
    assert cache.watch.generation() == 1
    assert kept(cache) == set()


def test_an_unknown_tag_drops_nothing() -> None:
    log = FakeLog()
    cache = cache_over(log)
    fill(cache, PAGES)
    log.add("product:ZZZ")
    cache.get("/anything")
    assert kept(cache) == set(PAGES)


# ---------------------------------------------------------------- when changes are seen


def test_another_process_change_is_seen_within_the_check_interval() -> None:
    log, ticks = FakeLog(), Ticks()
    cache = cache_over(log, interval=0.5, ticks=ticks)
    fill(cache, PAGES)
    reads = log.reads
    log.add("product:A")  # written by another process: nobody calls poll_soon here
    ticks.now += 0.49
    assert cache.get("/products/a") is not None  # still inside the interval
    assert log.reads == reads
    ticks.now += 0.01
    assert cache.get("/products/a") is None
    assert log.reads == reads + 1


def test_a_look_while_another_thread_reads_the_log_does_not_wait_for_it() -> None:
    """A route's thread asks for the generation while holding a pooled connection, and the
    read needs another: had it waited for a reader that waits for a connection, a worker
    whose threads held every connection stalled until the pool timed out (30 s)."""
    log, ticks = FakeLog(), Ticks()
    reading, release = threading.Event(), threading.Event()

    def slow_read(after: int | None, gaps: Collection[int]) -> FakeFeed:
        if after is not None:
            reading.set()
            assert release.wait(10)
        return log.read(after, gaps)

    watch = CatalogChangeWatch(slow_read, 0.5, monotonic=ticks)
    log.add(everything=True)
    reader = threading.Thread(target=watch.check)
    reader.start()
    try:
        assert reading.wait(10)
        # Another thread looks meanwhile: it answers at once, with what was last read.
        looked = threading.Thread(target=watch.generation)
        looked.start()
        looked.join(2)
        assert not looked.is_alive()
        assert watch.generation() == 0
    finally:
        release.set()
        reader.join(10)
    # Once the read is done, its change counts; the next look reads again as usual.
    assert watch.generation() == 1
    log.add(everything=True)
    ticks.now += 0.5
    assert watch.generation() == 2


def test_the_log_is_read_at_most_once_per_interval_unless_this_process_wrote() -> None:
    log, ticks = FakeLog(), Ticks()
    watch = CatalogChangeWatch(log.read, 3600, monotonic=ticks)
    for _ in range(100):
        watch.check()
    assert log.reads == 2  # the first look learns where the log stands, then reads it
    watch.poll_soon()
    watch.check()
    watch.check()
    assert log.reads == 3


def test_a_change_committed_out_of_id_order_is_still_seen() -> None:
    """PostgreSQL hands out ids at insert: id 2 may commit, and be read, before id 1."""
    log, ticks = FakeLog(), Ticks()
    cache = cache_over(log, ticks=ticks)
    fill(cache, PAGES)
    late = log.add("product:A", hidden=True)
    log.add("product:B")
    cache.get("/x")
    assert kept(cache) == {"/products/a", "/", "/categories/cables", "/privacy"}
    assert late in cache.watch.gaps
    log.hidden.clear()  # the first transaction commits
    cache.get("/x")
    assert "/products/a" not in cache and cache.watch.gaps == frozenset()


def test_a_gap_never_filled_is_given_up_after_a_while() -> None:
    log, ticks = FakeLog(), Ticks()
    watch = CatalogChangeWatch(log.read, 0, monotonic=ticks)
    watch.check()
    log.add("product:A", hidden=True)  # rolled back: its id stays unused
    log.add("product:B")
    watch.check()
    assert watch.gaps == {1}
    ticks.now += GAP_PATIENCE - 1
    watch.check()
    assert watch.gaps == {1}
    ticks.now += 1
    watch.check()
    assert watch.gaps == frozenset() and watch.last_id == 2


def test_a_reader_whose_last_id_was_pruned_drops_everything() -> None:
    log = FakeLog()
    cache = cache_over(log, interval=3600)
    fill(cache, PAGES)
    assert cache.watch.last_id == 0
    for _ in range(5):
        log.add("product:ZZZ")  # none of these would drop a cached page...
    log.pruned_through = 3  # ...but 1 to 3 were pruned before this reader saw them
    generation = cache.watch.generation()
    cache.watch.poll_soon()
    assert cache.watch.generation() == generation + 1
    assert kept(cache) == set()


def test_a_new_watch_starts_near_the_end_of_a_long_log() -> None:
    log = FakeLog()
    for _ in range(STARTUP_WINDOW + 50):
        log.add("product:A")
    watch = CatalogChangeWatch(log.read, 0)
    watch.check()
    assert watch.last_id == STARTUP_WINDOW + 50 and log.reads == 2


# ---------------------------------------------------------------- pages built meanwhile


def test_a_page_built_while_a_change_to_it_arrived_is_not_kept() -> None:
    log = FakeLog()
    cache = cache_over(log)
    cache.get("/warm-up")
    seen = cache.version
    log.add("product:A")
    cache.get("/other")  # the change lands while /products/a and /products/b are built
    cache.put("/products/a", page(b"old", "product:A"), seen)
    cache.put("/products/b", page(b"fine", "product:B"), seen)
    cache.put("/privacy", page(b"fine"), seen)
    assert "/products/a" not in cache
    assert "/products/b" in cache and "/privacy" in cache
    log.add(everything=True)
    seen = cache.version
    cache.get("/other")
    log.add(everything=True)
    cache.get("/other")
    cache.put("/privacy", page(b"old"), seen)
    assert "/privacy" not in cache


def test_a_page_built_before_the_remembered_changes_is_not_kept() -> None:
    log = FakeLog()
    cache = cache_over(log)
    cache.get("/warm-up")
    seen = cache.version
    for _ in range(2000):
        log.add("product:ZZZ")
        cache.get("/x")
    cache.put("/privacy", page(), seen)
    assert "/privacy" not in cache


def test_the_cache_is_bounded_and_forgets_the_tags_of_evicted_pages() -> None:
    log = FakeLog()
    cache = PageCache(CatalogChangeWatch(log.read, 0), max_entries=3)
    cache.get("/warm-up")
    for i in range(10):
        cache.put(f"/p{i}", page(b"x", f"product:{i}"), cache.version)
    assert len(cache) == 3 and cache.get("/p9") is not None and cache.get("/p0") is None
    cache.put("/p9", page(b"y", "product:new"), cache.version)  # replaced with other tags
    assert cache.tags_of("/p9") == frozenset({"product:new"})
    log.add("product:9")
    cache.get("/x")
    assert "/p9" in cache
    assert cache._keys_by_tag.keys() == {"product:7", "product:8", "product:new"}


def test_invalidations_touch_by_tag() -> None:
    assert Invalidation(frozenset({"a"})).touches(frozenset({"a", "b"}))
    assert not Invalidation(frozenset({"a"})).touches(frozenset({"b"}))
    assert not Invalidation(frozenset({"a"})).touches(frozenset())
    assert Invalidation(everything=True).touches(frozenset())


# ---------------------------------------------------------------- the real app


@pytest.fixture
def shop(db: Session) -> SmallCatalog:
    return small_catalog(db)


def memo_of(app: AssembledApp) -> CatalogMemo:
    return app.state.part(CatalogMemo)


def _browse(client: TestClient, catalog: SmallCatalog, db: Session) -> dict[str, str]:
    """Visit one of each kind of public answer; the keys the cache holds them under."""
    hdmi = service.get_product(db, catalog.hdmi_skus[0])
    other = service.get_product(db, catalog.hdmi_skus[1])
    paths = {
        "sold product page": f"/products/{hdmi.slug}",
        "sold product api": f"/api/v1/products/{hdmi.sku}",
        "cart lookup": f"/api/v1/variants?sku={hdmi.sku}&sku={other.sku}",
        "other product page": f"/products/{other.slug}",
        "home": "/",
        "category": "/categories/hdmi-cables",
        "search": "/search?q=hdmi",
        "listing api": "/api/v1/products?category=hdmi-cables",
        "privacy": "/privacy",
    }
    for path in paths.values():
        answer = client.get(path)
        assert answer.status_code == 200, path
    return paths


def _cached(app: AssembledApp, paths: dict[str, str]) -> set[str]:
    assert app.page_cache is not None
    return {name for name, path in paths.items() if path in app.page_cache}


def test_a_sale_drops_its_products_answers_and_keeps_the_rest_and_the_memo(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    assert _cached(assembled, paths) == set(paths)
    loads = dict(memo_of(assembled).loads)
    service.take_stock(db, {shop.hdmi_skus[0]: 1})
    db.commit()
    client.get("/robots.txt")  # any request looks at the log
    assert _cached(assembled, paths) == set(paths) - {
        "sold product page",
        "sold product api",
        "cart lookup",
    }
    assert client.get(paths["sold product api"]).json()["stock"] == 4
    for path in paths.values():
        client.get(path)
    assert memo_of(assembled).loads == loads  # neither the tree nor the vocabulary reloaded


def test_selling_the_last_unit_drops_the_listings_too(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    loads = dict(memo_of(assembled).loads)
    service.take_stock(db, {shop.hdmi_skus[0]: 5})
    db.commit()
    client.get("/robots.txt")
    assert _cached(assembled, paths) == {"other product page", "privacy"}
    category = client.get(paths["category"]).text
    assert category.count("Out of stock") == 1
    service.return_stock(db, {shop.hdmi_skus[0]: 1})  # back in stock: listings again
    db.commit()
    _browse(client, shop, db)
    service.return_stock(db, {shop.hdmi_skus[0]: 1})  # 1 -> 2: nothing listings show
    db.commit()
    client.get("/robots.txt")
    assert {"home", "category", "search", "listing api"} <= _cached(assembled, paths)
    assert memo_of(assembled).loads == loads


def test_a_new_product_drops_everything_and_reloads_the_memo(
    db: Session, shop: SmallCatalog, client: TestClient, assembled: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    loads = memo_of(assembled).loads["vocabulary"]
    make_product(db, shop.tools, name="Toslink Optical Cable")
    db.commit()
    client.get("/robots.txt")
    assert _cached(assembled, paths) == set()
    assert "Toslink Optical Cable" in client.get("/search?q=toslnk").text  # corrected
    assert memo_of(assembled).loads["vocabulary"] == loads + 1


@pytest.fixture
def other_process(
    connection: Connection, settings: Settings, clock: MovableClock
) -> Iterator[AssembledApp]:
    """A second app on the same database with sessions of its own, as another process
    would have: it hears of changes only through the log."""
    slow = settings.model_copy(update={"catalog_version_check_interval": 3600})
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield build_app(slow, sessions, clock=clock)


def test_a_change_by_another_process_reaches_this_one_through_the_log(
    db: Session, shop: SmallCatalog, client: TestClient, other_process: AssembledApp
) -> None:
    paths = _browse(client, shop, db)
    with TestClient(other_process, base_url="https://testserver") as other:
        _browse(other, shop, db)
        assert other_process.page_cache is not None
        # This test's process sells (its own app sees that at once, from the commit)...
        service.take_stock(db, {shop.hdmi_skus[0]: 1})
        db.commit()
        # ...the other one, with an hour between looks, keeps serving what it has...
        assert other.get(paths["sold product api"]).json()["stock"] == 5
        # ...until its interval is up (here: its watch told to look now).
        other_process.page_cache.watch.poll_soon()
        assert other.get(paths["sold product api"]).json()["stock"] == 4
        assert paths["other product page"] in other_process.page_cache


def test_the_writing_process_sees_its_own_change_at_once(
    db: Session, shop: SmallCatalog, settings: Settings, sessions: sessionmaker[Session]
) -> None:
    slow = settings.model_copy(update={"catalog_version_check_interval": 3600})
    app = build_app(slow, sessions)
    with TestClient(app, base_url="https://testserver") as client:
        sku = shop.hdmi_skus[0]
        assert client.get(f"/api/v1/products/{sku}").json()["stock"] == 5
        with sessions() as session:
            service.take_stock(session, {sku: 2})
            session.commit()
        assert client.get(f"/api/v1/products/{sku}").json()["stock"] == 3


# ---------------------------------------------------------------- the tags stay inside


@pytest.mark.parametrize("page_cache", [True, False])
def test_the_tags_header_never_reaches_the_client(
    db: Session,
    shop: SmallCatalog,
    settings: Settings,
    sessions: sessionmaker[Session],
    page_cache: bool,
) -> None:
    app = build_app(settings, sessions, page_cache=page_cache)
    with TestClient(app, base_url="https://testserver") as client:
        product = service.get_product(db, shop.hdmi_skus[0])
        answers = []
        for path in (f"/products/{product.slug}", "/", f"/api/v1/variants?sku={product.sku}"):
            first = client.get(path)
            answers += [first, client.get(path), client.head(path)]
            answers.append(client.get(path, headers={"if-none-match": first.headers["etag"]}))
        answers.append(client.get("/api/v1/variants?sku="))  # a refusal
        answers.append(client.get("/products/no-such-product"))
        assert {a.status_code for a in answers} == {200, 304, 400, 404}
        for answer in answers:
            assert "x-cache-tags" not in answer.headers
    if page_cache:
        assert app.page_cache is not None
        assert app.page_cache.tags_of(f"/products/{product.slug}") == frozenset(
            {service.product_cache_tag(product.sku)}
        )
        assert app.page_cache.tags_of("/") == frozenset({"listings"})
