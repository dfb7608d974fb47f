"""The catalog's read statements, built once.

Building a SQLAlchemy statement costs more than running it on SQLite, so the hot reads
are constructed at import (or once per listing shape) with bound parameters, and run on
the session's connection without the ORM layer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    Select,
    String,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    union_all,
    update,
)

from quietshop.catalog.models import (
    CatalogChange,
    CatalogState,
    Category,
    Product,
    ProductImage,
    ProductVariant,
)
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


@lru_cache(maxsize=512)
def listing(
    by_category: bool,
    price_min: bool,
    price_max: bool,
    in_stock: bool,
    sort: SortOrder,
    brands: bool = False,
    option_names: tuple[str, ...] = (),
) -> tuple[Select[Any], Select[Any]]:
    """The count and the page statements for one shape of listing (bounded: the names of
    options come from requests, so the cache forgets the least used shapes).

    Parameters: ``category_ids`` (a list), ``price_min``, ``price_max``, ``brands`` (a list),
    ``option_values_0``, ``option_values_1``, ... (a list per name in ``option_names``),
    ``limit``, ``offset``. This is the path without the listing index (catalog/listing_index.py),
    which must answer exactly as it does.
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
    if brands:
        conditions.append(Product.brand.in_(bindparam("brands", expanding=True)))
    for i, name in enumerate(option_names):
        conditions.append(_has_option(name, bindparam(f"option_values_{i}", expanding=True)))
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


# An option name goes into a JSON path (SQLite's '$."name"'): a quote, a backslash or a
# control character could break out of it, and no option is named so: such a name matches
# nothing, as in the listing index.
_JSON_KEY = re.compile(r'[^"\\\x00-\x1f\x7f]+')


def _has_option(name: str, values: BindParameter[Any]) -> Any:
    """The product has a variant whose option ``name`` is one of ``values`` (as text)."""
    if not _JSON_KEY.fullmatch(name):
        return false()
    return exists().where(
        ProductVariant.product_id == Product.id,
        ProductVariant.options[name].as_string().in_(values),
    )


# ---- the product page: its gallery and its related products (issue 11 item 3)

MAX_GALLERY = 12  # pictures one product page shows; the rest wait for the owner to prune
# ix_product_images_product (product_id, position): an index range, already in order.
IMAGES_OF_PRODUCT = (
    select(ProductImage.file, ProductImage.alt)
    .where(ProductImage.product_id == bindparam("product_id"))
    .order_by(ProductImage.position, ProductImage.id)
    .limit(MAX_GALLERY)
)

# Related products are chosen among the product's neighbours by price in its category:
# RELATED_WINDOW just above (or at) its price and as many below, two LIMITed walks of
# ix_products_category_price (active, category_id, price_cents, name, ...), so the cost is
# the window's, never the category's: a brand filter in SQL would scan the category for a
# rare brand. service.related_products ranks the window (same brand first) in Python.
# Each walk reads its rows' summary columns itself: no join and no IN list, which kept
# PostgreSQL planning longer than it ran (1.0 ms planning, 0.5 ms running at 100,000).
# The category's slug is the product's own, so it comes back as the parameter.
# Parameters: ``category_slug``, ``product_sku``, ``price_cents``.
RELATED_WINDOW = 12
# The category's id by its unique slug: a constant subquery, evaluated once.
_CATEGORY_ID = (
    select(Category.id).where(Category.slug == bindparam("category_slug")).scalar_subquery()
)
_RELATED_COLUMNS: tuple[Any, ...] = tuple(
    bindparam("category_slug", type_=String()).label("category_slug")
    if getattr(column, "name", None) == "category_slug"
    else column
    for column in SUMMARY_COLUMNS
)


def _price_neighbours(above: bool) -> Select[Any]:
    price: BindParameter[int] = bindparam("price_cents")
    window = (
        select(*_RELATED_COLUMNS)
        .where(
            Product.active.is_(True),
            Product.category_id == _CATEGORY_ID,
            Product.price_cents >= price if above else Product.price_cents < price,
            # Not in the index, but read only for the window's rows.
            Product.sku != bindparam("product_sku"),
        )
        .order_by(
            *(
                (Product.price_cents.asc(), Product.name.asc())
                if above
                else (Product.price_cents.desc(), Product.name.desc())
            )
        )
        .limit(RELATED_WINDOW)
        .subquery()
    )
    return select(window)


RELATED_CANDIDATES = union_all(_price_neighbours(above=True), _price_neighbours(above=False))
