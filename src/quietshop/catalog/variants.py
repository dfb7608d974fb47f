"""What buying needs from the catalog: the cart's price lookup, the product page's variant
picker, and the cache tags that say which product an answer shows.

The cart lives in the browser (P1) and holds SKUs and quantities only; the cart page asks
``lookup_variants`` for today's names, prices and stock. The answer is the same for
everyone, so it is cached like any catalog page. The picker is plain logic over a
product's variants: a GET form names options (``?length=2+m&colour=Black``) or a SKU
(``?variant=...``) and ``pick_variant`` says which variant that is, or why it is not one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from quietshop.catalog.models import Product, ProductVariant
from quietshop.catalog.schemas import Money, VariantOut
from quietshop.catalog.service import LISTINGS_TAG, image_url, product_cache_tag
from quietshop.errors import InvalidInput

MAX_LOOKUP_SKUS = 50
MAX_SKU_CHARS = 40  # the column's width
MAX_QUANTITY = 999  # the cart's own limit per line (orders/static/cart.js says the same)
LOW_STOCK = 10  # below it a page says "Only N left"
# Visible ASCII: every SKU the shop makes (QS-1042-2M-BK) and nothing that could be a
# control character, a space or a NUL (which PostgreSQL refuses in text).
SKU_PATTERN = r"^[!-~]+$"
_SKU = re.compile(SKU_PATTERN)

# ---------------------------------------------------------------- cache tags

CACHE_TAGS_HEADER = "x-cache-tags"
# The tags the catalog's change log drops pages by (service.py records them): one
# product's pages and answers, and every page that lists products.
product_tag = product_cache_tag


class Headers(Protocol):
    """An answer's headers (Starlette's MutableHeaders, or a dict in a test)."""

    def __setitem__(self, key: str, value: str, /) -> None: ...


def set_cache_tags(headers: Headers, tags: Iterable[str]) -> None:
    """Say which catalog things an answer shows, so the page cache can drop exactly the
    answers a change concerns (web/page_cache.py keeps the tags and never sends them)."""
    unique = list(dict.fromkeys(tags))
    if unique:
        headers[CACHE_TAGS_HEADER] = " ".join(unique)


# ---------------------------------------------------------------- the cart's price lookup


class CartVariant(BaseModel):
    """What the cart shows of one SKU, at today's price and stock."""

    model_config = ConfigDict(frozen=True)

    sku: str
    product_sku: str
    product_slug: str
    name: str
    label: str
    options: dict[str, Any]
    price: Money
    was_price: Money | None
    stock: int
    in_stock: bool
    active: bool
    image_url: str | None
    weight_grams: int


class VariantLookup(BaseModel):
    """The SKUs found (in the order asked), and those that are unknown or no longer sold."""

    variants: list[CartVariant]
    missing: list[str]

    def cache_tags(self) -> list[str]:
        tags = [product_tag(variant.product_sku) for variant in self.variants]
        # A missing SKU may come back (a product activated again): such an answer goes
        # whenever the listings change too.
        return [*tags, LISTINGS_TAG] if self.missing else tags


_LOOKUP = (
    select(
        ProductVariant.sku,
        Product.sku,
        Product.slug,
        Product.name,
        ProductVariant.label,
        ProductVariant.options,
        ProductVariant.price_cents,
        ProductVariant.was_price_cents,
        Product.currency,
        ProductVariant.stock,
        Product.image_file,
        ProductVariant.weight_grams,
    )
    .join(Product, Product.id == ProductVariant.product_id)
    .where(
        ProductVariant.sku.in_(bindparam("skus", expanding=True)),
        Product.active.is_(True),
    )
)


def checked_skus(skus: Sequence[str]) -> list[str]:
    """1 to 50 SKUs of 1 to 40 visible characters, without repeats (in the order given).

    Raises ``InvalidInput("sku", ...)`` for anything else: the whole request is refused,
    so no caller mistakes a malformed SKU for one that is merely not sold."""
    if not skus:
        raise InvalidInput("sku", f"give 1 to {MAX_LOOKUP_SKUS} SKUs")
    if len(skus) > MAX_LOOKUP_SKUS:
        raise InvalidInput("sku", f"at most {MAX_LOOKUP_SKUS} SKUs per request")
    for sku in skus:
        if len(sku) > MAX_SKU_CHARS or not _SKU.match(sku):
            raise InvalidInput(
                "sku", f"a SKU is 1 to {MAX_SKU_CHARS} letters, digits or punctuation"
            )
    return list(dict.fromkeys(skus))


def lookup_variants(session: Session, skus: Sequence[str]) -> VariantLookup:
    """Today's name, price and stock of each SKU of an active product; the rest missing."""
    wanted = checked_skus(skus)
    rows = session.connection().execute(_LOOKUP, {"skus": wanted}).all()
    found = {row[0]: _cart_variant(row) for row in rows}
    return VariantLookup(
        variants=[found[sku] for sku in wanted if sku in found],
        missing=[sku for sku in wanted if sku not in found],
    )


