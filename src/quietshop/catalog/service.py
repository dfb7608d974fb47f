"""Catalog rules: reading listings, products and search; writing products and stock.

Plain Python over a database session; nothing here knows about HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from quietshop.catalog import search
from quietshop.catalog.models import CatalogState, Category, Product, ProductVariant
from quietshop.catalog.schemas import (
    CategoryOut,
    Money,
    ProductDetail,
    ProductPage,
    ProductSummary,
    SearchResults,
    SortOrder,
    VariantOut,
)
from quietshop.db import utcnow
from quietshop.errors import InvalidInput, NotFound

MAX_PAGE_SIZE = 100
MAX_PRICE_CENTS = 100_000_000  # one million in the shop currency: a filter above it is a mistake

# ---------------------------------------------------------------- catalog version


def catalog_version(session: Session) -> int:
    version = session.execute(select(CatalogState.version).where(CatalogState.id == 1)).scalar()
    return int(version or 0)


def bump_catalog_version(session: Session) -> None:
    """Mark the catalog changed so every process's page cache drops its pages."""
    result = session.execute(
        update(CatalogState).where(CatalogState.id == 1).values(version=CatalogState.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(CatalogState(id=1, version=2))


# ---------------------------------------------------------------- categories


def category_tree(session: Session) -> list[CategoryOut]:
    """Top-level categories with their children, in shop order."""
    rows = session.execute(
        select(
            Category.id, Category.parent_id, Category.slug, Category.name, Category.description
        ).order_by(Category.position, Category.name)
    ).all()
    by_parent: dict[int | None, list[Any]] = {}
    slug_of = {row.id: row.slug for row in rows}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)

    def build(row: Any) -> CategoryOut:
        return CategoryOut(
            slug=row.slug,
            name=row.name,
            description=row.description,
            parent_slug=slug_of.get(row.parent_id) if row.parent_id else None,
            children=[build(child) for child in by_parent.get(row.id, [])],
        )

    return [build(row) for row in by_parent.get(None, [])]


def _walk(tree: list[CategoryOut], trail: list[CategoryOut]) -> Iterator[list[CategoryOut]]:
    for node in tree:
        path = [*trail, node]
        yield path
        yield from _walk(node.children, path)


def category_path(session: Session, slug: str) -> list[CategoryOut]:
    """From the top-level category down to ``slug`` (for breadcrumbs)."""
    for path in _walk(category_tree(session), []):
        if path[-1].slug == slug:
            return path
    raise NotFound("category")


def get_category(session: Session, slug: str) -> CategoryOut:
    return category_path(session, slug)[-1]


def _category_ids(session: Session, slug: str) -> list[int]:
    """The category and its descendants: a listing of a parent shows its children's products."""
    rows = session.execute(select(Category.id, Category.parent_id, Category.slug)).all()
    root = next((row.id for row in rows if row.slug == slug), None)
    if root is None:
        raise NotFound("category")
    ids, frontier = [root], [root]
    while frontier:
        frontier = [row.id for row in rows if row.parent_id in frontier]
        ids.extend(frontier)
    return ids


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


_SUMMARY_COLUMNS = (
    Product.sku,
    Product.slug,
    Product.name,
    Product.brand,
    Category.slug.label("category_slug"),
    Product.price_cents,
    Product.was_price_cents,
    Product.currency,
    Product.stock,
    Product.image_file,
    Product.image_alt,
    Product.created_at,
    select(func.count(ProductVariant.id))
    .where(ProductVariant.product_id == Product.id)
    .correlate(Product)
    .scalar_subquery()
    .label("variant_count"),
)

_ORDERINGS = {
    SortOrder.price_asc: (Product.price_cents.asc(), Product.name.asc(), Product.id.asc()),
    SortOrder.price_desc: (Product.price_cents.desc(), Product.name.asc(), Product.id.asc()),
    SortOrder.newest: (Product.created_at.desc(), Product.id.desc()),
    SortOrder.name: (Product.name.asc(), Product.id.asc()),
}


def image_url(image_file: str | None) -> str | None:
    return f"/images/{image_file}" if image_file else None


def _money(cents: int | None, currency: str) -> Money | None:
    return None if cents is None else Money(cents=cents, currency=currency)


def _summary(row: Row[Any]) -> ProductSummary:
    return ProductSummary(
        sku=row.sku,
        slug=row.slug,
        name=row.name,
        brand=row.brand,
        category_slug=row.category_slug,
        price=Money(cents=row.price_cents, currency=row.currency),
        was_price=_money(row.was_price_cents, row.currency),
        in_stock=row.stock > 0,
        image_url=image_url(row.image_file),
        image_alt=row.image_alt,
        variant_count=row.variant_count,
        created_at=row.created_at,
    )


def _page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def list_products(session: Session, query: ListingQuery) -> ProductPage:
    """A page of active products, filtered and sorted; past the last page it is empty."""
    query.validate()
    conditions: list[Any] = [Product.active.is_(True)]
    if query.category:
        conditions.append(Product.category_id.in_(_category_ids(session, query.category)))
    if query.price_min is not None:
        conditions.append(Product.price_cents >= query.price_min)
    if query.price_max is not None:
        conditions.append(Product.price_cents <= query.price_max)
    if query.in_stock:
        conditions.append(Product.stock > 0)
    total = session.execute(select(func.count(Product.id)).where(*conditions)).scalar_one()
    rows = session.execute(
        select(*_SUMMARY_COLUMNS)
        .join(Category, Category.id == Product.category_id)
        .where(*conditions)
        .order_by(*_ORDERINGS[query.sort])
        .limit(query.page_size)
        .offset((query.page - 1) * query.page_size)
    ).all()
    return ProductPage(
        items=[_summary(row) for row in rows],
        page=query.page,
        page_size=query.page_size,
        total=total,
        pages=_page_count(total, query.page_size),
    )


# ---------------------------------------------------------------- one product


def get_product(session: Session, sku_or_slug: str) -> ProductDetail:
    """An active product by its SKU, one of its variants' SKUs, or its slug."""
    # No product key holds control characters (and PostgreSQL refuses NUL in text).
    if not sku_or_slug or len(sku_or_slug) > 160 or not sku_or_slug.isprintable():
        raise NotFound("product")
    variant_owner = (
        select(ProductVariant.product_id).where(ProductVariant.sku == sku_or_slug).scalar_subquery()
    )
    row = session.execute(
        select(
            *_SUMMARY_COLUMNS,
            Product.id,
            Product.description,
            Product.weight_grams,
            Product.warranty_months,
            Product.warranty_terms,
        )
        .join(Category, Category.id == Product.category_id)
        .where(
            Product.active.is_(True),
            (Product.sku == sku_or_slug)
            | (Product.slug == sku_or_slug)
            | (Product.id == variant_owner),
        )
        .limit(1)
    ).first()
    if row is None:
        raise NotFound("product")
    variants = session.execute(
        select(ProductVariant)
        .where(ProductVariant.product_id == row.id)
        .order_by(ProductVariant.position, ProductVariant.id)
    ).scalars()
    summary = _summary(row)
    return ProductDetail(
        **summary.model_dump(),
        description=row.description,
        stock=row.stock,
        weight_grams=row.weight_grams,
        warranty_months=row.warranty_months,
        warranty_terms=row.warranty_terms,
        category_path=category_path(session, row.category_slug),
        variants=[
            VariantOut(
                sku=v.sku,
                label=v.label,
                options=v.options,
                price=Money(cents=v.price_cents, currency=row.currency),
                was_price=_money(v.was_price_cents, row.currency),
                stock=v.stock,
                in_stock=v.stock > 0,
                weight_grams=v.weight_grams,
            )
            for v in variants
        ],
    )


# ---------------------------------------------------------------- search


def search_products(
    session: Session,
    vocabulary: search.VocabularyCache,
    text_query: str,
    page: int = 1,
    page_size: int = 24,
) -> SearchResults:
    """Ranked full-text search with prefix matching and typo correction."""
    ListingQuery(page=page, page_size=page_size).validate()
    plan = search.plan_query(text_query, vocabulary.get(session))
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
    rows_by_id = {
        row.id: row
        for row in session.execute(
            select(Product.id, *_SUMMARY_COLUMNS)
            .join(Category, Category.id == Product.category_id)
            .where(Product.id.in_(ids))
        ).all()
    }
    return SearchResults(
        items=[_summary(rows_by_id[i]) for i in ids if i in rows_by_id],
        page=page,
        page_size=page_size,
        total=total,
        pages=_page_count(total, page_size),
        query=plan.original,
        searched_for=" ".join(plan.words),
        corrected=plan.corrected,
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


def create_product(session: Session, draft: ProductDraft) -> None:
    """Add a product with its variants; its listed price is the lowest variant price."""
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
        weight_grams=cheapest.weight_grams,
        warranty_months=draft.warranty_months,
        warranty_terms=draft.warranty_terms,
        image_file=draft.image_file,
        image_alt=draft.image_alt,
        active=draft.active,
        created_at=draft.created_at or utcnow(),
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


def product_texts(session: Session) -> list[str]:
    """Every searchable text of active products and categories, for the search vocabulary."""
    rows = session.execute(
        select(Product.name, Product.brand, Product.search_text).where(Product.active.is_(True))
    ).all()
    return [f"{row.name} {row.brand} {row.search_text}" for row in rows]
