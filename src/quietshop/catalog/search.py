"""Full-text search on SQLite FTS5 or PostgreSQL text search, behind one function.

User text never reaches the search engine's query language: it is cut into words of
letters and digits, each word is corrected against the catalog vocabulary, and the
engine query is built from those words alone, so ``" OR 1=1 --`` or ``NEAR(`` are
just words (or nothing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from quietshop.catalog.schemas import SearchSort, Suggestion, Suggestions
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


# ---------------------------------------------------------------- bounded candidates
#
# Counting and ranking every match costs in proportion to the matches: "cable" matches
# 48,615 of 100,000 demo products, and ORDER BY bm25 over all of them took 36.6 ms on
# SQLite where the first 1,000 matches with their bm25 took 2.1 ms (PostgreSQL's ts_rank
# recomputed to_tsvector for each match: 582 ms a page at 10,000). So a search gathers at
# most MAX_CANDIDATES matching active products, in tiers -- first those whose NAME
# matches, then the rest -- with each one's rank read in the same statement (no ORDER BY,
# so the engine stops at the LIMIT), reads the few columns another sort needs in one more
# statement, and sorts and pages them in Python. Its cost is bounded by the cap, not the
# catalog; the count is exact below the cap and "more than 1,000" beyond it.
MAX_CANDIDATES = 1000


@dataclass(frozen=True)
class Found:
    ids: list[int]  # this page's, in order
    total: int  # exact when not capped; else the candidates gathered (MAX_CANDIDATES)
    capped: bool  # more matched than were gathered


def _fts5_expression(words: tuple[str, ...], joiner: str) -> str:
    # Each word is letters and digits only (see words_of), so quoting cannot be escaped.
    return f" {joiner} ".join(f'"{word}"*' for word in words)


def _tsquery_expression(words: tuple[str, ...], joiner: str, weights: str = "") -> str:
    # As above: letters and digits only, so no tsquery operator can come from the shopper.
    return f" {joiner} ".join(f"{word}:*{weights}" for word in words)


# SQLite: the FTS5 table alone, without joining products. Joined, the same 1,000 rows with
# their bm25 took 6.8 ms here against 2.2 ms alone (0.24 ms without bm25), so the active
# flag is read afterwards for the gathered ids only, and the sort columns only when a sort
# other than relevance needs them.
_SQLITE_RANKED = text(
    "SELECT rowid, bm25(product_fts, 10.0, 4.0, 1.0) FROM product_fts "
    "WHERE product_fts MATCH :expression LIMIT :limit"
)
_SQLITE_UNRANKED = text(
    "SELECT rowid, 0.0 FROM product_fts WHERE product_fts MATCH :expression LIMIT :limit"
)
# The ids go as one JSON array (SQLite) or one array (PostgreSQL), not as 1,000 bound
# parameters, whose expansion alone cost about 2 ms a statement here.
_INACTIVE_AMONG = text(
    "SELECT id FROM products WHERE id IN (SELECT value FROM json_each(:ids)) AND NOT active"
)
# PostgreSQL: the stored vector (migration 0019) holds the name as weight A, so 'word:*A'
# matches names; ts_rank reads the stored vector instead of recomputing it per row. The
# planner's estimate ignores weights and negation (it counts 'cable:*' matches for
# 'cable:*A'), so with a LIMIT it picks a sequential scan "that stops early", which for a
# word common in descriptions and rare in names read all 100,000 rows (418 ms). Each
# statement therefore runs with sequential scans off (_gin_plans), and ``coalesce`` keeps
# the btree indexes that lead with ``active`` out of the choice (``active IS TRUE`` did
# not: it walked ix_products_newest, filtering): the plan is the GIN index's bitmap, then
# the rows up to the LIMIT.
_PG_RANKED = text(
    "SELECT id, -ts_rank(search_vector, to_tsquery('english', :ranked)) FROM products "
    "WHERE coalesce(active, false) AND search_vector @@ to_tsquery('english', :expression) "
    "LIMIT :limit"
)
_PG_UNRANKED = text(
    "SELECT id, 0.0 FROM products "
    "WHERE coalesce(active, false) AND search_vector @@ to_tsquery('english', :expression) "
    "LIMIT :limit"
)
_PG_SEQSCAN_OFF = text("SET LOCAL enable_seqscan = off")
_PG_SEQSCAN_ON = text("SET LOCAL enable_seqscan = on")


@contextmanager
def _gin_plans(connection: Connection) -> Iterator[None]:
    """On PostgreSQL, plan the statements inside on the GIN index (see _PG_RANKED)."""
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(_PG_SEQSCAN_OFF)
    try:
        yield
    finally:
        connection.execute(_PG_SEQSCAN_ON)


_SQLITE_SORT_COLUMNS = text(
    "SELECT id, price_cents, created_at, name FROM products "
    "WHERE id IN (SELECT value FROM json_each(:ids))"
)
_PG_SORT_COLUMNS = text(
    "SELECT id, price_cents, created_at, name FROM products WHERE id = ANY(:ids)"
)


def _tiers(
    postgres: bool, words: tuple[str, ...], joiner: str, ranked: bool
) -> tuple[Any, list[dict[str, str]]]:
    """The statement and, per tier, its parameters: the name matches, then the matches
    whose name does not match (so the second tier ranks no product twice; it skips at
    most the first tier's few rows, as that tier was not full when it runs)."""
    if postgres:
        op = "&" if joiner == "AND" else "|"
        anywhere = _tsquery_expression(words, op)
        in_name = _tsquery_expression(words, op, "A")
        return (_PG_RANKED if ranked else _PG_UNRANKED), [
            {"expression": in_name, "ranked": anywhere},
            {"expression": f"({anywhere}) & !({in_name})", "ranked": anywhere},
        ]
    anywhere = _fts5_expression(words, joiner)
    in_name = f"{{name}} : ({anywhere})"
    statement = _SQLITE_RANKED if ranked else _SQLITE_UNRANKED
    return statement, [{"expression": in_name}, {"expression": f"({anywhere}) NOT ({in_name})"}]


_TOP_UP_ROUNDS = 3  # a tier asks again for the rows inactive products took, this often
# SQLite: up to this many inactive products are read as one set (index entries only, about
# 0.1 ms); more, and each search looks its candidates up instead. Looked up one by one,
# 1,000 candidates spread over 100,000 products took 14-20 ms (a table page each), so a
# shop with few products off sale -- the usual case -- pays almost nothing for the flag.
INACTIVE_SET_LIMIT = 2000
_INACTIVE = text("SELECT id FROM products WHERE active = 0 LIMIT :limit")


class _InactiveFilter:
    """Which of some product ids are not on sale (SQLite, whose FTS5 table has them all)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._all: set[int] | None = None
        self._read = False

    def among(self, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        if not self._read:
            found = self._connection.execute(_INACTIVE, {"limit": INACTIVE_SET_LIMIT + 1})
            every = set(found.scalars().all())
            self._all = every if len(every) <= INACTIVE_SET_LIMIT else None
            self._read = True
        if self._all is not None:
            return self._all.intersection(ids)
        found = self._connection.execute(_INACTIVE_AMONG, {"ids": json.dumps(ids)})
        return set(found.scalars().all())


def gather_candidates(
    session: Session, words: tuple[str, ...], joiner: str = "AND", ranked: bool = True
) -> tuple[dict[int, tuple[int, float]], bool]:
    """At most MAX_CANDIDATES matching active products, name matches first, as
    ``{id: (tier, rank)}`` (tier 0: the name matches; rank: lower is better, 0.0 when not
    ``ranked``), and whether more matched than were gathered.

    Each tier asks for one active row more than there is room for: that row says the
    cap is reached; without it every match was gathered and the count is exact.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    statement, tiers = _tiers(postgres, words, joiner, ranked)
    connection = session.connection()
    inactive = None if postgres else _InactiveFilter(connection)
    gathered: dict[int, tuple[int, float]] = {}
    with _gin_plans(connection):
        for tier, params in enumerate(tiers):
            room = MAX_CANDIDATES - len(gathered)
            rows = _active_rows(connection, statement, params, inactive, room + 1)
            for product_id, rank in rows[:room]:
                gathered[product_id] = (tier, rank)
            if len(rows) > room:
                return gathered, True
    return gathered, False


def _active_rows(
    connection: Connection,
    statement: Any,
    params: dict[str, str],
    inactive: _InactiveFilter | None,
    wanted: int,
) -> list[tuple[int, float]]:
    """Up to ``wanted`` rows of a tier's active products. PostgreSQL filters on ``active``
    in the statement (``inactive`` is None); SQLite's FTS5 statement cannot (see
    _SQLITE_RANKED), so the inactive ones are dropped here and the tier asked again for
    as many more rows, a few rounds at most (after them, the rows found are all there is
    to say: a tier with that many inactive matches is taken to have no more)."""
    limit = wanted
    active: list[tuple[int, float]] = []
    for _ in range(_TOP_UP_ROUNDS):
        # fetchall, not row by row: iterating a result fetches one row a call (13 ms of
        # the 18 a search for a common word took here)
        result = connection.execute(statement, {**params, "limit": limit}).all()
        rows: list[tuple[int, float]] = [tuple(row) for row in result]
        if inactive is None:
            return rows
        off_sale = inactive.among([i for i, _ in rows])
        active = [row for row in rows if row[0] not in off_sale] if off_sale else rows
        if len(rows) < limit or len(active) >= wanted:
            return active[:wanted]
        limit += len(rows) - len(active)
    return active


def _ordered_ids(
    session: Session, gathered: dict[int, tuple[int, float]], order: SearchSort
) -> list[int]:
    if order is SearchSort.relevance:
        # name matches first, then the engine's rank, the older product first on a tie
        return sorted(gathered, key=lambda i: (*gathered[i], i))
    ids: dict[str, object]
    if session.get_bind().dialect.name == "postgresql":
        statement, ids = _PG_SORT_COLUMNS, {"ids": list(gathered)}
    else:
        statement, ids = _SQLITE_SORT_COLUMNS, {"ids": json.dumps(list(gathered))}
    rows = list(session.connection().execute(statement, ids).all())
    if order is SearchSort.newest:
        # created_at is a string on SQLite and a datetime on PostgreSQL, never both at once
        rows.sort(key=lambda r: (r[2], r[0]), reverse=True)
    elif order is SearchSort.name:
        rows.sort(key=lambda r: (r[3].casefold(), r[0]))
    elif order is SearchSort.price_desc:
        rows.sort(key=lambda r: (-r[1], r[3].casefold(), r[0]))
    else:
        rows.sort(key=lambda r: (r[1], r[3].casefold(), r[0]))
    return [int(r[0]) for r in rows]


def find_products(
    session: Session,
    words: tuple[str, ...],
    page: int,
    page_size: int,
    order: SearchSort = SearchSort.relevance,
) -> Found:
    """This page of matching active products among the bounded candidates.

    Every word must match; if nothing does, any word may (so one odd word does not
    empty the page). A page past the candidates is empty, never an error.
    """
    ranked = order is SearchSort.relevance
    gathered, capped = gather_candidates(session, words, "AND", ranked)
    if not gathered and len(words) > 1:
        gathered, capped = gather_candidates(session, words, "OR", ranked)
    if not gathered:
        return Found(ids=[], total=0, capped=False)
    start = (page - 1) * page_size
    if start >= len(gathered):
        return Found(ids=[], total=len(gathered), capped=capped)
    ordered = _ordered_ids(session, gathered, order)
    return Found(ids=ordered[start : start + page_size], total=len(gathered), capped=capped)


# The name tier alone, for suggestions as the shopper types: a few rows, no ranking.
SUGGEST_LIMIT = 8
_SQLITE_SUGGEST = text(
    """
    SELECT products.name, products.slug
    FROM product_fts JOIN products ON products.id = product_fts.rowid
    WHERE product_fts MATCH :expression AND products.active
    LIMIT :limit
    """
)
_PG_SUGGEST = text(  # planned on the GIN index, as _PG_RANKED is
    """
    SELECT products.name, products.slug FROM products
    WHERE coalesce(products.active, false)
      AND products.search_vector @@ to_tsquery('english', :expression)
    LIMIT :limit
    """
)


SUGGEST_MIN_CHARS = 2  # FTS5's smallest prefix index (migration 0001: prefix='2 3 4')


def suggest(session: Session, raw: str, limit: int = SUGGEST_LIMIT) -> Suggestions:
    """Up to ``limit`` products (distinct names) whose name has words starting with each
    word typed so far, uncorrected: the shopper is still typing. Words shorter than
    SUGGEST_MIN_CHARS are left out (a one-letter prefix has no prefix index to stop at)."""
    cleaned = "".join(ch for ch in raw if ch.isprintable())[:MAX_QUERY_CHARS]
    words = tuple(w for w in words_of(cleaned) if len(w) >= SUGGEST_MIN_CHARS)[:MAX_WORDS]
    if not words:
        return Suggestions(suggestions=[])
    if session.get_bind().dialect.name == "postgresql":
        statement = _PG_SUGGEST
        expression = _tsquery_expression(words, "&", "A")
    else:
        statement = _SQLITE_SUGGEST
        expression = f"{{name}} : ({_fts5_expression(words, 'AND')})"
    # A few more rows than shown, so products of the same name still fill the list.
    connection = session.connection()
    with _gin_plans(connection):
        rows = connection.execute(statement, {"expression": expression, "limit": limit * 3}).all()
    seen: set[str] = set()
    picked: list[Suggestion] = []
    for row in rows:
        if row.name.casefold() in seen:
            continue
        seen.add(row.name.casefold())
        picked.append(Suggestion(name=row.name, url=f"/products/{quote(row.slug, safe='')}"))
        if len(picked) >= limit:
            break
    return Suggestions(suggestions=picked)


# ---------------------------------------------------------------- indexing many products
#
# SQLite's FTS5 table follows the products table through triggers (migration 0001, again
# in 0005). Row by row, its insert trigger costs about 0.5 ms a product here, five times
# what one INSERT ... SELECT into the index costs for the same rows: an import of 50,000
# products would spend most of its time there. So a bulk insert drops the insert trigger,
# indexes the new rows in one statement, and creates the trigger again, all inside the
# writer's transaction (DDL is transactional on SQLite, and the writer holds the
# database's write lock: no other connection inserts a product meanwhile). PostgreSQL's
# search vector is a stored generated column (migration 0019), kept by the database itself.
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
