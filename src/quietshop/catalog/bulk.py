"""The bulk upsert behind the CSV import (csv_io.py) and the demo loader (demo.py).

It follows the rules of the single edits (admin.py's checks, ``service._validate_draft``)
and records the same changes, but builds no ORM object per row: existing rows are read in
chunks as plain tuples by statements built once, new ones inserted with one executemany
(COPY on PostgreSQL), changed ones updated by primary key in one executemany, and only
what differs is written, so importing the same file twice changes nothing the second
time and records no change.
Full-text search stays current: on SQLite the new rows are indexed in one statement
(``search.insert_indexed``), and updates go through the index's update trigger;
PostgreSQL keeps its own index, computed from the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    JSON,
    BindParameter,
    Connection,
    TypeDecorator,
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.orm import Session

from quietshop.catalog import admin, search
from quietshop.catalog.models import Category, Product, ProductImage, ProductVariant
from quietshop.catalog.service import EVERYTHING, ProductDraft, VariantDraft, _Change, _record
from quietshop.errors import InvalidInput

if TYPE_CHECKING:
    import psycopg

# Above this many changed products one call records one whole-catalog change: every
# process drops its pages once, rather than reading hundreds of product changes.
MANY_CHANGES = 500

# What an upsert compares and writes, in this order; a product's slug, picture and
# creation time are never changed by it (a catalog file does not hold them).
PRODUCT_FIELDS = (
    "name", "brand", "description", "category_id", "price_cents", "was_price_cents",
    "currency", "stock", "variant_count", "weight_grams", "warranty_months",
    "warranty_terms", "active", "search_text",
)  # fmt: skip
VARIANT_FIELDS = (
    "label", "options", "price_cents", "was_price_cents", "stock", "weight_grams", "position",
)  # fmt: skip

# Built once (building a statement costs more than running it on SQLite: queries.py).
_PRODUCTS = select(
    Product.sku, Product.id, *(getattr(Product, name) for name in PRODUCT_FIELDS)
).where(Product.sku.in_(bindparam("skus", expanding=True)))
_VARIANTS = select(
    ProductVariant.product_id,
    ProductVariant.sku,
    ProductVariant.id,
    *(getattr(ProductVariant, name) for name in VARIANT_FIELDS),
).where(ProductVariant.product_id.in_(bindparam("ids", expanding=True)))
_CATEGORIES = select(Category.id, Category.slug, Category.name, Category.parent_id)
_DELETE_VARIANTS = delete(ProductVariant).where(
    ProductVariant.id.in_(bindparam("ids", expanding=True))
)
_INSERT_VARIANTS = insert(ProductVariant)


_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}  # the drivers' placeholders


class _DriverLookup:
    """A SELECT of plain text and number columns by a list of keys (``IN``), handed to
    the driver: SQLAlchemy rebuilt an expanding IN of 500 keys on every run, which cost
    more than SQLite's own index lookups (bench/catalog_import.py). The keys go as
    parameters, 500 at a time; other paramstyles than ? and %s go through SQLAlchemy."""

    def __init__(self, statement: Any, sql: str) -> None:
        self.statement = statement  # the same query with an expanding "keys" parameter
        self.sql = sql  # with {marks} where the keys' placeholders go

    def rows(self, connection: Connection, keys: Sequence[Any]) -> list[tuple[Any, ...]]:
        mark = _MARKS.get(connection.dialect.paramstyle)
        found: list[tuple[Any, ...]] = []
        for chunk in admin.chunks(keys):
            if mark is None:
                result = connection.execute(self.statement, {"keys": list(chunk)})
                found.extend(tuple(row) for row in result)
                continue
            marks = ", ".join([mark] * len(chunk))
            # Our own statement; every key goes as a parameter.
            cursor = connection.exec_driver_sql(self.sql.format(marks=marks), tuple(chunk))
            found.extend(tuple(row) for row in cursor)
        return found


_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_OWNERS = _DriverLookup(
    select(ProductVariant.sku, Product.sku)
    .join(Product, Product.id == ProductVariant.product_id)
    .where(ProductVariant.sku.in_(_KEYS)),
    "SELECT product_variants.sku, products.sku FROM product_variants "
    "JOIN products ON products.id = product_variants.product_id "
    "WHERE product_variants.sku IN ({marks})",
)
_SLUGS = _DriverLookup(
    select(Product.slug).where(Product.slug.in_(_KEYS)),
    "SELECT slug FROM products WHERE slug IN ({marks})",
)
_IDS = _DriverLookup(
    select(Product.sku, Product.id).where(Product.sku.in_(_KEYS)),
    "SELECT sku, id FROM products WHERE sku IN ({marks})",
)


class _DriverInsert:
    """An INSERT of many rows (tuples, in ``columns`` order) handed to the driver's own
    executemany, each value through its column type's bind processing, as SQLAlchemy
    would: its per-row work for the same statement cost more than the database's own
    (bench/catalog_import.py). On PostgreSQL with psycopg the rows go through COPY. Other
    paramstyles than ? and %s go through SQLAlchemy."""

    def __init__(self, table: Any, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)

    def _costly(self, name: str) -> bool:
        # JSON's and our own types' processing (UTC times) cost microseconds a value;
        # the others' (a boolean to 0 or 1) less than remembering them would.
        column_type = self.table.c[name].type
        return isinstance(column_type, JSON | TypeDecorator)

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        dialect = connection.dialect
        mark = _MARKS.get(dialect.paramstyle)
        if mark is None:
            connection.execute(
                insert(self.table), [dict(zip(self.columns, row, strict=True)) for row in rows]
            )
            return
        quote = dialect.identifier_preparer.quote
        names = ", ".join(map(quote, self.columns))
        marks = ", ".join([mark] * len(self.columns))
        # Our own table's and columns' names, quoted; every value goes as a parameter.
        sql = f"INSERT INTO {quote(self.table.name)} ({names}) VALUES ({marks})"  # noqa: S608
        processors = [
            self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.columns
        ]
        convert = [
            (index, _once_per_value(processor) if self._costly(name) else processor)
            for index, (name, processor) in enumerate(zip(self.columns, processors, strict=True))
            if processor is not None
        ]
        bound = []
        for row in rows:
            values = list(row)
            for index, processor in convert:
                values[index] = processor(values[index])
            bound.append(tuple(values))
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            self._copy(connection, f"{quote(self.table.name)} ({names})", bound)
            return
        connection.exec_driver_sql(sql, bound)

    @staticmethod
    def _copy(connection: Connection, target: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """PostgreSQL: the rows through COPY, in the connection's transaction. The inserts
        of 20,000 demo products with their variants and pictures took 51 s as executemany
        and 12 s as COPY, on the same busy machine (bench/catalog_import.py --loader)."""
        # The psycopg connection under SQLAlchemy's (the caller checked the driver).
        raw = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
        with raw.cursor() as cursor:
            # The foreign-key checks of each row run a saved plan, which a bulk write's
            # force_custom_plan (_BULK_PLANNER) would plan again for every row: twice the
            # time for the variants. Their plan is a primary-key look-up at any size.
            cursor.execute("SELECT current_setting('plan_cache_mode')")
            found = cursor.fetchone()
            before = str(found[0]) if found else "auto"
            if before != "auto":
                cursor.execute("SET LOCAL plan_cache_mode = auto")
            # Our own table's and columns' names, quoted; the values go as COPY data.
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            if before != "auto" and before in _PLANNER_VALUES["plan_cache_mode"]:
                cursor.execute(f"SET LOCAL plan_cache_mode = {before}")


_NOT_YET = object()


def _memo_key(value: Any) -> Any:
    """A key equal only for values a bind processor turns into the same thing (the type
    is part of it: True and 1 are equal in Python, not in JSON), or None for no key."""
    if type(value) is dict:
        items = tuple(value.items())
        # Options are texts: then the items alone say what the JSON is, and building the
        # tuple of their types cost as much as the JSON (bench/catalog_import.py).
        if all(type(item) is str for _, item in items):
            return (dict, items)
        key: Any = (items, tuple(map(type, value.values())))
    elif isinstance(value, dict):
        key = (type(value), tuple(value.items()), tuple(map(type, value.values())))
    else:
        key = (type(value), value)
    try:
        hash(key)
    except TypeError:  # a list, or a dict holding one
        return None
    return key


def _once_per_value(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor`` run once per distinct value of one batch: a batch repeats a few
    options ({"colour": "Black"}) and one creation time thousands of times, and their JSON
    and date processing was a tenth of an import's time (bench/catalog_import.py)."""
    done: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        key = _memo_key(value)
        if key is None:
            return processor(value)
        found = done.get(key, _NOT_YET)
        if found is _NOT_YET:
            found = done[key] = processor(value)
        return found

    return convert


