"""Managing the catalog: what the back office changes, and how.

Single edits (a product's name, a variant's price, a category moved), and the checks a
catalog file's cells pass too. They follow the rules of ``service.py``
(``_validate_draft``: SKUs, prices, was-prices, the one-variant rule) and record in the
catalog change log exactly what a change shows on (``_record``):

- a name, brand, description, category, variant label or option, or a product coming into
  or leaving the shop changes the menu, the search vocabulary or every listing: everything;
- a price or was-price that moves the product's listed price, or its picture, shows on
  listings: that product and the listings;
- stock shows on listings only when the badge flips (``_stock_change``);
- warranty terms, weights, a price that is not the product's cheapest: that product only.

The bulk path behind the CSV import and the demo loader is ``bulk.py``; it shares these
checks and the change rules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from quietshop.catalog import search, service
from quietshop.catalog.models import Category, Product, ProductVariant
from quietshop.catalog.service import (
    EVERYTHING,
    MAX_PRICE_CENTS,
    MAX_STOCK,
    ProductDraft,
    VariantDraft,
    _Change,
    _record,
    _stock_change,
    _validate_draft,
    image_url,
)
from quietshop.errors import InvalidInput, NotFound

# Column widths (models.py) and sizes no shop text needs to pass.
MAX_NAME = 200
MAX_BRAND = 80
MAX_DESCRIPTION = 20_000
MAX_WARRANTY_TERMS = 5_000
MAX_WARRANTY_MONTHS = 1_200  # a hundred years: "lifetime" is stored as 120 (demo_data)
MAX_LABEL = 120
MAX_IMAGE_ALT = 300
MAX_OPTIONS = 8
MAX_OPTION_KEY = 40
MAX_OPTION_VALUE = 80
MAX_WEIGHT_GRAMS = 1_000_000  # one tonne: a parcel service's limit is far below
MAX_VARIANTS = 200  # variants of one product
MAX_CATEGORY_NAME = 120
MAX_CATEGORY_DESCRIPTION = 2_000
MAX_POSITION = 10_000
CATEGORY_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_CATEGORY_SLUG = 80
_CHUNK = 500  # keys per IN list (SQLite caps bound parameters)

# Control characters are refused everywhere (PostgreSQL refuses NUL in text), and so are
# the bidirectional overrides that make a text read other than it is and lone surrogates;
# texts of several lines keep their tabs and line breaks.
_TRICKS = "\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_TRICKS}]")
_CONTROL_IN_LINES = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_TRICKS}]")


class Unset(Enum):
    """A field left as it is (``None`` may mean "none", as for a was-price)."""

    UNSET = "unset"


UNSET = Unset.UNSET


# ---------------------------------------------------------------- checks shared with the file


def checked_text(
    field_name: str, value: str, limit: int, *, lines: bool = False, required: bool = False
) -> str:
    """``value`` without surrounding spaces, or InvalidInput naming ``field_name``."""
    text = value.strip()
    if required and not text:
        raise InvalidInput(field_name, "must not be empty")
    if len(text) > limit:
        raise InvalidInput(field_name, f"at most {limit} characters, not {len(text)}")
    if text.isprintable():  # the usual case, checked in C; the pattern only for the rest
        return text
    if (_CONTROL_IN_LINES if lines else _CONTROL).search(text):
        raise InvalidInput(field_name, "control characters are not allowed")
    return text


def checked_options(value: Mapping[str, Any]) -> dict[str, str]:
    """A variant's options: at most 8 names with a text value each ({"length": "2 m"})."""
    if len(value) > MAX_OPTIONS:
        raise InvalidInput("options", f"at most {MAX_OPTIONS} options")
    options: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInput("options", "each option is a name and a text value")
        name = checked_text("options", key, MAX_OPTION_KEY, required=True)
        options[name] = checked_text("options", item, MAX_OPTION_VALUE, required=True)
    return options


