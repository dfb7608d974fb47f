"""The demo catalog the benchmarks run on, and the real URLs picked from its database."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import quote_plus

from measurements import Catalog, Page
from servers import BENCH_DIR, REPO_DIR, base_env, quietshop_command

OUT_DIR = BENCH_DIR / "out"  # data dirs and server logs
SEARCH_QUERY = "hdmi cable"


def prepare(data_dir: Path) -> Catalog:
    """``quietshop migrate`` and ``quietshop demo --no-serve`` in ``data_dir`` (SQLite)."""
    env = base_env(data_dir)
    command = quietshop_command()
    for step in (["migrate"], ["demo", "--no-serve"]):
        done = subprocess.run(
            [*command, *step], env=env, cwd=REPO_DIR, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"quietshop {' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    return pick_urls(data_dir / "quietshop.db")


def pick_urls(db: Path) -> Catalog:
    """The top-level category with most products, and its median product by variant count."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        category_slug, category_products = _biggest_top_level_category(conn)
        products = _products_by_variant_count(conn, category_slug)
        (product_count,) = conn.execute("SELECT COUNT(*) FROM products WHERE active").fetchone()
    product_slug, variants = products[len(products) // 2]
    catalog = Catalog(
        category_slug=category_slug,
        category_products=category_products,
        product_slug=product_slug,
        product_variants=variants,
        product_count=product_count,
    )
    catalog.pages = [
        Page("home", "/"),
        Page("category", f"/categories/{category_slug}"),
        Page("product", f"/products/{product_slug}"),
        Page("search", f"/search?q={quote_plus(SEARCH_QUERY)}"),
        Page("api products", "/api/v1/products"),
    ]
    return catalog


# Slug and active product count (subcategories included) of the biggest root category;
# plain SQL that SQLite and PostgreSQL both run (catalog_scale.py asks both).
BIGGEST_CATEGORY_SQL = """
    WITH RECURSIVE tree(root, id) AS (
        SELECT id, id FROM categories WHERE parent_id IS NULL
        UNION ALL
        SELECT tree.root, c.id FROM categories c JOIN tree ON c.parent_id = tree.id
    )
    SELECT r.slug, COUNT(p.id) AS n
    FROM tree JOIN categories r ON r.id = tree.root
    LEFT JOIN products p ON p.category_id = tree.id AND p.active
    GROUP BY r.id, r.slug ORDER BY n DESC, r.slug LIMIT 1
"""


def _biggest_top_level_category(conn: sqlite3.Connection) -> tuple[str, int]:
    """Slug and active product count (subcategories included) of the biggest root category."""
    slug, count = conn.execute(BIGGEST_CATEGORY_SQL).fetchone()
    return str(slug), int(count)


def _products_by_variant_count(
    conn: sqlite3.Connection, category_slug: str
) -> list[tuple[str, int]]:
    """(slug, variants) of the category's active products, fewest variants first."""
    rows = conn.execute(
        """
        WITH RECURSIVE tree(id) AS (
            SELECT id FROM categories WHERE slug = ?
            UNION ALL
            SELECT c.id FROM categories c JOIN tree ON c.parent_id = tree.id
        )
        SELECT p.slug, COUNT(v.id) AS variants
        FROM products p JOIN product_variants v ON v.product_id = p.id
        WHERE p.active AND p.category_id IN (SELECT id FROM tree)
        GROUP BY p.id ORDER BY variants, p.sku
        """,
        (category_slug,),
    ).fetchall()
    return [(str(slug), int(variants)) for slug, variants in rows]