_NEW_PRODUCTS = _DriverInsert(
    Product.__table__, ("sku", "slug", "image_file", "image_alt", "created_at", *PRODUCT_FIELDS)
)
_NEW_VARIANTS = _DriverInsert(ProductVariant.__table__, ("product_id", "sku", *VARIANT_FIELDS))
_NEW_IMAGES = _DriverInsert(ProductImage.__table__, ("product_id", "position", "file", "alt"))


# SQLite's page cache for a bulk write, in KiB: the products table's eight B-trees (the
# listing indexes, SKU, slug) outgrow the default 2 MiB at a few thousand products, and
# every insert after that reads and spills pages (50,000 products: half the insert time,
# bench/catalog_import.py). Memory is taken only as pages are used, and given back after.
BULK_CACHE_KIB = 64 * 1024


@contextmanager
def bulk_write_settings(session: Session) -> Iterator[None]:
    """Settings for a bulk write on this session's connection while the block runs, and
    its own again after. SQLite: a page cache of ``BULK_CACHE_KIB``. PostgreSQL: plans
    that use the key indexes whatever the statistics say (``_BULK_PLANNER``)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        with _index_plans(connection):
            yield
        return
    if connection.dialect.name != "sqlite":
        yield
        return
    before = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
    connection.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB:d}")
    try:
        yield
    finally:
        # An invalidated connection (a disconnect, or an interrupt inside a statement) is
        # closed with its cache: setting it back would only raise, hiding the block's error.
        if not connection.invalidated:
            connection.exec_driver_sql(f"PRAGMA cache_size = {before:d}")


# What a bulk write asks of PostgreSQL's planner, with the values each setting may be
# given back (a value read from SHOW goes into SQL text only if it is one of these).
#
# plan_cache_mode: psycopg prepares a statement run five times, and PostgreSQL then keeps
# one generic plan for it, costed on the table as it was: empty at the start of a large
# import. The SKU and slug look-ups of every later batch then scanned the growing table
# (50,000 products: 840 a second against 6,700 for 5,000, bench/catalog_import.py).
# enable_seqscan: every statement of an import finds rows by an indexed key; with
# statistics from before the import (a table that grew inside this transaction, or whose
# last ANALYZE came before the previous import) the planner still took a parallel scan of
# the whole table for 500 keys (9 ms against 1 ms a batch at 50,000 products). Off, a scan
# is only costed high: a query without a usable index still runs.
_BULK_PLANNER = {"plan_cache_mode": "force_custom_plan", "enable_seqscan": "off"}
_PLANNER_VALUES = {
    "plan_cache_mode": frozenset({"auto", "force_custom_plan", "force_generic_plan"}),
    "enable_seqscan": frozenset({"on", "off"}),
}


@contextmanager
def _index_plans(connection: Connection) -> Iterator[None]:
    """``_BULK_PLANNER`` for this transaction while the block runs, its own values after."""
    before = {name: str(connection.exec_driver_sql(f"SHOW {name}").scalar_one())
              for name in _BULK_PLANNER}  # fmt: skip
    for name, value in _BULK_PLANNER.items():
        connection.exec_driver_sql(f"SET LOCAL {name} = {value}")
    # Not in a ``finally``: an error in the block leaves the transaction to be rolled
    # back, which ends SET LOCAL too (and a failed transaction would refuse the SET).
    yield
    for name, value in before.items():
        if value in _PLANNER_VALUES[name]:
            connection.exec_driver_sql(f"SET LOCAL {name} = {value}")


@dataclass(frozen=True)
class CategoryFacts:
    id: int
    name: str
    parent_name: str  # what a product's search text names beside its category


def category_index(session: Session) -> dict[str, CategoryFacts]:
    """Every category by slug, with what a product's row needs of it."""
    found = session.connection().execute(_CATEGORIES).all()
    names = {row[0]: row[2] for row in found}
    return {
        slug: CategoryFacts(category_id, name, names.get(parent_id, "") if parent_id else "")
        for category_id, slug, name, parent_id in found
    }


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class _Stored:
    id: int
    values: tuple[Any, ...]  # PRODUCT_FIELDS
    variants: dict[str, tuple[int, tuple[Any, ...]]] = field(default_factory=dict)


