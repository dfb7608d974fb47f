"""Catalog rules: reading listings, products and search; writing products and stock.

Plain Python over a database session; nothing here knows about HTTP.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, event, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from quietshop.catalog import queries, search
from quietshop.catalog.memo import CatalogMemo, CategoryTree, load_category_tree, load_vocabulary
from quietshop.catalog.models import (
    CatalogChange,
    CatalogState,
    Category,
    Product,
    ProductVariant,
)
from quietshop.catalog.queries import SUMMARY_WIDTH
from quietshop.catalog.schemas import (
    CategoryOut,
    ListingPage,
    ProductDetail,
    ProductSummary,
    SearchResults,
    SearchSort,
    SortOrder,
)
from quietshop.errors import Conflict, InvalidInput, NotFound

MAX_PAGE_SIZE = 100
MAX_PRICE_CENTS = 100_000_000  # one million in the shop currency: a filter above it is a mistake

# ---------------------------------------------------------------- the change log
#
# Every catalog write records what it changed in catalog_changes, in the writer's
# transaction; every process's page cache and memo read the log (web/page_cache.py) and
# drop only what shows the change. A sale is a product change, never a whole-catalog one.

LISTINGS_TAG = "listings"  # pages that list products: home, categories, search
KEEP_CHANGES = 10_000  # the log keeps at least this many newest rows
PRUNE_EVERY = 1_000  # ...and is pruned when a change id crosses a multiple of this
_CHANGED = "quietshop.catalog.changed"  # session.info: this transaction recorded changes


# A tag is one space-free token of visible ASCII: anything else in a SKU is %-escaped.
_TAG_SAFE = "".join(c for c in string.punctuation if c != "%")


def product_cache_tag(product_sku: str) -> str:
    """The tag of every page that shows one product (its page, its API answers). Must
    equal catalog.variants.product_tag, which the pages set (a test holds them equal)."""
    return "product:" + quote(product_sku, safe=_TAG_SAFE)


@dataclass(frozen=True)
class ChangeRecord:
    id: int
    product_sku: str | None
    listings: bool
    everything: bool

    @property
    def tags(self) -> frozenset[str]:
        """The cache tags of the pages this change shows on (besides ``everything``)."""
        tags = {product_cache_tag(self.product_sku)} if self.product_sku else set()
        if self.listings:
            tags.add(LISTINGS_TAG)
        return frozenset(tags)


@dataclass(frozen=True)
class ChangeFeed:
    changes: list[ChangeRecord]
    last_id: int
    pruned_through: int


def changes_since(session: Session, after_id: int | None, gaps: Collection[int] = ()) -> ChangeFeed:
    """The committed changes with an id above ``after_id`` or among ``gaps``, in id order;
    with ``after_id`` None, none: only the newest id and how far the log was pruned."""
    connection = session.connection()
    if after_id is None:
        last = int(connection.execute(queries.LAST_CHANGE_ID).scalar() or 0)
        changes = []
    else:
        rows = connection.execute(queries.CHANGES_AFTER, {"after": after_id, "gaps": list(gaps)})
        changes = [ChangeRecord(*row) for row in rows]
        last = max([after_id, *(change.id for change in changes)])
    # Read after the changes: a prune committed in between then looks like one before
    # them, and the reader drops everything rather than miss a change.
    pruned = int(connection.execute(queries.PRUNED_THROUGH).scalar() or 0)
    return ChangeFeed(changes=changes, last_id=last, pruned_through=pruned)


def call_after_catalog_commits(
    sessions: sessionmaker[Session], callback: Callable[[], None]
) -> None:
    """Call ``callback`` after each commit of a session from ``sessions`` that recorded
    catalog changes, so the process that wrote sees its own change at once."""

    def after_commit(session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            callback()

    event.listen(sessions, "after_commit", after_commit)


@dataclass(frozen=True)
class _Change:
    product_sku: str | None = None
    listings: bool = False
    everything: bool = False


EVERYTHING = _Change(everything=True)


# Built once. One row (a sale of one product) is a plain execute: RETURNING over a list
# takes SQLAlchemy's insertmanyvalues path, which costs more than a single insert; several
# rows still go in one statement (one round trip on PostgreSQL).
_RECORD_CHANGE = insert(CatalogChange).returning(CatalogChange.id)


def _record(session: Session, changes: Sequence[_Change]) -> None:
    """Log ``changes`` in the caller's transaction; now and then prune old rows."""
    if not changes:
        return
    connection = session.connection()
    rows = [asdict(change) for change in changes]
    if len(rows) == 1:
        ids = [connection.execute(_RECORD_CHANGE, rows[0]).scalar_one()]
    else:
        ids = list(connection.execute(_RECORD_CHANGE, rows).scalars())
    if any(change.everything for change in changes):
        connection.execute(
            update(CatalogState)
            .where(CatalogState.id == 1)
            .values(version=CatalogState.version + 1)
        )
    if max(ids) // PRUNE_EVERY > (min(ids) - 1) // PRUNE_EVERY:
        _prune(session, max(ids) - KEEP_CHANGES)
    session.info[_CHANGED] = True


