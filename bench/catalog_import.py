"""The catalog's bulk path: a CSV import of many products, on SQLite and PostgreSQL side by
side, against the per-product ``create_product`` path it replaces (issue 9: >= 5,000
products per second on SQLite; the demo loader managed about 90). Prints a markdown
section (this file writes no results file itself).

    .venv/bin/python bench/catalog_import.py [--products 50000] [--quick] [--sample 300]
                                             [--postgres URL]

For each database (SQLite in a temporary file; PostgreSQL in a schema of its own in the
``test`` database, dropped afterwards), in a freshly migrated catalog with four
categories:

1. *create_product*: ``--sample`` products made one by one through
   ``service.create_product``, in one transaction (the old demo loader's path);
2. *import, new*: a catalog file of ``--products`` generated products (one to three
   variants each, as ``quietshop catalog export`` writes them) imported into the same
   catalog with ``csv_io.import_catalog``, in one transaction, as ``quietshop catalog
   import`` does; the file is read from disk;
3. *import, unchanged*: the same file again (every product read and compared, nothing
   written);
4. *demo loader*: ``load_demo_catalog`` with 1,200 products into an empty catalog of its
   own, SVG pictures written.

``--quick``: 5,000 products. Every run ends with a search for one imported product, which
must find it (the full-text index is kept by the import).

``--loader [--sizes 20000,100000]`` (issue 11: >= 5,000 products per second on SQLite and
PostgreSQL) measures the two loaders at each size instead, each into a freshly migrated
database of its own: ``load_demo_catalog`` (pictures and galleries written), then
``quietshop catalog import`` of the same products as the export writes them (cut into
files of at most 200,000 rows, the import's limit, each file one transaction). Beside
each rate it prints the process's CPU seconds (on a shared machine the wall clock says
more about the neighbours) and the figure measured before the loaders were reworked
(``BEFORE``: the old path is not kept).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import platform
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from quietshop.catalog import csv_io, service
from quietshop.catalog.demo import _create_categories, load_demo_catalog
from quietshop.catalog.service import ProductDraft, VariantDraft
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head

T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)
GOAL = 5_000  # products per second on SQLite (issue 9)
CATEGORIES = ("bench-cables", "bench-adapters", "bench-audio", "bench-tools")
COLOURS = ("Black", "White", "Blue")
WORDS = (
    "braided", "slim", "premium", "flexible", "certified", "compact", "shielded", "travel",
    "cable", "adapter", "speaker", "charger", "switch", "splitter", "tester", "hub",
)  # fmt: skip
DEMO_PRODUCTS = 1_200


@dataclass(frozen=True)
class Run:
    what: str
    products: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.products / self.seconds if self.seconds > 0 else 0.0


def _draft(number: int, prefix: str, rng: random.Random) -> ProductDraft:
    sku = f"{prefix}-{number:06d}"
    words = " ".join(rng.sample(WORDS, 3)).title()
    colours = COLOURS[: rng.randint(1, 3)]
    price = rng.randint(199, 9_999)
    variants = (
        [VariantDraft(sku=sku, price_cents=price, stock=rng.randint(0, 500), weight_grams=80)]
        if len(colours) == 1
        else [
            VariantDraft(
                sku=f"{sku}-{colour[:3].upper()}",
                price_cents=price,
                stock=rng.randint(0, 500),
                label=colour,
                options={"colour": colour},
                weight_grams=80,
            )
            for colour in colours
        ]
    )
    return ProductDraft(
        sku=sku,
        slug="",
        name=f"{words} {number}",
        category_slug=CATEGORIES[number % len(CATEGORIES)],
        variants=variants,
        currency="USD",
        description=f"A {words.lower()} for the bench, number {number}. Tested before packing.",
        brand="Benchline",
        warranty_months=24,
        warranty_terms="Replaced free within two years.",
    )


def drafts(count: int, prefix: str, seed: int = 9) -> Iterator[ProductDraft]:
    rng = random.Random(seed)  # generated test data, not a secret
    for number in range(1, count + 1):
        yield _draft(number, prefix, rng)


def write_file(path: Path, count: int) -> int:
    """A catalog file of ``count`` generated products; returns its rows."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(csv_io.COLUMNS)
        for draft in drafts(count, "BN"):
            for variant in draft.variants:
                writer.writerow(
                    [
                        draft.sku, draft.name, draft.brand, draft.category_slug,
                        draft.description, draft.warranty_months, draft.warranty_terms,
                        "yes", draft.currency, variant.sku, variant.label,
                        json.dumps(dict(variant.options)) if variant.options else "",
                        f"{variant.price_cents // 100}.{variant.price_cents % 100:02d}", "",
                        variant.stock, variant.weight_grams,
                    ]
                )  # fmt: skip
                rows += 1
    return rows