def _product_values(draft: ProductDraft, category: CategoryFacts) -> tuple[Any, ...]:
    summary = admin.summary_values(draft.variants)
    text = admin.search_text(
        draft.sku,
        category.name,
        category.parent_name,
        draft.description,
        ((v.sku, v.label) for v in draft.variants),
    )
    return (
        draft.name,
        draft.brand,
        draft.description,
        category.id,
        summary["price_cents"],
        summary["was_price_cents"],
        draft.currency,
        summary["stock"],
        summary["variant_count"],
        summary["weight_grams"],
        draft.warranty_months,
        draft.warranty_terms,
        draft.active,
        text,
    )  # fmt: skip


def _variant_values(variant: VariantDraft, position: int) -> tuple[Any, ...]:
    # In VARIANT_FIELDS' order.
    return (
        variant.label,
        dict(variant.options),
        variant.price_cents,
        variant.was_price_cents,
        variant.stock,
        variant.weight_grams,
        position,
    )  # fmt: skip


def _columns(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(names, values, strict=True))


def variant_owners(session: Session, variant_skus: Sequence[str]) -> dict[str, str]:
    """Which product holds each of these variant SKUs (those that exist)."""
    return dict(_OWNERS.rows(session.connection(), variant_skus))


def _refuse_repeats(drafts: Sequence[ProductDraft]) -> None:
    products: set[str] = set()
    variants: set[str] = set()
    for draft in drafts:
        if draft.sku in products:
            raise InvalidInput("sku", f"product SKU {draft.sku!r} comes twice")
        products.add(draft.sku)
        for variant in draft.variants:
            if variant.sku in variants:
                raise InvalidInput("variants", f"variant SKU {variant.sku!r} comes twice")
            variants.add(variant.sku)


