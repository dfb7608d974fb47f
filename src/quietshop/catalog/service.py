"""Catalog rules: reading listings, products and search; writing products and stock.

Plain Python over a database session; nothing here knows about HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from quietshop.catalog import queries, search
from quietshop.catalog.memo import CatalogMemo, CategoryTree, load_category_tree, load_vocabulary
from quietshop.catalog.models import CatalogState, Category, Product, ProductVariant
from quietshop.catalog.queries import SUMMARY_WIDTH
from quietshop.catalog.schemas import (
    CategoryOut,
    ProductDetail,
    ProductPage,
    ProductSummary,
    SearchResults,
    SortOrder,
)
from quietshop.errors import InvalidInput, NotFound

MAX_PAGE_SIZE = 100
MAX_PRICE_CENTS = 100_000_000  # one million in the shop currency: a filter above it is a mistake

# ---------------------------------------------------------------- catalog version


def catalog_version(session: Session) -> int:
    version = session.connection().execute(queries.CATALOG_VERSION).scalar()
    return int(version or 0)


def bump_catalog_version(session: Session) -> None:
    """Mark the catalog changed so every process's page cache drops its pages."""
    result = session.execute(
        update(CatalogState).where(CatalogState.id == 1).values(version=CatalogState.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(CatalogState(id=1, version=2))


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

    def validate(self) -> None:
        if self.page < 1:
            raise InvalidInput("page", "must be 1 or more")
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
) -> ProductPage:
    """A page of active products, filtered and sorted; past the last page it is empty."""
    query.validate()
    params: dict[str, Any] = {
        "price_min": query.price_min,
        "price_max": query.price_max,
        "limit": query.page_size,
        "offset": (query.page - 1) * query.page_size,
    }
    if query.category is not None:
        ids = _tree(session, memo).ids_below.get(query.category)
        if ids is None:
            raise NotFound("category")
        params["category_ids"] = ids
    count, page = queries.listing(
        query.category is not None,
        query.price_min is not None,
        query.price_max is not None,
        query.in_stock,
        query.sort,
    )
    connection = session.connection()
    total = connection.execute(count, params).scalar_one() if query.with_total else -1
    rows = connection.execute(page, params).all() if total else []
    if not query.with_total:
        total = len(rows)
    return ProductPage.model_validate(
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


def home_shelves(session: Session, memo: CatalogMemo | None = None, size: int = 8) -> HomeShelves:
    """What the home page shows: the newest and the cheapest products one can buy now."""
    newest = ListingQuery(sort=SortOrder.newest, in_stock=True, page_size=size, with_total=False)
    cheapest = ListingQuery(in_stock=True, page_size=size, with_total=False)
    return HomeShelves(
        newest=list_products(session, newest, memo).items,
        cheapest=list_products(session, cheapest, memo).items,
    )


def category_listing(
    session: Session, query: ListingQuery, memo: CatalogMemo | None = None
) -> tuple[list[CategoryOut], ProductPage]:
    """A category page: the breadcrumb path to the category and one page of its products."""
    if query.category is None:
        raise InvalidInput("category", "a category listing needs a category")
    return category_path(session, query.category, memo), list_products(session, query, memo)


# ---------------------------------------------------------------- one product


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
    currency = row.currency
    return ProductDetail.model_validate(
        {
            **_summary_fields(row),
            "description": row.description,
            "stock": row.stock,
            "weight_grams": row.weight_grams,
            "warranty_months": row.warranty_months,
            "warranty_terms": row.warranty_terms,
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


# ---------------------------------------------------------------- search


def search_products(
    session: Session,
    text_query: str,
    page: int = 1,
    page_size: int = 24,
    memo: CatalogMemo | None = None,
) -> SearchResults:
    """Ranked full-text search with prefix matching and typo correction."""
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
        )
    ids, total = search.find_product_ids(session, plan.words, page, page_size)
    rows = session.connection().execute(queries.SUMMARIES_BY_ID, {"ids": ids}).all() if ids else []
    rows_by_id = {row.id: row for row in rows}
    return SearchResults.model_validate(
        {
            "items": [_summary_fields(rows_by_id[i]) for i in ids if i in rows_by_id],
            "page": page,
            "page_size": page_size,
            "total": total,
            "pages": _page_count(total, page_size),
            "query": plan.original,
            "searched_for": " ".join(plan.words),
            "corrected": plan.corrected,
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
    bump_catalog_version(session)


def _validate_draft(draft: ProductDraft) -> None:
    if not draft.variants:
        raise InvalidInput("variants", "a product needs at least one variant")
    skus = [variant.sku for variant in draft.variants]
    if len(set(skus)) != len(skus):
        raise InvalidInput("variants", "variant SKUs must differ")
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
    bump_catalog_version(session)


def set_variant_stock(session: Session, sku: str, stock: int) -> None:
    """Set one variant's stock and refresh its product's total."""
    if stock < 0:
        raise InvalidInput("stock", "must not be negative")
    variant = session.execute(select(ProductVariant).where(ProductVariant.sku == sku)).scalar()
    if variant is None:
        raise NotFound("variant")
    variant.stock = stock
    session.flush()
    total = session.execute(
        select(func.sum(ProductVariant.stock)).where(
            ProductVariant.product_id == variant.product_id
        )
    ).scalar_one()
    session.execute(update(Product).where(Product.id == variant.product_id).values(stock=total))
    bump_catalog_version(session)


def set_product_active(session: Session, sku: str, active: bool) -> None:
    result = session.execute(update(Product).where(Product.sku == sku).values(active=active))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("product")
    bump_catalog_version(session)
