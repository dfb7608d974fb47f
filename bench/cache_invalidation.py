"""What a sale costs the page cache and the catalog memo: one global catalog version (the
old behaviour, simulated: every logged change read as a whole-catalog change) side by
side with invalidation by product (the change log with cache tags). Writes
bench/results-cache-invalidation.md.

    .venv/bin/python bench/cache_invalidation.py [--postgres URL] [--products N]
        [--sales K] [--mix M]

In one process, over the real app (in-process ASGI, page cache on, access log off), on a
fresh demo catalog per run: fill the cache with N product pages, N cart lookups and the
listings (home, every top-level category, searches, listing and category APIs) plus the
privacy policy; then

1. *kept*: apply K sales (one unit of a random cached product's variant each, through
   ``take_stock`` in its own transaction, as an order would) and count the pages still
   cached;
2. *mix*: fill again, then K times: one sale, then M requests drawn from the same pages
   (70 % product pages, 10 % cart lookups, 15 % listings, 5 % privacy). Hit rate = the
   share of those requests answered from the cache; vocabulary and category-tree
   reloads are counted on the app's memo; requests/s is for the whole mix, sales
   included.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import random
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

import quietshop.app
from quietshop.app import AssembledApp, build_app
from quietshop.catalog import service
from quietshop.catalog.demo import load_demo_catalog
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.models import Category, Product, ProductVariant
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results-cache-invalidation.md"
SEARCHES = ("hdmi cable", "usb", "ethernet", "adapter")
# Reproducible workload, not secrets.
SEED = 8


@dataclass(frozen=True)
class Figures:
    database: str
    mode: str
    filled: int
    kept: int
    hit_rate: float
    vocabulary_loads: int
    tree_loads: int
    requests_per_s: float
    sold_out: int


@dataclass(frozen=True)
class Workload:
    product_pages: list[str]
    lookups: list[str]
    listings: list[str]
    others: list[str]
    sale_skus: list[str]

    def every_page(self) -> list[str]:
        return [*self.product_pages, *self.lookups, *self.listings, *self.others]

    def mix(self, rng: random.Random, count: int) -> list[str]:
        kinds = rng.choices(
            [self.product_pages, self.lookups, self.listings, self.others],
            weights=[70, 10, 15, 5],
            k=count,
        )
        return [rng.choice(kind) for kind in kinds]


# ---------------------------------------------------------------- the old behaviour

_APP_READER = quietshop.app._read_catalog_changes


def _every_change_is_everything(
    sessions: sessionmaker[Session], after_id: int | None, gaps: Collection[int]
) -> service.ChangeFeed:
    """The log as the one global version read it: any change empties every page."""
    feed = _APP_READER(sessions, after_id, gaps)
    return dataclasses.replace(
        feed, changes=[dataclasses.replace(c, everything=True) for c in feed.changes]
    )


@contextmanager
def old_behaviour(active: bool) -> Iterator[None]:
    """Swap the app's reader of the change log for one that coarsens every change."""
    if active:
        quietshop.app._read_catalog_changes = _every_change_is_everything
    try:
        yield
    finally:
        quietshop.app._read_catalog_changes = _APP_READER


# ---------------------------------------------------------------- one run


def prepare(engine: Engine, images: Path, products: int) -> sessionmaker[Session]:
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        load_demo_catalog(session, images, product_count=products)
    return sessions


def workload(sessions: sessionmaker[Session], products: int, rng: random.Random) -> Workload:
    with sessions() as session:
        rows = session.execute(
            select(Product.slug, Product.id)
            .where(Product.active.is_(True), Product.stock > 0)
            .order_by(Product.id)
        ).all()
        chosen = rng.sample(list(rows), min(products, len(rows)))
        ids = [row.id for row in chosen]
        variants = session.execute(
            select(ProductVariant.sku, ProductVariant.product_id)
            .where(ProductVariant.product_id.in_(ids), ProductVariant.stock > 0)
            .order_by(ProductVariant.sku)
        ).all()
        tops = session.execute(
            select(Category.slug).where(Category.parent_id.is_(None)).order_by(Category.slug)
        ).all()
    first_variant: dict[int, str] = {}
    for sku, product_id in variants:
        first_variant.setdefault(product_id, sku)
    return Workload(
        product_pages=[f"/products/{row.slug}" for row in chosen],
        lookups=[f"/api/v1/variants?sku={quote(sku)}" for sku in first_variant.values()],
        listings=[
            "/",
            *(f"/categories/{slug}" for (slug,) in tops),
            *(f"/search?q={quote_plus(q)}" for q in SEARCHES),
            "/api/v1/products",
            "/api/v1/categories",
        ],
        others=["/privacy"],
        sale_skus=[sku for sku, _ in variants],
    )


def sell(sessions: sessionmaker[Session], sku: str) -> bool:
    """One unit, as an order takes it; False when it is sold out."""
    try:
        with transaction(sessions) as session:
            service.take_stock(session, {sku: 1})
    except service.OutOfStock:
        return False
    return True


def cached(app: AssembledApp, paths: list[str]) -> int:
    assert app.page_cache is not None
    app.page_cache.watch.check()
    return sum(path in app.page_cache for path in paths)