def _refuse_variants_of_others(session: Session, drafts: Sequence[ProductDraft]) -> None:
    product_of = {v.sku: d.sku for d in drafts for v in d.variants}
    for variant_sku, owner in variant_owners(session, list(product_of)).items():
        if owner != product_of[variant_sku]:
            raise InvalidInput("variants", f"variant SKU {variant_sku!r} is product {owner!r}'s")


def upsert_products(
    session: Session,
    drafts: Sequence[ProductDraft],
    now: datetime,
    *,
    categories: Mapping[str, CategoryFacts] | None = None,
    checked: bool = False,
) -> UpsertCounts:
    """Create the drafts' products that do not exist and update those that do (by SKU),
    each with exactly the draft's variants, in the caller's transaction: a few statements
    per call, whatever its size (callers pass a few hundred drafts at a time).

    ``checked``: the drafts passed ``admin.checked_draft`` and hold no variant SKU of
    another product already (the CSV import checks each row and each batch first). An
    update keeps the product's slug, picture and creation time. Raises InvalidInput,
    before writing anything, for a repeated SKU, an unknown category or a variant SKU
    that another product holds."""
    counts = UpsertCounts()
    if not drafts:
        return counts
    session.flush()  # pending ORM changes first: what follows reads and writes by statement
    index = categories if categories is not None else category_index(session)
    if not checked:
        drafts = [admin.checked_draft(draft) for draft in drafts]
        _refuse_variants_of_others(session, drafts)
    _refuse_repeats(drafts)
    for draft in drafts:
        if draft.category_slug not in index:
            raise InvalidInput("category_slug", f"no category {draft.category_slug[:80]!r}")
    existing = _existing_products(session, [draft.sku for draft in drafts])
    new = [draft for draft in drafts if draft.sku not in existing]
    _insert_products(session, new, index, now)
    changes = _update_products(session, [d for d in drafts if d.sku in existing], existing, index)
    counts.created, counts.updated = len(new), len(changes)
    counts.unchanged = len(drafts) - counts.created - counts.updated
    if new or len(changes) > MANY_CHANGES or any(change.everything for change in changes):
        _record(session, [EVERYTHING])  # new products: listings, search and its vocabulary
    else:
        _record(session, changes)
    return counts


def _existing_products(session: Session, skus: Sequence[str]) -> dict[str, _Stored]:
    """The stored fields of the products among ``skus``, with their variants by SKU."""
    connection = session.connection()
    found: dict[str, _Stored] = {}
    for chunk in admin.chunks(skus):
        for row in connection.execute(_PRODUCTS, {"skus": list(chunk)}):
            found[row[0]] = _Stored(row[1], tuple(row[2:]))
    by_id = {stored.id: stored for stored in found.values()}
    for chunk in admin.chunks(list(by_id)):
        for row in connection.execute(_VARIANTS, {"ids": list(chunk)}):
            by_id[row[0]].variants[row[1]] = (row[2], tuple(row[3:]))
    return found


def _free_slugs(session: Session, drafts: Sequence[ProductDraft]) -> dict[str, str]:
    """A slug for each new product: its own, or one made from its name and SKU; where that
    is taken (or wanted twice), the same with a digest of the SKU."""
    first = {d.sku: d.slug or admin.slug_for(d.name, d.sku) for d in drafts}
    connection = session.connection()

    def taken(slugs: Sequence[str]) -> set[str]:
        return {slug for (slug,) in _SLUGS.rows(connection, slugs)}

    used = taken(sorted(set(first.values())))
    slugs: dict[str, str] = {}
    wanted: set[str] = set()
    for sku, slug in first.items():
        slugs[sku] = admin.fallback_slug(slug, sku) if slug in used or slug in wanted else slug
        wanted.add(slugs[sku])
    fallbacks = [slug for sku, slug in slugs.items() if slug != first[sku]]
    if fallbacks and taken(fallbacks):
        raise InvalidInput("slug", "no free address for a product: change its name")
    return slugs


