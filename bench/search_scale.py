"""Search cost at 1,200 and at 100,000 products: the bounded search against the old query.

    .venv/bin/python bench/search_scale.py [--source /tmp/c100k/quietshop.db] [--no-postgres]

Reads a 100,000-product demo database (``quietshop demo --products 100000``; never
written: it is copied) and builds, in a scratch directory:

- SQLite: the copy, and a 1,200-product copy (the first 1,200 products, index rebuilt);
- PostgreSQL (``QUIETSHOP_BENCH_POSTGRES_URL``, default the local ``test`` database): one
  schema per size, migrated to head, with the same rows, plus 0001's old expression index
  so the old query is timed as it ran before migration 0019.

For each query (a common word, a rare word, a typo) it times, in one process with the
vocabulary built once, the best and median of N runs of

- new: ``search.find_products`` (bounded candidates, name tier first) and the summaries;
- old: the count over every match and the page ranked over every match, and the summaries,

and prints them side by side with the 100,000 / 1,200 ratio (the goal: at most 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.orm import Session

from quietshop.catalog import queries, search
from quietshop.catalog.memo import load_vocabulary
from quietshop.catalog.models import Category, Product
from quietshop.catalog.spelling import Vocabulary
from quietshop.db import make_engine, upgrade_to_head

QUERIES = (("common", "cable"), ("rare", "cardioid"), ("typo", "hdmi cabel"))
SMALL = 1_200
RUNS = 30
PAGE_SIZE = 24
POSTGRES_URL = os.environ.get(
    "QUIETSHOP_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# The statements search.py ran before bounded candidates (count every match, rank every match).
_OLD_SQLITE_COUNT = text(
    "SELECT count(*) FROM product_fts JOIN products ON products.id = product_fts.rowid "
    "WHERE product_fts MATCH :expression AND products.active"
)
_OLD_SQLITE_PAGE = text(
    "SELECT product_fts.rowid AS id FROM product_fts "
    "JOIN products ON products.id = product_fts.rowid "
    "WHERE product_fts MATCH :expression AND products.active "
    "ORDER BY bm25(product_fts, 10.0, 4.0, 1.0), products.price_cents "
    "LIMIT :limit OFFSET 0"
)
_OLD_PG_DOCUMENT = (
    "(setweight(to_tsvector('english', products.name), 'A') || "
    "setweight(to_tsvector('english', products.brand), 'B') || "
    "setweight(to_tsvector('english', products.search_text), 'C'))"
)
_OLD_PG_INDEX = f"CREATE INDEX ix_products_search_old ON products USING gin ({_OLD_PG_DOCUMENT})"
_OLD_PG_COUNT = text(
    "SELECT count(*) FROM products WHERE products.active AND "
    f"{_OLD_PG_DOCUMENT} @@ to_tsquery('english', :expression)"
)
_OLD_PG_PAGE = text(
    "SELECT products.id AS id FROM products WHERE products.active AND "
    f"{_OLD_PG_DOCUMENT} @@ to_tsquery('english', :expression) "
    f"ORDER BY ts_rank({_OLD_PG_DOCUMENT}, to_tsquery('english', :expression)) DESC, "
    "products.price_cents, products.id LIMIT :limit OFFSET 0"
)


@dataclass(frozen=True)
class Timing:
    best_ms: float
    median_ms: float
    total: int


Results = dict[int, dict[str, tuple[Timing, Timing]]]  # size -> query label -> (new, old)


def _timing(times: list[float], total: int) -> Timing:
    return Timing(min(times), statistics.median(times), total)


def _summaries(session: Session, ids: list[int]) -> None:
    if ids:
        session.connection().execute(queries.SUMMARIES_BY_ID, {"ids": ids}).all()


def new_search(session: Session, vocabulary: Vocabulary, raw: str) -> int:
    plan = search.plan_query(raw, vocabulary)
    found = search.find_products(session, plan.words, 1, PAGE_SIZE)
    _summaries(session, found.ids)
    return found.total


def old_search(session: Session, vocabulary: Vocabulary, raw: str) -> int:
    plan = search.plan_query(raw, vocabulary)
    postgres = session.get_bind().dialect.name == "postgresql"
    for joiner in ("AND", "OR"):
        if postgres:
            op = "&" if joiner == "AND" else "|"
            expression = f" {op} ".join(f"{w}:*" for w in plan.words)
            count_sql, page_sql = _OLD_PG_COUNT, _OLD_PG_PAGE
        else:
            expression = f" {joiner} ".join(f'"{w}"*' for w in plan.words)
            count_sql, page_sql = _OLD_SQLITE_COUNT, _OLD_SQLITE_PAGE
        total = int(session.execute(count_sql, {"expression": expression}).scalar_one())
        if total:
            params = {"expression": expression, "limit": PAGE_SIZE}
            ids = [int(i) for i in session.execute(page_sql, params).scalars()]
            _summaries(session, ids)
            return total
    return 0


# ---------------------------------------------------------------- the databases


def sqlite_copies(source: Path, scratch: Path) -> dict[int, Path]:
    """A writable copy of the source (WAL folded in) and a copy cut to SMALL products."""
    big = scratch / "big.db"
    with (
        closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(big)) as dst,
    ):
        src.backup(dst)
    small = scratch / "small.db"
    shutil.copyfile(big, small)
    with closing(sqlite3.connect(small)) as conn:
        # Foreign keys are off on a plain sqlite3 connection: the cut needs no cascade order.
        conn.execute("DROP TRIGGER product_fts_delete")
        for table in ("product_images", "product_variants"):
            conn.execute(f"DELETE FROM {table} WHERE product_id > ?", (SMALL,))
        conn.execute("DELETE FROM products WHERE id > ?", (SMALL,))
        conn.execute("INSERT INTO product_fts(product_fts) VALUES ('rebuild')")
        conn.execute(
            """CREATE TRIGGER product_fts_delete AFTER DELETE ON products BEGIN
            INSERT INTO product_fts(product_fts, rowid, name, brand, search_text)
            VALUES ('delete', old.id, old.name, old.brand, old.search_text);
        END"""
        )
        conn.commit()
        conn.execute("VACUUM")
    with closing(sqlite3.connect(big)) as conn:
        conn.execute("ANALYZE")
    with closing(sqlite3.connect(small)) as conn:
        conn.execute("ANALYZE")
    return {SMALL: small, 100_000: big}


@contextmanager
def postgres_copy(sqlite_db: Path, schema: str) -> Iterator[Engine]:
    """A migrated PostgreSQL schema holding the SQLite database's categories and products."""
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade_to_head(engine)
        source = make_engine(f"sqlite:///{sqlite_db}")
        with source.connect() as src, engine.begin() as dst:
            categories = [dict(r._mapping) for r in src.execute(select(Category.__table__))]
            placed: set[Any] = {None}
            while categories:  # parents before children
                ready = [c for c in categories if c["parent_id"] in placed]
                dst.execute(insert(Category), ready)
                placed |= {c["id"] for c in ready}
                categories = [c for c in categories if c["id"] not in placed]
            rows = src.execute(select(Product.__table__)).mappings()
            while chunk := [dict(r) for r in rows.fetchmany(5_000)]:
                dst.execute(insert(Product), chunk)
            dst.execute(text(_OLD_PG_INDEX))
            dst.execute(text("ANALYZE products"))
        source.dispose()
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def measure(engines: dict[int, Engine], runs: int) -> Results:
    """Every query, new and old, at each size, the sizes and the two codes interleaved run
    by run: the machine is shared, and a load that comes and goes then weighs on all
    four columns alike instead of on whichever ran during it."""
    sessions = {size: Session(engine) for size, engine in engines.items()}
    try:
        vocabularies = {size: load_vocabulary(s) for size, s in sessions.items()}
        results: Results = {size: {} for size in engines}
        for label, raw in QUERIES:
            times: dict[tuple[int, str], list[float]] = {}
            totals: dict[tuple[int, str], int] = {}
            for run in range(runs + 1):  # the first run warms the caches and is not kept
                for size, session in sessions.items():
                    for code, search_with in (("new", new_search), ("old", old_search)):
                        start = time.perf_counter()
                        totals[size, code] = search_with(session, vocabularies[size], raw)
                        took = (time.perf_counter() - start) * 1000
                        if run:
                            times.setdefault((size, code), []).append(took)
            for size in engines:
                results[size][label] = (
                    _timing(times[size, "new"], totals[size, "new"]),
                    _timing(times[size, "old"], totals[size, "old"]),
                )
        return results
    finally:
        for session in sessions.values():
            session.close()