def run(
    database: str, mode: str, engine_for: Callable[[], Engine], args: argparse.Namespace
) -> Figures:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as folder:
        engine = engine_for()
        sessions = prepare(engine, Path(folder) / "images", args.catalog)
        settings = Settings(
            data_dir=Path(folder),
            secret_key=SecretStr("b" * 40),
            public_base_url="https://shop.test",
            access_log_enabled=False,
        )
        load = workload(sessions, args.products, rng)
        pages = load.every_page()
        with old_behaviour(mode.startswith("old")):
            app = build_app(settings, sessions)
            memo = app.state.part(CatalogMemo)
            with TestClient(app, base_url="https://testserver") as client:
                for path in pages:
                    client.get(path)
                filled = cached(app, pages)
                sold_out = 0
                for _ in range(args.sales):
                    sold_out += not sell(sessions, rng.choice(load.sale_skus))
                kept = cached(app, pages)
                for path in pages:
                    client.get(path)
                vocabulary, tree = memo.loads["vocabulary"], memo.loads["tree"]
                hits = requests = 0
                start = time.perf_counter()
                for _ in range(args.sales):
                    sold_out += not sell(sessions, rng.choice(load.sale_skus))
                    for path in load.mix(rng, args.mix):
                        app.page_cache.watch.check()  # type: ignore[union-attr]
                        hits += path in app.page_cache  # type: ignore[operator]
                        requests += 1
                        answer = client.get(path)
                        assert answer.status_code == 200, (path, answer.status_code)
                elapsed = time.perf_counter() - start
        figures = Figures(
            database=database,
            mode=mode,
            filled=filled,
            kept=kept,
            hit_rate=hits / requests,
            vocabulary_loads=memo.loads["vocabulary"] - vocabulary,
            tree_loads=memo.loads["tree"] - tree,
            requests_per_s=requests / elapsed,
            sold_out=sold_out,
        )
        engine.dispose()
    print(figures)
    return figures


def postgres_engine(url: str, schema: str) -> Callable[[], Engine]:
    def fresh() -> Engine:
        admin = make_engine(url, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        return make_engine(url, connect_args={"options": f"-csearch_path={schema}"})

    return fresh


def drop_schema(url: str, schema: str) -> None:
    admin = make_engine(url, connect_args={"connect_timeout": 3})
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def sqlite_engine(folder: Path) -> Callable[[], Engine]:
    counter = iter(range(1000))

    def fresh() -> Engine:
        return make_engine(f"sqlite:///{folder}/bench-{next(counter)}.db")

    return fresh


# ---------------------------------------------------------------- the report

MODES = ("old: one global version", "new: by product")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--catalog", type=int, default=600, help="demo products loaded")
    parser.add_argument("--products", type=int, default=200, help="product pages cached")
    parser.add_argument("--sales", type=int, default=200)
    parser.add_argument("--mix", type=int, default=20, help="requests after each sale")
    args = parser.parse_args()
    figures: list[Figures] = []
    with tempfile.TemporaryDirectory() as folder:
        fresh_sqlite = sqlite_engine(Path(folder))
        for mode in MODES:
            figures.append(run("SQLite", mode, fresh_sqlite, args))
    try:
        drop_schema(args.postgres, "cache_bench")
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
    else:
        for mode in MODES:
            figures.append(
                run("PostgreSQL", mode, postgres_engine(args.postgres, "cache_bench"), args)
            )
        drop_schema(args.postgres, "cache_bench")
    RESULTS.write_text(report(figures, args), encoding="utf-8")
    print(report(figures, args))


def report(figures: list[Figures], args: argparse.Namespace) -> str:
    command = (
        f".venv/bin/python bench/cache_invalidation.py --catalog {args.catalog} "
        f"--products {args.products} --sales {args.sales} --mix {args.mix}"
    )
    rows = [
        f"| {f.database} | {f.mode} | {f.kept} of {f.filled} | {f.hit_rate:.1%} | "
        f"{f.vocabulary_loads} | {f.tree_loads} | {f.requests_per_s:,.0f} | {f.sold_out} |"
        for f in figures
    ]
    return "\n".join(
        [
            "# Cache invalidation: a sale drops its product's pages, not the cache",
            "",
            f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (Python "
            f"{platform.python_version()}, in-process ASGI through the real app, one thread). "
            f"A fresh demo catalog of {args.catalog} products per row; {args.products} product "
            "pages, as many cart lookups, the listings and the privacy policy cached; "
            f"{args.sales} sales of one unit of a cached product. *Kept*: pages still cached "
            f"after those sales. *Hit rate*: of {args.mix} requests after each of another "
            f"{args.sales} sales (70 % product pages, 10 % cart lookups, 15 % listings, 5 % "
            "privacy), the share answered from the cache. *Reloads*: the memo's vocabulary "
            "and category tree loads during that mix. *Old* simulates the one global version "
            "by reading every logged change as a whole-catalog change (same code otherwise).",
            "",
            "Every sale is of a cached product, the worst case for invalidation by product: "
            "each drops that product's page and cart lookup, and the listings only when it "
            "sells out. The same seed picks the same pages and sales on both databases.",
            "",
            "| database | invalidation | pages kept after the sales | hit rate in the mix "
            "| vocabulary reloads | tree reloads | requests/s (mix, sales included) "
            "| sales refused (sold out) |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )


if __name__ == "__main__":
    main()