def _insert_products(
    session: Session,
    drafts: Sequence[ProductDraft],
    index: Mapping[str, CategoryFacts],
    now: datetime,
) -> None:
    if not drafts:
        return
    slugs = _free_slugs(session, drafts)
    rows = [
        (
            draft.sku,
            slugs[draft.sku],
            draft.image_file,
            draft.image_alt,
            draft.created_at or now,
            *_product_values(draft, index[draft.category_slug]),
        )
        for draft in drafts
    ]
    connection = session.connection()
    ids: dict[str, int] = {}

    def insert_rows() -> list[int]:
        _NEW_PRODUCTS.run(connection, rows)
        ids.update(_IDS.rows(connection, [draft.sku for draft in drafts]))
        return list(ids.values())

    search.insert_indexed(connection, insert_rows)
    _NEW_VARIANTS.run(
        connection,
        [
            (ids[draft.sku], variant.sku, *_variant_values(variant, position))
            for draft in drafts
            for position, variant in enumerate(draft.variants)
        ],
    )


def _update_products(
    session: Session,
    drafts: Sequence[ProductDraft],
    existing: Mapping[str, _Stored],
    index: Mapping[str, CategoryFacts],
) -> list[_Change]:
    """Write what differs; one change per product that changed, saying what it shows on."""
    changes: list[_Change] = []
    product_rows: list[dict[str, Any]] = []
    edits = _VariantEdits()
    for draft in drafts:
        stored = existing[draft.sku]
        values = _product_values(draft, index[draft.category_slug])
        changed = [
            name
            for name, before, after in zip(PRODUCT_FIELDS, stored.values, values, strict=True)
            if before != after
        ]
        variants_changed = edits.diff(draft, stored)
        if changed:
            product_rows.append({"id": stored.id, **_columns(PRODUCT_FIELDS, values)})
        if changed or variants_changed:
            stock = PRODUCT_FIELDS.index("stock")
            changes.append(
                admin.product_change(draft.sku, changed, (stored.values[stock], values[stock]))
            )
    connection = session.connection()
    for chunk in admin.chunks(edits.gone):
        connection.execute(_DELETE_VARIANTS, {"ids": list(chunk)})
    admin.update_by_id(session, ProductVariant.__table__, edits.updates)
    if edits.inserts:
        connection.execute(_INSERT_VARIANTS, edits.inserts)
    admin.update_by_id(session, Product.__table__, product_rows)
    return changes


@dataclass
class _VariantEdits:
    """What makes the stored variants the drafts' (collected for one executemany each)."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    gone: list[int] = field(default_factory=list)

    def diff(self, draft: ProductDraft, stored: _Stored) -> bool:
        """Collect what changes this product's variants; whether anything does."""
        wanted = {variant.sku for variant in draft.variants}
        removed = [row_id for sku, (row_id, _) in stored.variants.items() if sku not in wanted]
        self.gone.extend(removed)
        changed = bool(removed)
        for position, variant in enumerate(draft.variants):
            values = _variant_values(variant, position)
            row = stored.variants.get(variant.sku)
            if row is not None and row[1] == values:
                continue
            columns = _columns(VARIANT_FIELDS, values)
            if row is None:
                self.inserts.append({"product_id": stored.id, "sku": variant.sku, **columns})
            else:
                self.updates.append({"id": row[0], **columns})
            changed = True
        return changed


def insert_galleries(session: Session, galleries: Mapping[str, Sequence[tuple[str, str]]]) -> None:
    """Add each product's pictures, ``(file, alt)`` in order from position 0, to
    ``product_images`` (for new products, whose gallery is empty: the demo loader; the
    CSV import has no pictures). One lookup and one executemany per call. Raises
    InvalidInput, before writing anything, for a SKU the catalog does not have."""
    if not galleries:
        return
    connection = session.connection()
    ids = dict(_IDS.rows(connection, list(galleries)))
    missing = [sku for sku in galleries if sku not in ids]
    if missing:
        raise InvalidInput("sku", f"no product {missing[0][:80]!r}")
    _NEW_IMAGES.run(
        connection,
        [
            (ids[sku], position, file, alt)
            for sku, pictures in galleries.items()
            for position, (file, alt) in enumerate(pictures)
        ],
    )
