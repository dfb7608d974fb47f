"""Listing pages from the listing index beside the SQL path, at each catalog size.

    .venv/bin/python bench/listing_index.py [--pages] [DATABASE_URL ...]

Without arguments it reads the demo catalogs of bench/out (1,200 products) and /tmp/c100k
(100,000), SQLite, read-only. Each figure is the best of ``ROUNDS`` calls of
``service.list_products`` (the page's rows read, validated into the page model), in one
session, with the index already built (the best, not the median: on a machine shared with
other work the median measures the neighbours); the build time and the index's bytes
come first, and its bytes once every category was listed in every order at the end.
``--pages`` times whole category pages through the app instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from quietshop.catalog import service
from quietshop.catalog.listing_index import load_listing_index
from quietshop.catalog.memo import CatalogMemo, load_category_tree
from quietshop.catalog.models import Category, Product
from quietshop.catalog.schemas import SortOrder
from quietshop.catalog.service import ListingQuery

ROUNDS = 9
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DATABASES = [
    f"sqlite:///file:{BENCH_DIR / 'out/catalog-scale-sqlite-1200/quietshop.db'}?mode=ro&uri=true",
    "sqlite:///file:/tmp/c100k/quietshop.db?mode=ro&uri=true",
]


def best_ms(call: Callable[[], object]) -> float:
    call()  # warm: statement caches, pages of the file
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def biggest_category(session: Session) -> tuple[str, int]:
    """The top-level category with the most products below it."""
    tree = load_category_tree(session)
    rows = session.execute(
        select(Product.category_id, func.count())
        .where(Product.active.is_(True))
        .group_by(Product.category_id)
    )
    counts: dict[int, int] = {category_id: number for category_id, number in rows}
    best = max(
        (root.slug for root in tree.roots),
        key=lambda slug: sum(counts.get(i, 0) for i in tree.ids_below[slug]),
    )
    return best, sum(counts.get(i, 0) for i in tree.ids_below[best])


def listings(session: Session, memo: CatalogMemo) -> list[tuple[str, ListingQuery]]:
    slug, size = biggest_category(session)
    index = memo.listing_index(session)
    deepest = max(1, -(-size // 24))
    brand = next((b for b in index.brands if b), "")
    option = index.values[0] if index.values else ("length", "1 m")
    leaf = session.execute(
        select(Category.slug)
        .where(~Category.id.in_(select(Category.parent_id).where(Category.parent_id.is_not(None))))
        .limit(1)
    ).scalar_one()
    category = ListingQuery(category=slug)
    return [
        ("category page 1", category),
        ("category deepest, price", ListingQuery(category=slug, page=deepest)),
        ("category deepest, name", ListingQuery(category=slug, page=deepest, sort=SortOrder.name)),
        (
            "category deepest, newest",
            ListingQuery(category=slug, page=deepest, sort=SortOrder.newest),
        ),
        (
            "category in stock, price desc",
            ListingQuery(category=slug, in_stock=True, sort=SortOrder.price_desc),
        ),
        (
            "category 10-50, page 3",
            ListingQuery(category=slug, price_min=1000, price_max=5000, page=3),
        ),
        ("category brand", ListingQuery(category=slug, brands=(brand,))),
        ("category option", ListingQuery(category=slug, options=(option,))),
        ("leaf category", ListingQuery(category=leaf)),
        ("all products, page 40 by name", ListingQuery(page=40, sort=SortOrder.name)),
    ]


def measure(url: str) -> None:
    engine = create_engine(url)
    with Session(engine) as session:
        count = session.execute(select(func.count()).where(Product.active.is_(True))).scalar_one()
        load_listing_index(session)  # warm: the first build also pays for imports
        start = time.perf_counter()
        index = load_listing_index(session)
        build = time.perf_counter() - start
        memo = CatalogMemo(lambda: 1)
        memo.listing_index(session)
        megabytes = index.nbytes / 1e6
        print(f"\n{url}\n{count:,} products: index built in {build:.2f} s, {megabytes:.1f} MB")
        print(f"{'listing':34} {'SQL ms':>8} {'index ms':>9} {'total':>7}")
        for label, query in listings(session, memo):
            by_sql = best_ms(partial(service.list_products, session, query))
            by_index = best_ms(partial(service.list_products, session, query, memo))
            total = service.list_products(session, query, memo).total
            print(f"{label:34} {by_sql:8.2f} {by_index:9.2f} {total:7}")
        # Memory once every category was listed (each keeps its candidates and orders).
        tree = load_category_tree(session)
        index = memo.listing_index(session)
        for slug in tree.ids_below:
            for sort in SortOrder:
                service.list_products(session, ListingQuery(category=slug, sort=sort), memo)
        print(f"every category listed in every order: {index.nbytes / 1e6:.1f} MB")
    engine.dispose()


PAGE_QUERIES = [
    ("page 1", ""),
    ("page 400 by price", "?page=400"),
    ("page 400 by name", "?page=400&sort=name"),
    ("in stock, price desc", "?in_stock=true&sort=price_desc"),
    ("brand and option", "?brand=Corelink&option=length:1 m"),
    ("10-50, page 3", "?price_min=10&price_max=50&page=3"),
]


def measure_pages(url: str, slug: str = "cables") -> None:
    """Whole category pages through the app (page cache off): routing, the listing, the
    facet sidebar and the template, as a shopper's uncached request costs."""
    from fastapi.testclient import TestClient
    from pydantic import SecretStr
    from sqlalchemy.orm import sessionmaker

    from quietshop.app import build_app
    from quietshop.settings import Settings

    threads = {"check_same_thread": False} if url.startswith("sqlite") else {}
    engine = create_engine(url, connect_args=threads)
    settings = Settings(
        data_dir=Path("/tmp/quietshop-bench-listing"),
        secret_key=SecretStr("bench-secret-key-0123456789-abcdefghij"),
        public_base_url="https://shop.test",
        access_log_enabled=False,
    )
    app = build_app(settings, sessionmaker(bind=engine), page_cache=False)
    print(f"\n{url}: /categories/{slug}, whole pages")
    with TestClient(app, base_url="https://testserver") as client:
        client.get(f"/categories/{slug}")  # the first listing loads the index
        for label, query in PAGE_QUERIES:
            took = best_ms(partial(client.get, f"/categories/{slug}{query}"))
            print(f"{label:34} {took:8.2f} ms")
    engine.dispose()


def main(arguments: list[str]) -> None:
    pages = "--pages" in arguments
    urls = [a for a in arguments if a != "--pages"] or DEFAULT_DATABASES
    for url in urls:
        measure_pages(url) if pages else measure(url)


if __name__ == "__main__":
    main(sys.argv[1:])
