"""The catalog's read statements, built once.

Building a SQLAlchemy statement costs more than running it on SQLite, so the hot reads
are constructed at import (or once per listing shape) with bound parameters, and run on
the session's connection without the ORM layer.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, or_, select, union_all, update

from quietshop.catalog.models import CatalogChange, CatalogState, Category, Product, ProductVariant
from quietshop.catalog.schemas import SortOrder

SUMMARY_COLUMNS: tuple[Any, ...] = (
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
    Product.variant_count,
)
SUMMARY_WIDTH = len(SUMMARY_COLUMNS)

CATALOG_VERSION = select(CatalogState.version).where(CatalogState.id == 1)

# ---- the change log (read by every process's page cache every check interval)

PRUNED_THROUGH = select(CatalogState.pruned_through).where(CatalogState.id == 1)
LAST_CHANGE_ID = select(func.max(CatalogChange.id))
# Parameters: ``after`` (an id) and ``gaps`` (ids still awaited below it; may be empty).
CHANGES_AFTER = (
    select(
        CatalogChange.id,
        CatalogChange.product_sku,
        CatalogChange.listings,
        CatalogChange.everything,
    )
    .where(
        or_(
            CatalogChange.id > bindparam("after"),
            CatalogChange.id.in_(bindparam("gaps", expanding=True)),
        )
    )
    .order_by(CatalogChange.id)
)

# ---- stock, taken and returned in the caller's transaction (orders call these)

ORDERABLE_VARIANTS = (
    select(
        ProductVariant.sku,
        Product.sku.label("product_sku"),
        Product.name,
        ProductVariant.label,
        ProductVariant.price_cents,
        Product.currency,
        ProductVariant.weight_grams,
        ProductVariant.stock,
        Product.active,
    )
    .join(Product, Product.id == ProductVariant.product_id)
    .where(ProductVariant.sku.in_(bindparam("skus", expanding=True)))
)
VARIANT_STOCKS = select(ProductVariant.sku, ProductVariant.stock).where(
    ProductVariant.sku.in_(bindparam("skus", expanding=True))
)
# The guard is the whole point: two orders for the last unit cannot both match it.
TAKE_FROM_VARIANT = (
    update(ProductVariant)
    .where(ProductVariant.sku == bindparam("variant_sku"))
    .where(ProductVariant.stock >= bindparam("quantity"))
    .values(stock=ProductVariant.stock - bindparam("quantity"))
    .returning(ProductVariant.product_id)
)
RETURN_TO_VARIANT = (
    update(ProductVariant)
    .where(ProductVariant.sku == bindparam("variant_sku"))
    .values(stock=ProductVariant.stock + bindparam("quantity"))
    .returning(ProductVariant.product_id)
)
# ``change`` is negative for a sale: the product's stock is its variants' total.
MOVE_PRODUCT_STOCK = (
    update(Product)
    .where(Product.id == bindparam("product_id"))
    .values(stock=Product.stock + bindparam("change"))
    .returning(Product.sku, Product.stock)
)

CATEGORIES = select(
    Category.id, Category.parent_id, Category.slug, Category.name, Category.description
).order_by(Category.position, Category.name)

_KEY: BindParameter[str] = bindparam("key")
PRODUCT_BY_KEY = (
    select(
        *SUMMARY_COLUMNS,
        Product.id,
        Product.description,
        Product.weight_grams,
        Product.warranty_months,
        Product.warranty_terms,
        Product.active,
    )
    .join(Category, Category.id == Product.category_id)
    .where(
        # Three indexed lookups; an OR of them would make SQLite scan every product, and a
        # condition on ``active`` here would tempt it to walk the listing index instead:
        # the caller checks ``active`` on the row.
        Product.id.in_(
            union_all(
                select(Product.id).where(Product.slug == _KEY),
                select(Product.id).where(Product.sku == _KEY),
                select(ProductVariant.product_id).where(ProductVariant.sku == _KEY),
            )
        ),
    )
    .limit(1)
)

VARIANTS_OF_PRODUCT = (
    select(
        ProductVariant.sku,
        ProductVariant.label,
        ProductVariant.options,
        ProductVariant.price_cents,
        ProductVariant.was_price_cents,
        ProductVariant.stock,
        ProductVariant.weight_grams,
    )
    .where(ProductVariant.product_id == bindparam("product_id"))
    .order_by(ProductVariant.position, ProductVariant.id)
)

SUMMARIES_BY_ID = (
    select(*SUMMARY_COLUMNS, Product.id)
    .join(Category, Category.id == Product.category_id)
    .where(Product.id.in_(bindparam("ids", expanding=True)))
)

_ORDERINGS = {
    SortOrder.price_asc: (Product.price_cents.asc(), Product.name.asc(), Product.id.asc()),
    SortOrder.price_desc: (Product.price_cents.desc(), Product.name.asc(), Product.id.asc()),
    SortOrder.newest: (Product.created_at.desc(), Product.id.desc()),
    SortOrder.name: (Product.name.asc(), Product.id.asc()),
}


@cache
def listing(
    by_category: bool, price_min: bool, price_max: bool, in_stock: bool, sort: SortOrder
) -> tuple[Select[Any], Select[Any]]:
    """The count and the page statements for one shape of listing (64 shapes at most).

    Parameters: ``category_ids`` (a list), ``price_min``, ``price_max``, ``limit``, ``offset``.
    """
    conditions: list[Any] = [Product.active.is_(True)]
    if by_category:
        conditions.append(Product.category_id.in_(bindparam("category_ids", expanding=True)))
    if price_min:
        conditions.append(Product.price_cents >= bindparam("price_min"))
    if price_max:
        conditions.append(Product.price_cents <= bindparam("price_max"))
    if in_stock:
        conditions.append(Product.stock > 0)
    count: Select[Any] = select(func.count(Product.id)).where(*conditions)
    # Choose the page's ids first, then join: the database sorts bare ids, and reads the
    # other columns and the category only for the rows it returns.
    page_ids = (
        select(Product.id)
        .where(*conditions)
        .order_by(*_ORDERINGS[sort])
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    page: Select[Any] = (
        select(*SUMMARY_COLUMNS)
        .join(Category, Category.id == Product.category_id)
        .where(Product.id.in_(page_ids.scalar_subquery()))
        .order_by(*_ORDERINGS[sort])
    )
    return count, page