def _categories(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        for slug in CATEGORIES:
            service.create_category(session, slug, slug.removeprefix("bench-").title())


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def old_path(sessions: sessionmaker[Session], sample: int) -> Run:
    def create() -> None:
        with transaction(sessions) as session:
            for draft in drafts(sample, "OLD", seed=3):
                service.create_product(session, replace(draft, slug=draft.sku.lower()), T0)

    return Run("create_product, one by one", sample, timed(create))


def import_file(sessions: sessionmaker[Session], path: Path, what: str) -> Run:
    report: list[csv_io.ImportReport] = []

    def run() -> None:
        with path.open("rb") as stream, transaction(sessions) as session:
            report.append(csv_io.import_catalog(session, stream, currency="USD", now=T0))

    seconds = timed(run)
    done = report[0]
    assert done.error_count == 0, done.errors[:3]
    return Run(f"{what} ({done.created} new, {done.unchanged} unchanged)", done.products, seconds)


def demo_loader(engine: Engine, folder: Path) -> Run:
    sessions = make_session_factory(engine)

    def load() -> None:
        with transaction(sessions) as session:
            load_demo_catalog(session, folder / "demo-images", product_count=DEMO_PRODUCTS)

    return Run("demo loader (1,200 products, pictures)", DEMO_PRODUCTS, timed(load))


def measure(name: str, engine: Engine, demo_engine: Engine, path: Path, sample: int) -> list[Run]:
    upgrade_to_head(engine)
    upgrade_to_head(demo_engine)
    sessions = make_session_factory(engine)
    _categories(sessions)
    print(f"{name}: create_product x {sample}", flush=True)
    runs = [old_path(sessions, sample)]
    print(f"{name}: importing {path.name}", flush=True)
    runs.append(import_file(sessions, path, "import, new"))
    runs.append(import_file(sessions, path, "import, unchanged"))
    with sessions() as session:
        found = service.search_products(session, "benchline 17")
    assert found.total >= 1, "the imported products must be found by search"
    with tempfile.TemporaryDirectory() as folder:
        runs.append(demo_loader(demo_engine, Path(folder)))
    return runs


def report(results: list[tuple[str, list[Run]]], products: int, rows: int) -> str:
    lines = [
        "## Catalog import (bench/catalog_import.py)",
        "",
        f"{products:,} generated products in {rows:,} rows; Python "
        f"{platform.python_version()}, {platform.machine()}. Goal on SQLite: "
        f"{GOAL:,} products/s.",
        "",
        "| run | " + " | ".join(f"{name} products/s" for name, _ in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for index, run in enumerate(results[0][1]):
        cells = [f"{runs[index].rate:,.0f} ({runs[index].seconds:.2f} s)" for _, runs in results]
        lines.append(f"| {run.what} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _postgres_engines(url: str) -> tuple[Engine, Engine, Engine] | None:
    try:
        admin = make_engine(url, connect_args={"connect_timeout": 3})
        with admin.begin() as connection:
            for schema in ("catalog_bench", "catalog_bench_demo"):
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
        return None
    engine = make_engine(url, connect_args={"options": "-csearch_path=catalog_bench"})
    demo = make_engine(url, connect_args={"options": "-csearch_path=catalog_bench_demo"})
    return admin, engine, demo


# ---------------------------------------------------------------- the loaders at scale

# Products/s before the rework (demo: 1 SVG file per product, per-row checks, no bulk
# settings, executemany; import: executemany), measured with this section's method on
# 2026-12-07 23:31-00:00 UTC, on the same 2-core machine shared with other work.
BEFORE: dict[tuple[str, str, int], float] = {
    ("SQLite", "demo loader", 20_000): 2_072,
    ("SQLite", "catalog import", 20_000): 2_019,
    ("SQLite", "demo loader", 100_000): 845,
    ("SQLite", "catalog import", 100_000): 1_320,
    ("PostgreSQL", "demo loader", 20_000): 321,
    ("PostgreSQL", "catalog import", 20_000): 1_494,
}
# PostgreSQL at 100,000: the demo load and the import together had not finished after
# 1,200 s, when the run was stopped (under 84 products/s for the two).
BEFORE_NOTES = {("PostgreSQL", 100_000): "not done in 1,200 s (both runs)"}
MAX_FILE_ROWS = 200_000  # csv_rows' limit for one catalog file


@dataclass(frozen=True)
class LoaderRun:
    database: str
    what: str
    products: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.products / self.seconds if self.seconds > 0 else 0.0


def split_export(path: Path, max_rows: int = MAX_FILE_ROWS) -> list[Path]:
    """``path`` (an export) as catalog files of at most ``max_rows`` rows each, cut
    between products (a product's rows follow each other), one file's rows in memory."""
    files: list[Path] = []
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.reader(source)
        header = next(reader)
        product: list[list[str]] = []
        current: list[list[str]] = []

        def close(rows: list[list[str]]) -> None:
            part = path.with_name(f"{path.stem}-{len(files) + 1}.csv")
            with part.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(header)
                writer.writerows(rows)
            files.append(part)

        for cells in itertools.chain(reader, [[""]]):  # an empty row ends the last product
            if product and cells[0] != product[0][0]:
                if len(current) + len(product) > max_rows:
                    close(current)
                    current = []
                current += product
                product = []
            product.append(cells)
        if current:
            close(current)
    return files


def _timed_both(action: Callable[[], object]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - started, time.process_time() - cpu


def loader_runs(database: str, fresh: Callable[[str], Engine], products: int) -> list[LoaderRun]:
    """The demo loader, then the import of its export, each into a fresh database."""
    with tempfile.TemporaryDirectory() as folder:
        engine = fresh("demo")
        sessions = make_session_factory(engine)

        def load() -> None:
            with transaction(sessions) as session:
                load_demo_catalog(session, Path(folder) / "images", product_count=products)

        print(f"{database}: demo loader x {products:,}", flush=True)
        runs = [LoaderRun(database, "demo loader", products, *_timed_both(load))]
        export = Path(folder) / "demo.csv"
        with sessions() as session, export.open("w", encoding="utf-8", newline="") as out:
            csv_io.export_catalog(session, out)
        engine.dispose()
        parts = split_export(export)
        target = fresh("import")
        into = make_session_factory(target)
        with transaction(into) as session:
            _create_categories(session)

        def import_all() -> None:
            for part in parts:
                with part.open("rb") as stream, transaction(into) as session:
                    done = csv_io.import_catalog(session, stream, currency="USD", now=T0)
                assert done.error_count == 0, done.errors[:3]

        print(f"{database}: catalog import x {products:,} ({len(parts)} file(s))", flush=True)
        runs.append(LoaderRun(database, "catalog import", products, *_timed_both(import_all)))
        with into() as session:
            assert service.search_products(session, "hdmi cable").total > 0
        target.dispose()
    return runs


def _sqlite_fresh(folder: Path) -> Callable[[str], Engine]:
    def fresh(name: str) -> Engine:
        (folder / f"{name}.db").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{folder / f'{name}.db'}")
        upgrade_to_head(engine)
        return engine

    return fresh


@contextmanager
def _postgres_fresh(url: str) -> Iterator[Callable[[str], Engine] | None]:
    """Engines on schemas of their own (``loader_bench_<name>``), dropped at the end."""
    schemas: list[str] = []
    try:
        admin = make_engine(url, connect_args={"connect_timeout": 3})
        with admin.connect():
            pass
    except Exception:
        print("PostgreSQL not reachable; SQLite only")
        yield None
        return

    def fresh(name: str) -> Engine:
        schema = f"loader_bench_{name}"
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        schemas.append(schema)
        engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
        upgrade_to_head(engine)
        return engine

    try:
        yield fresh
    finally:
        with admin.begin() as connection:
            for schema in set(schemas):
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def loader_report(runs: list[LoaderRun]) -> str:
    lines = [
        "## The loaders at scale (bench/catalog_import.py --loader)",
        "",
        f"Demo catalog products (about four variants and three pictures each); Python "
        f"{platform.python_version()}, {platform.machine()}. Goal: {GOAL:,} products/s.",
        "",
        "| database | run | products | now products/s (wall s) | CPU s | before products/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for run in runs:
        before = BEFORE.get((run.database, run.what, run.products))
        key = (run.database, run.products)
        lines.append(
            f"| {run.database} | {run.what} | {run.products:,} | {run.rate:,.0f} "
            f"({run.seconds:.1f}) | {run.cpu_seconds:.1f} | "
            f"{f'{before:,.0f}' if before else BEFORE_NOTES.get(key, 'not measured')} |"
        )
    return "\n".join(lines)


def loader_main(sizes: list[int], postgres: str) -> None:
    runs: list[LoaderRun] = []
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            runs += loader_runs("SQLite", _sqlite_fresh(Path(folder)), size)
    with _postgres_fresh(postgres) as fresh:
        if fresh is not None:
            for size in sizes:
                runs += loader_runs("PostgreSQL", fresh, size)
    print()
    print(loader_report(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, help="products in the file (50,000)")
    parser.add_argument("--quick", action="store_true", help="5,000 products")
    parser.add_argument("--sample", type=int, default=300, help="create_product sample (300)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--loader", action="store_true", help="the demo loader and the import")
    parser.add_argument("--sizes", default="20000,100000", help="--loader: products (20000,100000)")
    args = parser.parse_args()
    if args.loader:
        loader_main([int(size) for size in str(args.sizes).split(",")], str(args.postgres))
        return
    products: int = args.products or (5_000 if args.quick else 50_000)
    results: list[tuple[str, list[Run]]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalog.csv"
        rows = write_file(path, products)
        engine = make_engine(f"sqlite:///{Path(folder) / 'catalog.db'}")
        demo = make_engine(f"sqlite:///{Path(folder) / 'demo.db'}")
        results.append(("SQLite", measure("SQLite", engine, demo, path, args.sample)))
        engine.dispose()
        demo.dispose()
        engines = _postgres_engines(args.postgres)
        if engines is not None:
            admin, engine, demo = engines
            try:
                results.append(
                    ("PostgreSQL", measure("PostgreSQL", engine, demo, path, args.sample))
                )
            finally:
                engine.dispose()
                demo.dispose()
                with admin.begin() as connection:
                    for schema in ("catalog_bench", "catalog_bench_demo"):
                        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    print()
    print(report(results, products, rows))


if __name__ == "__main__":
    main()