def _cart_variant(row: Any) -> CartVariant:
    (
        sku, product_sku, slug, name, label, options, price_cents, was_price_cents,
        currency, stock, image_file, weight_grams,
    ) = row  # fmt: skip
    return CartVariant(
        sku=sku,
        product_sku=product_sku,
        product_slug=slug,
        name=name,
        label=label,
        options=options or {},
        price=Money(cents=price_cents, currency=currency),
        was_price=None
        if was_price_cents is None
        else Money(cents=was_price_cents, currency=currency),
        stock=stock,
        in_stock=stock > 0,
        active=True,  # inactive products are answered as missing
        image_url=image_url(image_file),
        weight_grams=weight_grams,
    )


# ---------------------------------------------------------------- the variant picker


@dataclass(frozen=True)
class Choice:
    """One value of one option, as the picker offers it next to the current variant."""

    value: str
    selected: bool
    # Is there a variant with this value and the current variant's other options?
    available: bool
    sold_out: bool


@dataclass(frozen=True)
class OptionGroup:
    name: str  # the key in the variants' options, and the form field's name
    title: str  # "Length"
    choices: list[Choice]


@dataclass(frozen=True)
class VariantPick:
    """The variant a product page shows, the picker's groups, and what to tell the shopper."""

    variant: VariantOut
    groups: list[OptionGroup]
    # Not empty when what was asked for is not a variant of this product.
    message: str
    # True when the variants are told apart by their options (else by a list of variants).
    by_options: bool

    @property
    def stock_text(self) -> str:
        return stock_text(self.variant.stock)

    @property
    def max_quantity(self) -> int:
        return min(self.variant.stock, MAX_QUANTITY)


def stock_text(stock: int) -> str:
    if stock <= 0:
        return "Out of stock"
    return f"Only {stock} left" if stock < LOW_STOCK else "In stock"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _option_names(variants: Sequence[VariantOut]) -> list[str]:
    """The option names, when every variant has the same ones and no two variants have the
    same values; else none (such a product is picked from a list of its variants)."""
    names = list(variants[0].options)
    if not names or len(variants) < 2:
        return []
    seen: set[tuple[str, ...]] = set()
    for variant in variants:
        if set(variant.options) != set(names):
            return []
        seen.add(tuple(_text(variant.options[name]) for name in names))
    return names if len(seen) == len(variants) else []


def _values(variant: VariantOut, names: Sequence[str]) -> dict[str, str]:
    return {name: _text(variant.options[name]) for name in names}


def _title(name: str) -> str:
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _default(variants: Sequence[VariantOut]) -> VariantOut:
    """What a product page shows first: its first variant one can buy, else its first."""
    return next((v for v in variants if v.in_stock), variants[0])


def _by_options(
    variants: Sequence[VariantOut], names: Sequence[str], asked: Mapping[str, str]
) -> tuple[VariantOut, str]:
    wanted = {name: asked[name] for name in names if name in asked}
    rows = [(variant, _values(variant, names)) for variant in variants]
    matching = [v for v, values in rows if all(values[n] == w for n, w in wanted.items())]
    if matching:
        return _default(matching), ""
    # The closest variant: the most options as asked, the first one on a tie.
    best = max(rows, key=lambda row: sum(row[1][n] == w for n, w in wanted.items()))[0]
    known = {name: {values[name] for _, values in rows} for name in names}
    if all(value in known[name] for name, value in wanted.items()):
        asked_for = ", ".join(wanted[name] for name in names if name in wanted)
        message = f"This product does not come in {asked_for}."
    else:  # never echo a value we do not sell into a page everyone may be served
        message = "That choice is not one this product comes in."
    return best, f"{message} Showing {best.label or best.sku} instead."


def _groups(
    variants: Sequence[VariantOut], names: Sequence[str], current: VariantOut
) -> list[OptionGroup]:
    by_values = {tuple(_values(v, names).values()): v for v in variants}
    chosen = _values(current, names)
    groups = []
    for name in names:
        choices = []
        for value in dict.fromkeys(_text(v.options[name]) for v in variants):
            neighbour = by_values.get(tuple({**chosen, name: value}.values()))
            choices.append(
                Choice(
                    value=value,
                    selected=value == chosen[name],
                    available=neighbour is not None,
                    sold_out=neighbour is not None and not neighbour.in_stock,
                )
            )
        groups.append(OptionGroup(name=name, title=_title(name), choices=choices))
    return groups


def pick_variant(
    variants: Sequence[VariantOut], sku: str | None, asked: Mapping[str, str]
) -> VariantPick:
    """The variant a product page shows for its query: options (the picker's GET form) win
    over ``?variant=SKU``; neither means the first variant in stock. Something that is not a
    variant of this product falls back to the closest one with a message, never an error.

    ``asked`` is the whole query; only the product's option names are read from it.
    """
    if not variants:
        raise ValueError("a product has at least one variant")
    names = _option_names(variants)
    message = ""
    if names and any(name in asked for name in names):
        current, message = _by_options(variants, names, asked)
    elif sku:
        found = next((v for v in variants if v.sku == sku), None)
        current = found or variants[0]
        if found is None:
            message = (
                f"That version is not one of this product's. Showing {current.label or current.sku}"
                " instead."
            )
    else:
        current = _default(variants)
    if len(variants) == 1:
        message = ""  # nothing to pick: the one variant is the product
    return VariantPick(
        variant=current,
        groups=_groups(variants, names, current) if names else [],
        message=message,
        by_options=bool(names),
    )