def checked_number(field_name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(field_name, f"must be a whole number from {low} to {high}")
    return value


def checked_variant(variant: VariantDraft) -> VariantDraft:
    """One variant's own rules (the draft's, across variants, are ``_validate_draft``'s)."""
    if variant.price_cents < 0 or (variant.was_price_cents or 0) < 0:
        raise InvalidInput("price_cents", "must not be negative")
    checked_number("price_cents", variant.price_cents, 0, MAX_PRICE_CENTS)
    if variant.was_price_cents is not None:
        checked_number("was_price_cents", variant.was_price_cents, 0, MAX_PRICE_CENTS)
    checked_number("stock", variant.stock, 0, MAX_STOCK)
    checked_number("weight_grams", variant.weight_grams, 0, MAX_WEIGHT_GRAMS)
    return replace(
        variant,
        label=checked_text("label", variant.label, MAX_LABEL),
        options=checked_options(variant.options),
    )


def checked_draft(draft: ProductDraft) -> ProductDraft:
    """A draft as it will be stored (texts trimmed), or InvalidInput for its first problem."""
    if len(draft.variants) > MAX_VARIANTS:
        raise InvalidInput("variants", f"at most {MAX_VARIANTS} variants")
    checked = replace(
        draft,
        name=checked_text("name", draft.name, MAX_NAME, required=True),
        brand=checked_text("brand", draft.brand, MAX_BRAND),
        description=checked_text("description", draft.description, MAX_DESCRIPTION, lines=True),
        warranty_terms=checked_text(
            "warranty_terms", draft.warranty_terms, MAX_WARRANTY_TERMS, lines=True
        ),
        image_alt=checked_text("image_alt", draft.image_alt, MAX_IMAGE_ALT),
        variants=[checked_variant(variant) for variant in draft.variants],
    )
    checked_number("warranty_months", draft.warranty_months, 0, MAX_WARRANTY_MONTHS)
    _validate_draft(checked)
    return checked


# ---------------------------------------------------------------- slugs and search text


def _slug_words(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def slug_for(name: str, sku: str) -> str:
    """A product page's address: its name and SKU (the demo's shape, "hdmi-cable-10001")."""
    return f"{_slug_words(name)[:110].rstrip('-')}-{_slug_words(sku)[:40]}".strip("-") or "product"


def fallback_slug(slug: str, sku: str) -> str:
    # Two SKUs may fold to the same words (A_1, A-1): the SKU's own digest tells them apart.
    return f"{slug[:150]}-{hashlib.sha256(sku.encode()).hexdigest()[:8]}"


def search_text(
    sku: str,
    category_name: str,
    parent_name: str,
    description: str,
    variants: Iterable[tuple[str, str]],
) -> str:
    """What full-text search indexes beside name and brand (as create_product builds it):
    SKUs, the category and its parent, the description, each variant's SKU and label."""
    return search.document_text(
        sku, category_name, parent_name, description, *(f"{s} {label}" for s, label in variants)
    )


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Edited:
    """What one edit changed: the audit entry's subject and the columns it wrote."""

    subject: str  # "product:QS-10001", "category:hdmi-cables"
    fields: tuple[str, ...] = ()  # "products.name", "product_variants.price_cents"

    @property
    def changed(self) -> bool:
        return bool(self.fields)

    @property
    def product_sku(self) -> str:
        """The product's SKU, for an edit of a product or one of its variants ("" else)."""
        kind, _, key = self.subject.partition(":")
        return key if kind == "product" else ""


# ---------------------------------------------------------------- reading for the editor


@dataclass(frozen=True)
class VariantForEditing:
    sku: str
    label: str
    options: dict[str, Any]
    price_cents: int
    was_price_cents: int | None
    stock: int
    weight_grams: int
    position: int


@dataclass(frozen=True)
class ProductForEditing:
    sku: str
    slug: str
    name: str
    brand: str
    category_slug: str
    description: str
    warranty_months: int
    warranty_terms: str
    currency: str
    price_cents: int
    was_price_cents: int | None
    stock: int
    active: bool
    image_url: str | None
    image_alt: str
    created_at: datetime
    variants: list[VariantForEditing] = field(default_factory=list)


@dataclass(frozen=True)
class ProductRow:
    """One line of the editor's product list (active or not)."""

    sku: str
    name: str
    category_slug: str
    price_cents: int
    currency: str
    stock: int
    variant_count: int
    active: bool
    image_url: str | None


@dataclass(frozen=True)
class ProductRows:
    items: list[ProductRow]
    total: int
    page: int
    page_size: int


MAX_EDITOR_PAGE = 100
MAX_FIND_CHARS = 100


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_products(
    session: Session, text: str = "", page: int = 1, page_size: int = 50
) -> ProductRows:
    """Products for the editor, withdrawn ones too, by SKU order: those whose SKU, a
    variant's SKU or name holds ``text`` (any case). Not the shop's search: a clerk looks
    for a SKU or a few letters of a name, and finds products the shop does not sell."""
    checked_number("page", page, 1, 100_000)
    checked_number("page_size", page_size, 1, MAX_EDITOR_PAGE)
    wanted = checked_text("q", text, MAX_FIND_CHARS)
    conditions: list[Any] = []
    if wanted:
        pattern = _like(wanted.casefold())
        variant_match = select(ProductVariant.product_id).where(
            func.lower(ProductVariant.sku).like(pattern, escape="\\")
        )
        conditions.append(
            func.lower(Product.sku).like(pattern, escape="\\")
            | func.lower(Product.name).like(pattern, escape="\\")
            | Product.id.in_(variant_match)
        )
    total = session.execute(select(func.count(Product.id)).where(*conditions)).scalar_one()
    rows = session.execute(
        select(
            Product.sku, Product.name, Category.slug, Product.price_cents, Product.currency,
            Product.stock, Product.variant_count, Product.active, Product.image_file,
        )
        .join(Category, Category.id == Product.category_id)
        .where(*conditions)
        .order_by(Product.sku)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()  # fmt: skip
    return ProductRows(
        items=[ProductRow(*row[:8], image_url(row[8])) for row in rows],
        total=int(total),
        page=page,
        page_size=page_size,
    )


def _product(session: Session, sku: str) -> Product:
    if not sku or len(sku) > 40 or not sku.isprintable():
        raise NotFound("product")
    product = session.execute(select(Product).where(Product.sku == sku)).scalar()
    if product is None:
        raise NotFound("product")
    return product


def require_product(session: Session, sku: str) -> None:
    """NotFound unless a product (withdrawn or not) has this SKU."""
    _product(session, sku)


def product_for_editing(session: Session, sku: str) -> ProductForEditing:
    """Everything the editor shows of one product, withdrawn or not; NotFound otherwise."""
    product = _product(session, sku)
    return ProductForEditing(
        sku=product.sku,
        slug=product.slug,
        name=product.name,
        brand=product.brand,
        category_slug=product.category.slug,
        description=product.description,
        warranty_months=product.warranty_months,
        warranty_terms=product.warranty_terms,
        currency=product.currency,
        price_cents=product.price_cents,
        was_price_cents=product.was_price_cents,
        stock=product.stock,
        active=product.active,
        image_url=image_url(product.image_file),
        image_alt=product.image_alt,
        created_at=product.created_at,
        variants=[
            VariantForEditing(
                sku=v.sku,
                label=v.label,
                options=dict(v.options or {}),
                price_cents=v.price_cents,
                was_price_cents=v.was_price_cents,
                stock=v.stock,
                weight_grams=v.weight_grams,
                position=v.position,
            )
            for v in product.variants
        ],
    )


# ---------------------------------------------------------------- one product


@dataclass(frozen=True)
class ProductChanges:
    """The product's own fields to change; None leaves a field as it is."""

    name: str | None = None
    brand: str | None = None
    description: str | None = None
    category_slug: str | None = None
    warranty_months: int | None = None
    warranty_terms: str | None = None
    active: bool | None = None
    image_alt: str | None = None


# Which change a product column makes (see the module's docstring).
_SHOWN_EVERYWHERE = frozenset({"name", "brand", "description", "category_id", "active"})
_SHOWN_ON_LISTINGS = frozenset({"price_cents", "was_price_cents", "image_file", "image_alt"})


def product_change(sku: str, columns: Iterable[str], stock: tuple[int, int]) -> _Change:
    changed = set(columns)
    if changed & (_SHOWN_EVERYWHERE | {"search_text", "variant_count"}):
        return EVERYTHING
    if changed & _SHOWN_ON_LISTINGS:
        return _Change(sku, listings=True)
    return _stock_change(sku, *stock)


def create_product(session: Session, draft: ProductDraft, now: datetime) -> Edited:
    """``service.create_product`` with the back office's checks on every text, and a slug
    made from the name and SKU when the draft has none."""
    checked = checked_draft(draft)
    if not checked.slug:
        slug = slug_for(checked.name, checked.sku)
        taken = session.execute(select(Product.id).where(Product.slug == slug)).first()
        checked = replace(checked, slug=fallback_slug(slug, checked.sku) if taken else slug)
    service.create_product(session, checked, now)
    return Edited(f"product:{checked.sku}", ("products.*",))


def _category_id(session: Session, slug: str) -> int:
    found = session.execute(select(Category.id).where(Category.slug == slug)).scalar()
    if found is None:
        raise InvalidInput("category_slug", f"no category {slug[:80]!r}")
    return int(found)


def _checked_product_values(session: Session, changes: ProductChanges) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = checked_text("name", changes.name, MAX_NAME, required=True)
    if changes.brand is not None:
        values["brand"] = checked_text("brand", changes.brand, MAX_BRAND)
    if changes.description is not None:
        values["description"] = checked_text(
            "description", changes.description, MAX_DESCRIPTION, lines=True
        )
    if changes.warranty_terms is not None:
        values["warranty_terms"] = checked_text(
            "warranty_terms", changes.warranty_terms, MAX_WARRANTY_TERMS, lines=True
        )
    if changes.image_alt is not None:
        values["image_alt"] = checked_text("image_alt", changes.image_alt, MAX_IMAGE_ALT)
    if changes.warranty_months is not None:
        values["warranty_months"] = checked_number(
            "warranty_months", changes.warranty_months, 0, MAX_WARRANTY_MONTHS
        )
    if changes.active is not None:
        values["active"] = bool(changes.active)
    if changes.category_slug is not None:
        values["category_id"] = _category_id(session, changes.category_slug)
    return values


def update_product(session: Session, sku: str, changes: ProductChanges) -> Edited:
    """Change a product's own fields; only those that differ are written and logged."""
    product = _product(session, sku)
    values = _checked_product_values(session, changes)
    changed = [name for name, value in values.items() if getattr(product, name) != value]
    for name in changed:
        setattr(product, name, values[name])
    if not changed:
        return Edited(f"product:{sku}")
    session.flush()
    if {"description", "category_id"} & set(changed):
        _refresh_search_texts(session, [product.id])
    _record(session, [product_change(product.sku, changed, (product.stock, product.stock))])
    return Edited(f"product:{sku}", tuple(f"products.{name}" for name in sorted(changed)))


def set_product_image(session: Session, sku: str, image_file: str) -> Edited:
    """Point a product at a stored picture (images.py stores it); shown on listings too."""
    product = _product(session, sku)
    if product.image_file == image_file:
        return Edited(f"product:{sku}")
    product.image_file = image_file
    session.flush()
    _record(session, [_Change(product.sku, listings=True)])
    return Edited(f"product:{sku}", ("products.image_file",))


# ---------------------------------------------------------------- variants


@dataclass(frozen=True)
class VariantChanges:
    """A variant's fields to change; None (UNSET for the was-price, where None clears it)
    leaves a field as it is."""

    label: str | None = None
    options: Mapping[str, Any] | None = None
    price_cents: int | None = None
    was_price_cents: int | Unset | None = UNSET
    stock: int | None = None
    weight_grams: int | None = None


def _variant(session: Session, sku: str) -> ProductVariant:
    if not sku or len(sku) > 40 or not sku.isprintable():
        raise NotFound("variant")
    variant = session.execute(select(ProductVariant).where(ProductVariant.sku == sku)).scalar()
    if variant is None:
        raise NotFound("variant")
    return variant


def _as_draft(variant: ProductVariant) -> VariantDraft:
    return VariantDraft(
        sku=variant.sku,
        price_cents=variant.price_cents,
        stock=variant.stock,
        label=variant.label,
        options=dict(variant.options or {}),
        was_price_cents=variant.was_price_cents,
        weight_grams=variant.weight_grams,
    )


def _changed_variant(variant: ProductVariant, changes: VariantChanges) -> VariantDraft:
    draft = _as_draft(variant)
    if changes.label is not None:
        draft = replace(draft, label=changes.label)
    if changes.options is not None:
        draft = replace(draft, options=dict(changes.options))
    if changes.price_cents is not None:
        draft = replace(draft, price_cents=changes.price_cents)
    if not isinstance(changes.was_price_cents, Unset):
        draft = replace(draft, was_price_cents=changes.was_price_cents)
    if changes.stock is not None:
        draft = replace(draft, stock=changes.stock)
    if changes.weight_grams is not None:
        draft = replace(draft, weight_grams=changes.weight_grams)
    return checked_variant(draft)


def _product_draft(product: Product, variants: Sequence[VariantDraft]) -> ProductDraft:
    return ProductDraft(
        sku=product.sku,
        slug=product.slug,
        name=product.name,
        category_slug=product.category.slug,
        variants=variants,
        currency=product.currency,
    )


_VARIANT_FIELDS = ("label", "options", "price_cents", "was_price_cents", "stock", "weight_grams")


def update_variant(session: Session, sku: str, changes: VariantChanges) -> Edited:
    """Change one variant (price, was-price, stock, weight, label, options) and refresh
    its product's summary (lowest price, total stock); logs what the change shows on."""
    variant = _variant(session, sku)
    product = variant.product
    wanted = _changed_variant(variant, changes)
    drafts = [wanted if v.id == variant.id else _as_draft(v) for v in product.variants]
    _validate_draft(_product_draft(product, drafts))
    changed = [name for name in _VARIANT_FIELDS if getattr(variant, name) != getattr(wanted, name)]
    if not changed:
        return Edited(f"product:{product.sku}")
    for name in changed:
        setattr(variant, name, getattr(wanted, name))
    _settle(session, product, search=bool({"label", "options"} & set(changed)))
    return Edited(f"product:{product.sku}", tuple(f"product_variants.{name}" for name in changed))


def add_variant(session: Session, product_sku: str, draft: VariantDraft) -> Edited:
    """A new variant at the end of a product's list (its SKU unused by any variant)."""
    product = _product(session, product_sku)
    wanted = checked_variant(draft)
    if len(product.variants) >= MAX_VARIANTS:
        raise InvalidInput("variants", f"at most {MAX_VARIANTS} variants")
    _validate_draft(_product_draft(product, [*map(_as_draft, product.variants), wanted]))
    if session.execute(select(ProductVariant.id).where(ProductVariant.sku == wanted.sku)).first():
        raise InvalidInput("sku", f"variant SKU {wanted.sku!r} is taken")
    position = max((v.position for v in product.variants), default=-1) + 1
    product.variants.append(
        ProductVariant(
            sku=wanted.sku,
            label=wanted.label,
            options=dict(wanted.options),
            price_cents=wanted.price_cents,
            was_price_cents=wanted.was_price_cents,
            stock=wanted.stock,
            weight_grams=wanted.weight_grams,
            position=position,
        )
    )
    _settle(session, product, search=True)
    return Edited(f"product:{product.sku}", ("product_variants.*",))


def _settle(session: Session, product: Product, *, search: bool) -> None:
    """After a variant changed: the product's summary and search text, and the change."""
    session.flush()
    before = product.stock
    changed = _refresh_summary(product)
    if search:
        _refresh_search_texts(session, [product.id])
        changed.append("search_text")
    session.flush()
    change = product_change(product.sku, changed, (before, product.stock))
    _record(session, [change])


def summary_values(variants: Sequence[Any]) -> dict[str, Any]:
    """What a product shows of its variants: the cheapest's price, was-price and weight
    (the first of equal ones), their total stock and number (as create_product sets it)."""
    cheapest = min(variants, key=lambda v: v.price_cents)
    return {
        "price_cents": cheapest.price_cents,
        "was_price_cents": cheapest.was_price_cents,
        "weight_grams": cheapest.weight_grams,
        "stock": sum(v.stock for v in variants),
        "variant_count": len(variants),
    }


def _refresh_summary(product: Product) -> list[str]:
    values = summary_values(sorted(product.variants, key=lambda v: (v.position, v.id)))
    changed = [name for name, value in values.items() if getattr(product, name) != value]
    for name in changed:
        setattr(product, name, values[name])
    return changed


def update_by_id(session: Session, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany UPDATE of ``rows`` (each with its ``id`` and the same columns)."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "id"]
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in names})
    )
    session.connection().execute(
        statement, [{f"b_{key}": value for key, value in row.items()} for row in rows]
    )


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _refresh_search_texts(session: Session, product_ids: Sequence[int]) -> None:
    """Rebuild the search text of these products from their rows (a category renamed or
    moved, a description or a variant label changed); writes only those that differ."""
    parent = Category.__table__.alias("parent")
    connection = session.connection()
    for chunk in chunks(list(product_ids)):
        rows = connection.execute(
            select(Product.id, Product.sku, Product.description, Product.search_text,
                   Category.name, func.coalesce(parent.c.name, ""))
            .join(Category, Category.id == Product.category_id)
            .outerjoin(parent, parent.c.id == Category.parent_id)
            .where(Product.id.in_(chunk))
        ).all()  # fmt: skip
        labels: dict[int, list[tuple[str, str]]] = {}
        for product_id, sku, label in connection.execute(
            select(ProductVariant.product_id, ProductVariant.sku, ProductVariant.label)
            .where(ProductVariant.product_id.in_(chunk))
            .order_by(ProductVariant.product_id, ProductVariant.position, ProductVariant.id)
        ):
            labels.setdefault(product_id, []).append((sku, label))
        changed = []
        for product_id, sku, description, current, category, parent_name in rows:
            text = search_text(sku, category, parent_name, description, labels.get(product_id, []))
            if text != current:
                changed.append({"id": product_id, "search_text": text})
        update_by_id(session, Product.__table__, changed)


# ---------------------------------------------------------------- categories


@dataclass(frozen=True)
class CategoryChanges:
    """None leaves a field as it is; ``parent_slug`` None moves it to the top level."""

    name: str | None = None
    description: str | None = None
    position: int | None = None
    parent_slug: str | Unset | None = UNSET


@dataclass(frozen=True)
class CategoryRow:
    slug: str
    name: str
    description: str
    parent_slug: str | None
    position: int
    product_count: int


def categories_for_editing(session: Session) -> list[CategoryRow]:
    """Every category, parents before children in shop order, with its own product count."""
    parent = Category.__table__.alias("parent")
    counts = dict(
        session.execute(
            select(Product.category_id, func.count(Product.id)).group_by(Product.category_id)
        ).all()
    )
    rows = session.execute(
        select(Category.id, Category.slug, Category.name, Category.description, parent.c.slug,
               Category.position, Category.parent_id)
        .outerjoin(parent, parent.c.id == Category.parent_id)
        .order_by(Category.position, Category.name)
    ).all()  # fmt: skip
    children: dict[int | None, list[Any]] = {}
    for row in rows:
        children.setdefault(row[6], []).append(row)
    ordered: list[CategoryRow] = []

    def walk(parent_id: int | None) -> None:
        for row in children.get(parent_id, []):
            category_id, slug, name, description, parent_slug, position, _ = row
            count = int(counts.get(category_id, 0))
            ordered.append(CategoryRow(slug, name, description, parent_slug, position, count))
            walk(row[0])

    walk(None)
    return ordered


def _checked_slug(slug: str) -> str:
    if len(slug) > MAX_CATEGORY_SLUG or not CATEGORY_SLUG.match(slug):
        raise InvalidInput("slug", "a few words of a-z and 0-9 joined by single hyphens")
    return slug


def create_category(
    session: Session,
    slug: str,
    name: str,
    parent_slug: str | None = None,
    description: str = "",
    position: int = 0,
) -> Edited:
    """``service.create_category`` with the back office's checks on its texts."""
    service.create_category(
        session,
        _checked_slug(slug),
        checked_text("name", name, MAX_CATEGORY_NAME, required=True),
        parent_slug,
        checked_text("description", description, MAX_CATEGORY_DESCRIPTION, lines=True),
        checked_number("position", position, 0, MAX_POSITION),
    )
    return Edited(f"category:{slug}", ("categories.*",))


def _category(session: Session, slug: str) -> Category:
    found = session.execute(select(Category).where(Category.slug == slug)).scalar()
    if found is None:
        raise NotFound("category")
    return found


def _new_parent_id(session: Session, category: Category, parent_slug: str | None) -> int | None:
    """The parent's id; refuses a move under the category itself or one of its own."""
    if parent_slug is None:
        return None
    parent = session.execute(select(Category.id).where(Category.slug == parent_slug)).scalar()
    if parent is None:
        raise InvalidInput("parent_slug", f"no category {parent_slug[:80]!r}")
    parents = dict(session.execute(select(Category.id, Category.parent_id)).all())
    step: int | None = parent
    while step is not None:
        if step == category.id:
            raise InvalidInput("parent_slug", "a category cannot move under itself or its own")
        step = parents.get(step)
    return int(parent)


def update_category(session: Session, slug: str, changes: CategoryChanges) -> Edited:
    """Rename, describe, reorder or move a category (never into a cycle). The search text
    of the products it holds (and, renamed, of those in its children) is rebuilt, since
    it names the category and its parent."""
    category = _category(session, slug)
    values: dict[str, Any] = {}
    if changes.name is not None:
        values["name"] = checked_text("name", changes.name, MAX_CATEGORY_NAME, required=True)
    if changes.description is not None:
        values["description"] = checked_text(
            "description", changes.description, MAX_CATEGORY_DESCRIPTION, lines=True
        )
    if changes.position is not None:
        values["position"] = checked_number("position", changes.position, 0, MAX_POSITION)
    if not isinstance(changes.parent_slug, Unset):
        values["parent_id"] = _new_parent_id(session, category, changes.parent_slug)
    changed = [name for name, value in values.items() if getattr(category, name) != value]
    if not changed:
        return Edited(f"category:{slug}")
    for name in changed:
        setattr(category, name, values[name])
    session.flush()
    if {"name", "parent_id"} & set(changed):
        holders = [category.id]
        if "name" in changed:
            holders += session.execute(
                select(Category.id).where(Category.parent_id == category.id)
            ).scalars()
        ids = session.execute(select(Product.id).where(Product.category_id.in_(holders)))
        _refresh_search_texts(session, list(ids.scalars()))
    _record(session, [EVERYTHING])  # the menu, breadcrumbs and listings change
    return Edited(f"category:{slug}", tuple(f"categories.{name}" for name in changed))