def report(database: str, results: Results) -> None:
    small, big = results[SMALL], results[100_000]
    print(f"\n{database}: median ms (best), matches; ratio = 100,000 / 1,200 on the median")
    print(
        f"{'query':<22} {'new 1,200':>20} {'new 100,000':>22} {'ratio':>6}"
        f" {'old 1,200':>20} {'old 100,000':>24} {'ratio':>6}"
    )
    for label, raw in QUERIES:
        (new_s, old_s), (new_b, old_b) = small[label], big[label]

        def cell(t: Timing) -> str:
            return f"{t.median_ms:.2f} ({t.best_ms:.2f}) {t.total:>5}"

        print(
            f"{label + ' ' + repr(raw):<22} {cell(new_s):>20} {cell(new_b):>22}"
            f" {new_b.median_ms / new_s.median_ms:>6.2f}"
            f" {cell(old_s):>20} {cell(old_b):>24} {old_b.median_ms / old_s.median_ms:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=Path("/tmp/c100k/quietshop.db"))
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="search-scale-") as scratch:
        copies = sqlite_copies(args.source, Path(scratch))
        engines = {size: make_engine(f"sqlite:///{path}") for size, path in copies.items()}
        try:
            report("SQLite", measure(engines, args.runs))
        finally:
            for engine in engines.values():
                engine.dispose()
        if args.no_postgres:
            return
        with ExitStack() as stack:
            engines = {
                size: stack.enter_context(postgres_copy(path, f"bench_search_{size}_{os.getpid()}"))
                for size, path in copies.items()
            }
            report("PostgreSQL", measure(engines, args.runs))


if __name__ == "__main__":
    main()