def record_site_wide_change(session: Session) -> None:
    """A public page outside the catalog changed (a new version of the privacy policy):
    log a whole-site change in the caller's transaction, so every process's page cache
    drops every page, untagged ones such as /privacy included. Whole, not by tag: it
    happens a few times a year, and the log has no column for a tag other than a product."""
    _record(session, [EVERYTHING])


def _prune(session: Session, through: int) -> None:
    """Drop the rows up to ``through`` and say so: a reader that had not read them yet
    sees pruned_through above its last id and drops everything. The newest row always
    stays, so SQLite never hands an id out twice."""
    if through <= 0:
        return
    connection = session.connection()
    connection.execute(delete(CatalogChange).where(CatalogChange.id <= through))
    connection.execute(
        update(CatalogState)
        .where(CatalogState.id == 1, CatalogState.pruned_through < through)
        .values(pruned_through=through)
    )


def catalog_version(session: Session) -> int:
    """How many whole-catalog changes were recorded (stock and sales do not count)."""
    version = session.connection().execute(queries.CATALOG_VERSION).scalar()
    return int(version or 0)


def listing_badge(stock: int) -> str:
    """What a listing card shows about a product's stock (web/templates/_macros.html:
    in stock or out of stock; the in-stock filter and the home shelves split there too).
    A card that learns to show "only N left" must move this with it: a change whose
    badge stays the same leaves every listing page cached."""
    return "in" if stock > 0 else "out"


def _stock_change(product_sku: str, before: int, after: int) -> _Change:
    return _Change(product_sku, listings=listing_badge(before) != listing_badge(after))


# ---------------------------------------------------------------- categories


def _tree(session: Session, memo: CatalogMemo | None) -> CategoryTree:
    return memo.category_tree(session) if memo is not None else load_category_tree(session)


def category_tree(session: Session, memo: CatalogMemo | None = None) -> list[CategoryOut]:
    """Top-level categories with their children, in shop order."""
    return _tree(session, memo).roots


def category_path(
    session: Session, slug: str, memo: CatalogMemo | None = None
) -> list[CategoryOut]:
    """From the top-level category down to ``slug`` (for breadcrumbs)."""
    path = _tree(session, memo).paths.get(slug)
    if path is None:
        raise NotFound("category")
    return path


def get_category(session: Session, slug: str, memo: CatalogMemo | None = None) -> CategoryOut:
    return category_path(session, slug, memo)[-1]


# ---------------------------------------------------------------- listings


MAX_LISTING_PAGE = 10_000  # the routes refuse deeper pages (422) before they get here
MAX_FACET_PARAMS = 50  # brands and options chosen at once: more is a crawler or an attack
MAX_FACET_CHARS = 100  # one brand or option value (and option name)


