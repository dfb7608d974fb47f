"""Full-text search on SQLite FTS5 or PostgreSQL text search, behind one function.

User text never reaches the search engine's query language: it is cut into words of
letters and digits, each word is corrected against the catalog vocabulary, and the
engine query is built from those words alone, so ``" OR 1=1 --`` or ``NEAR(`` are
just words (or nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from quietshop.catalog.spelling import Vocabulary, words_of

MAX_QUERY_CHARS = 200
MAX_WORDS = 8


@dataclass(frozen=True)
class QueryPlan:
    original: str
    words: tuple[str, ...]
    corrected: bool


def document_text(*parts: str) -> str:
    """Plain words only, so both engines tokenise SKUs alike ("QS-10423-2M" -> "qs 10423 2m")."""
    return " ".join(words_of(" ".join(parts)))


def plan_query(raw: str, vocabulary: Vocabulary) -> QueryPlan:
    """Words to search for: the shopper's words, typos corrected against the catalog."""
    cleaned = "".join(ch for ch in raw if ch.isprintable())[:MAX_QUERY_CHARS].strip()
    words = words_of(cleaned)[:MAX_WORDS]
    fixed = tuple(vocabulary.correct(word) for word in words)
    return QueryPlan(original=cleaned, words=fixed, corrected=fixed != tuple(words))


def _fts5_expression(words: tuple[str, ...], joiner: str) -> str:
    # Each word is letters and digits only (see words_of), so quoting cannot be escaped.
    return f" {joiner} ".join(f'"{word}"*' for word in words)


def _tsquery_expression(words: tuple[str, ...], joiner: str) -> str:
    return f" {joiner} ".join(f"{word}:*" for word in words)


_SQLITE_SEARCH = text(
    """
    SELECT product_fts.rowid AS id
    FROM product_fts JOIN products ON products.id = product_fts.rowid
    WHERE product_fts MATCH :expression AND products.active
    ORDER BY bm25(product_fts, 10.0, 4.0, 1.0), products.price_cents
    LIMIT :limit OFFSET :offset
    """
)
_SQLITE_COUNT = text(
    """
    SELECT count(*) FROM product_fts JOIN products ON products.id = product_fts.rowid
    WHERE product_fts MATCH :expression AND products.active
    """
)
# The weighted document must match the expression index created by the migration.
_PG_DOCUMENT = (
    "(setweight(to_tsvector('english', products.name), 'A') || "
    "setweight(to_tsvector('english', products.brand), 'B') || "
    "setweight(to_tsvector('english', products.search_text), 'C'))"
)
_PG_SEARCH = text(  # the f-string holds only the constant _PG_DOCUMENT
    f"""
    SELECT products.id AS id FROM products
    WHERE products.active AND {_PG_DOCUMENT} @@ to_tsquery('english', :expression)
    ORDER BY ts_rank({_PG_DOCUMENT}, to_tsquery('english', :expression)) DESC,
             products.price_cents, products.id
    LIMIT :limit OFFSET :offset
    """  # noqa: S608
).bindparams(bindparam("expression"))
_PG_COUNT = text(
    f"""
    SELECT count(*) FROM products
    WHERE products.active AND {_PG_DOCUMENT} @@ to_tsquery('english', :expression)
    """  # noqa: S608
)


def _run(
    session: Session, words: tuple[str, ...], joiner: str, page: int, page_size: int
) -> tuple[list[int], int]:
    if session.get_bind().dialect.name == "postgresql":
        expression = _tsquery_expression(words, "&" if joiner == "AND" else "|")
        search_sql, count_sql = _PG_SEARCH, _PG_COUNT
    else:
        expression = _fts5_expression(words, joiner)
        search_sql, count_sql = _SQLITE_SEARCH, _SQLITE_COUNT
    total = int(session.execute(count_sql, {"expression": expression}).scalar_one())
    if total == 0:
        return [], 0
    ids = session.execute(
        search_sql,
        {"expression": expression, "limit": page_size, "offset": (page - 1) * page_size},
    ).scalars()
    return [int(i) for i in ids], total


def find_product_ids(
    session: Session, words: tuple[str, ...], page: int, page_size: int
) -> tuple[list[int], int]:
    """Ids of matching active products, best first, and how many match in all.

    Every word must match; if nothing does, any word may (so one odd word does not
    empty the page).
    """
    ids, total = _run(session, words, "AND", page, page_size)
    if total == 0 and len(words) > 1:
        ids, total = _run(session, words, "OR", page, page_size)
    return ids, total


# ---------------------------------------------------------------- indexing many products
#
# SQLite's FTS5 table follows the products table through triggers (migration 0001, again
# in 0005). Row by row, its insert trigger costs about 0.5 ms a product here, five times
# what one INSERT ... SELECT into the index costs for the same rows: an import of 50,000
# products would spend most of its time there. So a bulk insert drops the insert trigger,
# indexes the new rows in one statement, and creates the trigger again, all inside the
# writer's transaction (DDL is transactional on SQLite, and the writer holds the
# database's write lock: no other connection inserts a product meanwhile). PostgreSQL's
# index is an expression index, kept by the database itself.
SQLITE_INSERT_TRIGGER = """CREATE TRIGGER product_fts_insert AFTER INSERT ON products BEGIN
        INSERT INTO product_fts(rowid, name, brand, search_text)
        VALUES (new.id, new.name, new.brand, new.search_text);
    END"""  # exactly as the migrations create it (tests/catalog/test_csv_io.py checks)
_INDEX_ROWS = text(
    "INSERT INTO product_fts(rowid, name, brand, search_text) "
    "SELECT id, name, brand, search_text FROM products WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_INDEX_CHUNK = 500


def insert_indexed(connection: Connection, insert_rows: Callable[[], Sequence[int]]) -> None:
    """Run ``insert_rows`` (it inserts products and returns their ids) and have the new
    products in the full-text index, on SQLite in one statement per 500 products rather
    than one trigger run per product. The trigger is back whatever ``insert_rows`` does."""
    if connection.dialect.name != "sqlite":
        insert_rows()
        return
    connection.exec_driver_sql("DROP TRIGGER product_fts_insert")
    try:
        ids = list(insert_rows())
        for start in range(0, len(ids), _INDEX_CHUNK):
            connection.execute(_INDEX_ROWS, {"ids": ids[start : start + _INDEX_CHUNK]})
    finally:
        connection.exec_driver_sql(SQLITE_INSERT_TRIGGER)