@dataclass(frozen=True)
class ListingQuery:
    category: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    in_stock: bool = False
    sort: SortOrder = SortOrder.price_asc
    page: int = 1
    page_size: int = 24
    # A shelf of a few products (the home page) needs no count of everything that matches.
    with_total: bool = True
    # Any of these brands; for each option name, any of its chosen values (and all names).
    # Values the catalog does not have match nothing: an empty page, not an error.
    brands: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def parse_options(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
        """``option=length:2 m`` parameters as (name, value) pairs (names hold no colon)."""
        pairs: list[tuple[str, str]] = []
        for text in values:
            name, colon, value = text.partition(":")
            if not colon or not name:
                raise InvalidInput("option", "use name:value, such as length:2 m")
            pairs.append((name, value))
        return tuple(pairs)

    def validate(self) -> None:
        if not 1 <= self.page <= MAX_LISTING_PAGE:
            raise InvalidInput("page", f"must be between 1 and {MAX_LISTING_PAGE}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidInput("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
        for name, value in (("price_min", self.price_min), ("price_max", self.price_max)):
            if value is not None and not 0 <= value <= MAX_PRICE_CENTS:
                raise InvalidInput(name, f"must be between 0 and {MAX_PRICE_CENTS} cents")
        if (
            self.price_min is not None
            and self.price_max is not None
            and self.price_min > self.price_max
        ):
            raise InvalidInput("price_min", "must not be above price_max")
        if len(self.brands) + len(self.options) > MAX_FACET_PARAMS:
            raise InvalidInput("brand", f"at most {MAX_FACET_PARAMS} brands and options at once")
        for field_name, texts in (
            ("brand", self.brands),
            ("option", [part for pair in self.options for part in pair]),
        ):
            for text in texts:
                # PostgreSQL refuses NUL in text; no brand or option holds a control character.
                if not isinstance(text, str) or len(text) > MAX_FACET_CHARS:
                    raise InvalidInput(field_name, f"at most {MAX_FACET_CHARS} characters each")
                if not text.isprintable():
                    raise InvalidInput(field_name, "must not hold control characters")


def image_url(image_file: str | None) -> str | None:
    return f"/images/{image_file}" if image_file else None


def _money_fields(cents: int | None, currency: str) -> dict[str, Any] | None:
    return None if cents is None else {"cents": cents, "currency": currency}


def _summary_fields(row: Any) -> dict[str, Any]:
    """A listing's view of a row that starts with ``queries.SUMMARY_COLUMNS``, as plain data.

    Rows are unpacked by position (reading thirteen attributes by name cost more than the
    rest), and whole pages are validated in one ``model_validate`` call: pydantic-core
    builds the nested models in one pass, three times faster here than calling each
    model's constructor (and ``model_construct``, written in Python, is slower still)."""
    (
        sku, slug, name, brand, category_slug, price_cents, was_price_cents,
        currency, stock, image_file, image_alt, created_at, variant_count,
    ) = row[:SUMMARY_WIDTH]  # fmt: skip
    return {
        "sku": sku,
        "slug": slug,
        "name": name,
        "brand": brand,
        "category_slug": category_slug,
        "price": {"cents": price_cents, "currency": currency},
        "was_price": _money_fields(was_price_cents, currency),
        "in_stock": stock > 0,
        "image_url": image_url(image_file),
        "image_alt": image_alt,
        "variant_count": variant_count,
        "created_at": created_at,
    }


def _page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def list_products(
    session: Session, query: ListingQuery, memo: CatalogMemo | None = None
) -> ListingPage:
    """A page of active products, filtered and sorted; past the last page it is empty
    (with the real total and page count).

    With a memo (the app's) the listing index chooses the page and counts the facets, at
    a cost that does not grow with the catalog; only the page's rows are read, so prices
    and stock badges are the database's. Without one, the SQL statements do (no facets).
    """
    query.validate()
    category_ids: list[int] | None = None
    if query.category is not None:
        category_ids = _tree(session, memo).ids_below.get(query.category)
        if category_ids is None:
            raise NotFound("category")
    if memo is None:
        return _sql_listing(session, query, category_ids)
    index = memo.listing_index(session)
    chosen = index.select(
        category_ids=category_ids,
        price_min=query.price_min,
        price_max=query.price_max,
        in_stock=query.in_stock,
        brands=query.brands,
        options=query.options,
        sort=query.sort,
        offset=(query.page - 1) * query.page_size,
        limit=query.page_size,
        facets=query.with_total,
    )
    rows_by_id: dict[int, Any] = {}
    if chosen.ids:  # a page past the end reads nothing
        found = session.connection().execute(queries.SUMMARIES_BY_ID, {"ids": chosen.ids})
        rows_by_id = {row.id: row for row in found}
    return ListingPage.model_validate(
        {
            "items": [_summary_fields(rows_by_id[i]) for i in chosen.ids if i in rows_by_id],
            "page": query.page,
            "page_size": query.page_size,
            "total": chosen.total,
            "pages": _page_count(chosen.total, query.page_size),
            "facets": chosen.facets,
        }
    )


def _sql_listing(
    session: Session, query: ListingQuery, category_ids: list[int] | None
) -> ListingPage:
    """The listing from SQL alone: a COUNT and an ORDER BY ... OFFSET (cost grows with
    the offset and the catalog; the index path answers the same rows in the same order)."""
    params: dict[str, Any] = {
        "price_min": query.price_min,
        "price_max": query.price_max,
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
        "category_ids": category_ids,
        "brands": list(query.brands),
    }
    values_by_name: dict[str, list[str]] = {}
    for name, value in query.options:
        values_by_name.setdefault(name, []).append(value)
    option_names = tuple(sorted(values_by_name))
    for i, name in enumerate(option_names):
        params[f"option_values_{i}"] = values_by_name[name]
    count, page = queries.listing(
        category_ids is not None,
        query.price_min is not None,
        query.price_max is not None,
        query.in_stock,
        query.sort,
        bool(query.brands),
        option_names,
    )
    connection = session.connection()
    total = connection.execute(count, params).scalar_one() if query.with_total else -1
    rows = connection.execute(page, params).all() if total else []
    if not query.with_total:
        total = len(rows)
    return ListingPage.model_validate(
        {
            "items": [_summary_fields(row) for row in rows],
            "page": query.page,
            "page_size": query.page_size,
            "total": total,
            "pages": _page_count(total, query.page_size),
        }
    )


@dataclass(frozen=True)
class HomeShelves:
    newest: list[ProductSummary]
    cheapest: list[ProductSummary]


def active_product_count(session: Session) -> int:
    """How many products the storefront shows (the sitemap's size)."""
    found = session.connection().execute(
        select(func.count()).select_from(Product).where(Product.active.is_(True))
    )
    return int(found.scalar_one())


def product_slugs(session: Session, page: int, size: int) -> list[str]:
    """The slugs of the ``page``-th ``size`` shown products, by id (a sitemap's page). The
    offset walks the primary key only: a few milliseconds at 100,000 products, and a
    sitemap is asked for rarely."""
    found = session.connection().execute(
        select(Product.slug)
        .where(Product.active.is_(True))
        .order_by(Product.id)
        .offset((page - 1) * size)
        .limit(size)
    )
    return list(found.scalars())


def home_shelves(session: Session, memo: CatalogMemo | None = None, size: int = 8) -> HomeShelves:
    """What the home page shows: the newest and the cheapest products one can buy now.

    Always from SQL: a shelf has no count and no offset, so each walks its covering index
    from the start and stops after ``size`` rows in stock, at any catalog size; and the
    home page is cached, so it must not show an index a rebuild is about to replace."""
    newest = ListingQuery(sort=SortOrder.newest, in_stock=True, page_size=size, with_total=False)
    cheapest = ListingQuery(in_stock=True, page_size=size, with_total=False)
    return HomeShelves(
        newest=_sql_listing(session, newest, None).items,
        cheapest=_sql_listing(session, cheapest, None).items,
    )


def category_listing(
    session: Session, query: ListingQuery, memo: CatalogMemo | None = None
) -> tuple[list[CategoryOut], ListingPage]:
    """A category page: the breadcrumb path to the category and one page of its products
    (with facet counts when the memo's listing index answers)."""
    if query.category is None:
        raise InvalidInput("category", "a category listing needs a category")
    return category_path(session, query.category, memo), list_products(session, query, memo)


# ---------------------------------------------------------------- one product

# "Limited lifetime" is stored as ten years (catalog/demo_data.py LIFETIME_MONTHS says the
# same for the demo's texts): the months column is the one number a claim is judged by.
LIFETIME_WARRANTY_MONTHS = 120
# A period a warranty text states: "24-month", "2 years", "lifetime".
_WARRANTY_PERIOD = re.compile(r"\b(\d{1,4})[\s-]*(month|year)s?\b|\b(life-?time)\b", re.I)
# The claim the demo's (and many makers') texts open with, which the headline already says.
_LEADING_CLAIM = re.compile(
    r"^\s*(?:\d{1,4}-month(?: limited)?|limited lifetime|lifetime) warranty\s*[:.]\s*", re.I
)


def warranty_headline(months: int) -> str:
    """The one sentence a product page states about its warranty, from the months alone."""
    if months <= 0:
        return "No warranty from the maker; your statutory rights apply."
    if months == LIFETIME_WARRANTY_MONTHS:
        return "Limited lifetime warranty."
    if months % 12 == 0:
        years = months // 12
        return f"{months}-month warranty ({years} year{'' if years == 1 else 's'})."
    return f"{months}-month warranty."


def warranty_details(months: int, terms: str) -> str:
    """``terms`` as the headline's detail: without an opening claim that repeats it, and
    "" when any period it names is not ``months`` ("Lifetime warranty" on a 12-month
    product): the page then states the months only, never two periods."""
    for found in _WARRANTY_PERIOD.finditer(terms):
        number, unit, lifetime = found.groups()
        if lifetime:
            stated = LIFETIME_WARRANTY_MONTHS
        else:
            stated = int(number) * (12 if unit.lower() == "year" else 1)
        if stated != months:
            return ""
    return _LEADING_CLAIM.sub("", terms, count=1).strip()


def get_product(
    session: Session, sku_or_slug: str, memo: CatalogMemo | None = None
) -> ProductDetail:
    """An active product by its SKU, one of its variants' SKUs, or its slug."""
    # No product key holds control characters (and PostgreSQL refuses NUL in text).
    if not sku_or_slug or len(sku_or_slug) > 160 or not sku_or_slug.isprintable():
        raise NotFound("product")
    connection = session.connection()
    row = connection.execute(queries.PRODUCT_BY_KEY, {"key": sku_or_slug}).first()
    if row is None or not row.active:
        raise NotFound("product")
    variants = connection.execute(queries.VARIANTS_OF_PRODUCT, {"product_id": row.id}).all()
    images = [
        {"url": image_url(file), "alt": alt}
        for file, alt in connection.execute(queries.IMAGES_OF_PRODUCT, {"product_id": row.id})
    ]
    if not images and row.image_file:
        # A product saved before galleries (or by a writer that keeps only image_file).
        images = [{"url": image_url(row.image_file), "alt": row.image_alt}]
    currency = row.currency
    return ProductDetail.model_validate(
        {
            **_summary_fields(row),
            "description": row.description,
            "stock": row.stock,
            "weight_grams": row.weight_grams,
            "warranty_months": row.warranty_months,
            "warranty_terms": row.warranty_terms,
            "warranty_headline": warranty_headline(row.warranty_months),
            "warranty_details": warranty_details(row.warranty_months, row.warranty_terms),
            "images": images,
            "category_path": category_path(session, row.category_slug, memo),
            "variants": [
                {
                    "sku": sku,
                    "label": label,
                    "options": options,
                    "price": {"cents": price_cents, "currency": currency},
                    "was_price": _money_fields(was_price_cents, currency),
                    "stock": stock,
                    "in_stock": stock > 0,
                    "weight_grams": weight_grams,
                }
                for (sku, label, options, price_cents, was_price_cents, stock, weight_grams) in (
                    variants
                )
            ],
        }
    )


RELATED_LIMIT = 4


def related_products(
    session: Session, product: ProductSummary, limit: int = RELATED_LIMIT
) -> list[ProductSummary]:
    """Up to ``limit`` other active products of ``product``'s category: the same brand
    first, then the nearest in price, then by name and SKU. The same for every shopper
    (never personalised), and bounded: one statement reading at most
    2 x queries.RELATED_WINDOW neighbours by price through the category's price index, so
    it costs the same at 1,200 products as at 100,000 (a same-brand product far away in
    price is not considered)."""
    limit = max(0, min(limit, queries.RELATED_WINDOW))
    rows = session.connection().execute(
        queries.RELATED_CANDIDATES,
        {
            "category_slug": product.category_slug,
            "product_sku": product.sku,
            "price_cents": product.price.cents,
        },
    )
    price = product.price.cents

    def rank(other: dict[str, Any]) -> tuple[bool, int, str, str]:
        gap = abs(other["price"]["cents"] - price)
        return (other["brand"] != product.brand, gap, other["name"], other["sku"])

    ranked = sorted((_summary_fields(row) for row in rows), key=rank)
    return [ProductSummary.model_validate(fields) for fields in ranked[:limit]]


# ---------------------------------------------------------------- search


def search_products(
    session: Session,
    text_query: str,
    page: int = 1,
    page_size: int = 24,
    memo: CatalogMemo | None = None,
    sort: SearchSort = SearchSort.relevance,
) -> SearchResults:
    """Ranked full-text search with prefix matching and typo correction, over at most
    ``search.MAX_CANDIDATES`` matches (name matches first): its cost is bounded by that
    cap, not by the catalog. ``total`` is exact below the cap; at it, ``total_capped``.
    A page past the last is empty, not an error."""
    ListingQuery(page=page, page_size=page_size).validate()
    vocabulary = memo.vocabulary(session) if memo is not None else load_vocabulary(session)
    plan = search.plan_query(text_query, vocabulary)
    if not plan.words:
        return SearchResults(
            items=[],
            page=page,
            page_size=page_size,
            total=0,
            pages=1,
            query=plan.original,
            searched_for="",
            corrected=False,
            sort=sort,
        )
    found = search.find_products(session, plan.words, page, page_size, sort)
    ids = found.ids
    rows = session.connection().execute(queries.SUMMARIES_BY_ID, {"ids": ids}).all() if ids else []
    rows_by_id = {row.id: row for row in rows}
    return SearchResults.model_validate(
        {
            "items": [_summary_fields(rows_by_id[i]) for i in ids if i in rows_by_id],
            "page": page,
            "page_size": page_size,
            "total": found.total,
            "pages": _page_count(found.total, page_size),
            "query": plan.original,
            "searched_for": " ".join(plan.words),
            "corrected": plan.corrected,
            "sort": sort,
            "total_capped": found.capped,
        }
    )


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class VariantDraft:
    sku: str
    price_cents: int
    stock: int
    label: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    was_price_cents: int | None = None
    weight_grams: int = 0


@dataclass(frozen=True)
class ProductDraft:
    sku: str
    slug: str
    name: str
    category_slug: str
    variants: Sequence[VariantDraft]
    currency: str
    description: str = ""
    brand: str = ""
    warranty_months: int = 12
    warranty_terms: str = ""
    image_file: str | None = None
    image_alt: str = ""
    active: bool = True
    created_at: datetime | None = None


def create_category(
    session: Session,
    slug: str,
    name: str,
    parent_slug: str | None = None,
    description: str = "",
    position: int = 0,
) -> None:
    if session.execute(select(Category.id).where(Category.slug == slug)).first():
        raise InvalidInput("slug", f"category {slug!r} exists")
    parent_id = None
    if parent_slug:
        parent_id = session.execute(
            select(Category.id).where(Category.slug == parent_slug)
        ).scalar()
        if parent_id is None:
            raise InvalidInput("parent_slug", f"no category {parent_slug!r}")
    session.add(
        Category(
            slug=slug, name=name, parent_id=parent_id, description=description, position=position
        )
    )
    session.flush()
    _record(session, [EVERYTHING])  # the menu, the tree and the breadcrumbs change


_CART_SKU = re.compile(r"[!-~]{1,40}")


def _validate_draft(draft: ProductDraft) -> None:
    if not draft.variants:
        raise InvalidInput("variants", "a product needs at least one variant")
    skus = [variant.sku for variant in draft.variants]
    if len(set(skus)) != len(skus):
        raise InvalidInput("variants", "variant SKUs must differ")
    for sku in (draft.sku, *skus):
        if not _CART_SKU.fullmatch(sku):
            # The cart and the price lookup take SKUs of visible ASCII only.
            raise InvalidInput("sku", "use 1 to 40 letters, digits or punctuation, no spaces")
    if len(skus) == 1 and skus[0] != draft.sku:
        # A listing's "Add to cart" puts the product's SKU in the cart: with one variant,
        # that must be the variant's.
        raise InvalidInput("sku", "a product with one variant has that variant's SKU")
    for variant in draft.variants:
        if variant.was_price_cents is not None and variant.was_price_cents <= variant.price_cents:
            raise InvalidInput("was_price_cents", "a was-price must be above the price")
        if not 0 <= variant.price_cents <= MAX_PRICE_CENTS:
            raise InvalidInput("price_cents", "must be between 0 and one million")
        if variant.stock < 0:
            raise InvalidInput("stock", "must not be negative")


def _refuse_taken_keys(session: Session, draft: ProductDraft) -> None:
    """A clear error instead of a constraint violation for a SKU or slug already in use."""
    if session.execute(
        select(Product.id).where((Product.sku == draft.sku) | (Product.slug == draft.slug))
    ).first():
        raise InvalidInput("sku", f"SKU {draft.sku!r} or slug {draft.slug!r} is taken")
    variant_skus = [variant.sku for variant in draft.variants]
    if session.execute(
        select(ProductVariant.id).where(ProductVariant.sku.in_(variant_skus))
    ).first():
        raise InvalidInput("variants", "a variant SKU is taken")


def create_product(session: Session, draft: ProductDraft, now: datetime) -> None:
    """Add a product with its variants; its listed price is the lowest variant price.
    ``created_at`` is the draft's, or ``now``."""
    _validate_draft(draft)
    category = session.execute(
        select(Category).where(Category.slug == draft.category_slug)
    ).scalar()
    if category is None:
        raise InvalidInput("category_slug", f"no category {draft.category_slug!r}")
    _refuse_taken_keys(session, draft)
    cheapest = min(draft.variants, key=lambda v: v.price_cents)
    parent_name = category.parent.name if category.parent else ""
    product = Product(
        sku=draft.sku,
        slug=draft.slug,
        name=draft.name,
        description=draft.description,
        brand=draft.brand,
        category_id=category.id,
        price_cents=cheapest.price_cents,
        was_price_cents=cheapest.was_price_cents,
        currency=draft.currency,
        stock=sum(v.stock for v in draft.variants),
        variant_count=len(draft.variants),
        weight_grams=cheapest.weight_grams,
        warranty_months=draft.warranty_months,
        warranty_terms=draft.warranty_terms,
        image_file=draft.image_file,
        image_alt=draft.image_alt,
        active=draft.active,
        created_at=draft.created_at or now,
        search_text=search.document_text(
            draft.sku,
            category.name,
            parent_name,
            draft.description,
            *(f"{v.sku} {v.label}" for v in draft.variants),
        ),
        variants=[
            ProductVariant(
                sku=v.sku,
                label=v.label,
                options=dict(v.options),
                price_cents=v.price_cents,
                was_price_cents=v.was_price_cents,
                stock=v.stock,
                weight_grams=v.weight_grams,
                position=position,
            )
            for position, v in enumerate(draft.variants)
        ],
    )
    session.add(product)
    session.flush()
    _record(session, [EVERYTHING])  # listings, search and its vocabulary change


def set_variant_stock(session: Session, sku: str, stock: int) -> None:
    """Set one variant's stock and refresh its product's total."""
    if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= MAX_STOCK:
        raise InvalidInput("stock", f"must be a whole number from 0 to {MAX_STOCK}")
    variant = session.execute(select(ProductVariant).where(ProductVariant.sku == sku)).scalar()
    if variant is None:
        raise NotFound("variant")
    product = variant.product
    before = product.stock
    variant.stock = stock
    session.flush()
    total = session.execute(
        select(func.sum(ProductVariant.stock)).where(
            ProductVariant.product_id == variant.product_id
        )
    ).scalar_one()
    session.execute(update(Product).where(Product.id == variant.product_id).values(stock=total))
    _record(session, [_stock_change(product.sku, before, total)])


def set_product_active(session: Session, sku: str, active: bool) -> None:
    result = session.execute(update(Product).where(Product.sku == sku).values(active=active))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("product")
    _record(session, [EVERYTHING])  # it comes into or leaves listings, search, vocabulary


# ---------------------------------------------------------------- stock for orders

MAX_QUANTITY = 100_000  # more of one SKU in one order is a mistake, not a sale
MAX_STOCK = 1_000_000_000  # fits the 32-bit integer column with room for returns
_SKU_CHUNK = 500  # SKUs per IN list (SQLite caps bound parameters)


@dataclass(frozen=True)
class OrderableVariant:
    """What an order needs to know of a SKU, as it is now."""

    sku: str
    product_sku: str
    product_name: str
    label: str
    price_cents: int
    currency: str
    weight_grams: int
    stock: int
    active: bool  # the product is on sale


class OutOfStock(Conflict):
    """Some SKUs have fewer units than asked for; nothing was taken."""

    status_code = 409
    code = "out_of_stock"

    def __init__(self, shortages: Mapping[str, int]) -> None:
        self.shortages = dict(sorted(shortages.items()))  # SKU -> units left
        left = ", ".join(f"{sku} ({count} left)" for sku, count in self.shortages.items())
        super().__init__(f"not enough in stock: {left}")

    def extra(self) -> dict[str, Any]:
        return {"shortages": self.shortages}  # the cart clamps its quantities to these


def orderable_variants(session: Session, skus: Collection[str]) -> dict[str, OrderableVariant]:
    """The variants found among ``skus`` (unknown ones are simply absent)."""
    wanted = sorted({sku for sku in skus if _is_sku(sku)})
    connection = session.connection()
    found: dict[str, OrderableVariant] = {}
    for start in range(0, len(wanted), _SKU_CHUNK):
        chunk = wanted[start : start + _SKU_CHUNK]
        for row in connection.execute(queries.ORDERABLE_VARIANTS, {"skus": chunk}):
            found[row.sku] = OrderableVariant(*row)
    return found


def take_stock(session: Session, quantities: Mapping[str, int]) -> None:
    """Take ``quantities`` (SKU -> units) in the caller's transaction, all or nothing.

    Each variant is decremented only where it still has the units (``stock >= q``), in
    SKU order, then each product's total in id order, so concurrent orders wait for one
    another instead of deadlocking. When any SKU is short, what this call took is put
    back and OutOfStock names every short SKU with the units left."""
    lines = _checked_quantities(quantities)
    connection = session.connection()
    taken: list[tuple[str, int, int]] = []  # sku, quantity, product id
    short: list[str] = []
    for sku, quantity in lines:
        row = connection.execute(
            queries.TAKE_FROM_VARIANT, {"variant_sku": sku, "quantity": quantity}
        ).first()
        if row is None:
            short.append(sku)
        else:
            taken.append((sku, quantity, row.product_id))
    if short:
        for sku, quantity, _ in taken:  # rows this transaction holds: the undo is exact
            connection.execute(
                queries.RETURN_TO_VARIANT, {"variant_sku": sku, "quantity": quantity}
            )
        raise OutOfStock(_units_left(session, dict(lines), short))
    _move_product_stock(session, taken, sign=-1)


def return_stock(session: Session, quantities: Mapping[str, int]) -> None:
    """Put ``quantities`` back (an order cancelled), in the caller's transaction. A SKU
    that no longer exists is skipped: there is nothing to return it to."""
    connection = session.connection()
    returned: list[tuple[str, int, int]] = []
    for sku, quantity in _checked_quantities(quantities):
        row = connection.execute(
            queries.RETURN_TO_VARIANT, {"variant_sku": sku, "quantity": quantity}
        ).first()
        if row is not None:
            returned.append((sku, quantity, row.product_id))
    _move_product_stock(session, returned, sign=1)


def _move_product_stock(session: Session, lines: list[tuple[str, int, int]], sign: int) -> None:
    """Move each product's total by its variants' lines and log one change per product,
    saying listings only where the listing badge flips."""
    per_product: dict[int, int] = {}
    for _, quantity, product_id in lines:
        per_product[product_id] = per_product.get(product_id, 0) + quantity
    connection = session.connection()
    changes = []
    for product_id in sorted(per_product):
        moved = sign * per_product[product_id]
        row = connection.execute(
            queries.MOVE_PRODUCT_STOCK, {"product_id": product_id, "change": moved}
        ).one()
        changes.append(_stock_change(row.sku, row.stock - moved, row.stock))
    _record(session, changes)


def _units_left(session: Session, wanted: dict[str, int], short: list[str]) -> dict[str, int]:
    """Every SKU with fewer units than wanted (unknown ones: 0), the short ones included."""
    rows = session.connection().execute(queries.VARIANT_STOCKS, {"skus": sorted(wanted)})
    stocks = {row.sku: row.stock for row in rows}
    return {
        sku: stocks.get(sku, 0)
        for sku in wanted
        if sku in short or stocks.get(sku, 0) < wanted[sku]
    }


def _is_sku(sku: object) -> bool:
    # No SKU holds control characters (and PostgreSQL refuses NUL in text).
    return isinstance(sku, str) and 0 < len(sku) <= 40 and sku.isprintable()


def _checked_quantities(quantities: Mapping[str, int]) -> list[tuple[str, int]]:
    """The lines in SKU order, or InvalidInput for the first bad one (nothing changed)."""
    if len(quantities) > _SKU_CHUNK * 20:
        raise InvalidInput("quantities", f"at most {_SKU_CHUNK * 20} SKUs at once")
    for sku, quantity in quantities.items():
        if not _is_sku(sku):
            raise InvalidInput("sku", "must be 1 to 40 printable characters")
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidInput("quantity", f"{sku}: must be a whole number")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidInput("quantity", f"{sku}: must be from 1 to {MAX_QUANTITY}")
    return sorted(quantities.items())


@dataclass(frozen=True)
class StockCounts:
    out_of_stock: int  # variants of products on sale with none left
    low_stock: int  # with fewer than ``below`` left, more than none
    below: int  # LOW_STOCK: under it a product page says "Only N left"


def stock_counts(session: Session) -> StockCounts:
    """How many variants of the products on sale are out of stock or running low."""
    # Imported here: variants imports this module.
    from quietshop.catalog.variants import LOW_STOCK

    out = func.count().filter(ProductVariant.stock == 0)
    low = func.count().filter(ProductVariant.stock > 0, ProductVariant.stock < LOW_STOCK)
    found = session.execute(
        select(out, low)
        .join(Product, Product.id == ProductVariant.product_id)
        .where(Product.active)
    ).one()
    return StockCounts(int(found[0]), int(found[1]), LOW_STOCK)


# ---------------------------------------------------------------- the back office's tools
#
# Managing the catalog (admin.py), its CSV file (csv_io.py) and uploaded pictures
# (images.py) are catalog rules too, built on the ones above and kept in modules of their
# own for size. Other domains reach them here, through the catalog's one seam
# (tests/test_layering.py): ``service.admin.update_product(...)``. Imported last, because
# they import this module; they use each other only as modules (``admin.x`` at call time),
# so any of them may be imported first.
from quietshop.catalog import admin as admin  # noqa: E402
from quietshop.catalog import csv_io as csv_io  # noqa: E402
from quietshop.catalog import images as images  # noqa: E402
