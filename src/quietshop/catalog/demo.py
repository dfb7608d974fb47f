"""A deterministic demo catalog: ~1,200 monoprice-like products with variants and SVG images.

Everything comes from one ``random.Random(seed)``: the same seed gives the same rows and
byte-identical images on every machine, so screenshots, benchmarks and tests can rely on
them. Nothing reads the clock; ``created_at`` is spread over the two years before
``CATALOG_EPOCH``. Brands are invented.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.catalog import bulk
from quietshop.catalog.demo_data import BRANDS, CATALOG, COLOURS, LIFETIME_MONTHS, Leaf, Top
from quietshop.catalog.demo_images import render_svg
from quietshop.catalog.models import Category, Product
from quietshop.catalog.service import ProductDraft, VariantDraft, create_category

CATALOG_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
CATALOG_SPAN = timedelta(days=730)
FIRST_SKU_NUMBER = 10001
OUT_OF_STOCK_SHARE = 0.08
SALE_SHARE = 0.15
LOAD_BATCH = 500  # products written at once


class DemoCatalogExists(Exception):
    """The catalog already has products; the demo loader never adds to a real catalog."""

    def __init__(self, product_count: int) -> None:
        super().__init__(
            f"the catalog already has {product_count} product(s); "
            "the demo catalog loads only into an empty catalog"
        )
        self.product_count = product_count


@dataclass(frozen=True)
class DemoSummary:
    category_count: int
    product_count: int
    variant_count: int


_CLOSING_SENTENCES = (
    "Ships in recyclable, plastic-free packaging.",
    "Every unit is tested before it leaves the warehouse.",
    "Designed by {brand} and sold directly, without a middleman's markup.",
    "Compliant with RoHS and REACH.",
    "Backed by {brand}'s support team, who answer by mail within one working day.",
)

_STOCK_LEVELS = (2, 5, 8, 12, 18, 25, 40, 60, 85, 120, 200, 350, 600)


# ---------------------------------------------------------------- loading


def load_demo_catalog(
    session: Session,
    images_dir: Path,
    *,
    seed: int = 2004,
    product_count: int = 1200,
    currency: str = "USD",
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Create the demo categories and ``product_count`` products, and write their images.

    Works inside the caller's transaction and does not commit. Raises ``DemoCatalogExists``
    if the catalog already has products. Demo categories that already exist (by slug) are
    reused. Image files in ``images_dir`` with the same names are overwritten.
    """
    if product_count < 0:
        raise ValueError("product_count must not be negative")
    _ensure_no_products(session)
    category_count = _create_categories(session)
    images_dir.mkdir(parents=True, exist_ok=True)
    # Reproducible demo data, not secrets: a seeded generator is exactly what is wanted.
    rng = random.Random(seed)  # noqa: S311
    variant_count = 0
    batch: list[ProductDraft] = []
    categories = bulk.category_index(session)
    for index, (top, leaf) in enumerate(_leaf_sequence(rng, product_count)):
        draft, svg = _product(rng, top, leaf, FIRST_SKU_NUMBER + index, currency)
        (images_dir / f"{draft.sku.lower()}.svg").write_bytes(svg.encode("utf-8"))
        batch.append(draft)
        variant_count += len(draft.variants)
        if len(batch) == LOAD_BATCH or index + 1 == product_count:
            # The CSV import's bulk path: a few statements per batch instead of a dozen
            # per product (about 90 products/s before; bench/catalog_import.py).
            # Every draft brings its created_at.
            bulk.upsert_products(session, batch, CATALOG_EPOCH, categories=categories)
            batch.clear()
        if progress is not None:
            progress(index + 1, product_count)
    return DemoSummary(category_count, product_count, variant_count)


def product_count(session: Session) -> int:
    """How many products the catalog has (the demo loads only into an empty one)."""
    return int(session.execute(select(func.count(Product.id))).scalar_one())


def _ensure_no_products(session: Session) -> None:
    count = product_count(session)
    if count:
        raise DemoCatalogExists(count)


def _create_categories(session: Session) -> int:
    """The demo tree, top-level categories in shop order; returns its number of categories."""
    existing = set(session.execute(select(Category.slug)).scalars())
    total = 0
    for position, top in enumerate(CATALOG, start=1):
        if top.slug not in existing:
            create_category(
                session, top.slug, top.name, description=top.description, position=position
            )
        for leaf_position, leaf in enumerate(top.leaves, start=1):
            if leaf.slug not in existing:
                create_category(
                    session,
                    leaf.slug,
                    leaf.name,
                    parent_slug=top.slug,
                    description=leaf.blurb[0],
                    position=leaf_position,
                )
        total += 1 + len(top.leaves)
    return total


def _leaf_sequence(rng: random.Random, count: int) -> Iterator[tuple[Top, Leaf]]:
    """Which leaf each product belongs to: every leaf once (shuffled), then by share.

    The first pass fills every category even in a small demo. Later leaves are drawn
    lazily, between products, so a smaller catalog is a prefix of a larger one with the
    same seed.
    """
    pairs = [(top, leaf) for top in CATALOG for leaf in top.leaves]
    first = pairs[:]
    rng.shuffle(first)
    yield from first[:count]
    shares = [leaf.share for _, leaf in pairs]
    for _ in range(count - len(first)):
        yield rng.choices(pairs, weights=shares)[0]


# ---------------------------------------------------------------- one product


def _product(
    rng: random.Random, top: Top, leaf: Leaf, number: int, currency: str
) -> tuple[ProductDraft, str]:
    sku = f"QS-{number}"
    noun = rng.choice(leaf.nouns)
    brand = rng.choice(BRANDS)
    name = _product_name(rng, leaf, noun)
    base_price = rng.randint(*leaf.price)
    grams = rng.randint(*leaf.grams)
    warranty = rng.choice(leaf.warranties)
    colours = _colour_run(rng, leaf)
    variants = _variants(rng, leaf, sku, base_price, grams, colours)
    # The picture shows the first variant: its colour and, for a cable, its length.
    length = str(variants[0].options.get("length", ""))
    alt = " ".join(part for part in (colours[0], length, noun) if part) + ", product illustration"
    draft = ProductDraft(
        sku=sku,
        slug=f"{_slugify(name)}-{number}",
        name=name,
        category_slug=leaf.slug,
        variants=variants,
        currency=currency,
        description=_description(rng, leaf, brand, variants),
        brand=brand,
        warranty_months=warranty,
        warranty_terms=_warranty_terms(warranty, brand),
        image_file=f"{sku.lower()}.svg",
        image_alt=alt,
        created_at=_created_at(rng),
    )
    fill = COLOURS[colours[0]][1]
    svg = render_svg(leaf.kind, top.background, fill, _title(noun), brand, sku, alt)
    return draft, svg


def _created_at(rng: random.Random) -> datetime:
    # Whole seconds before a fixed date, so "newest first" is the same on every run.
    return CATALOG_EPOCH - timedelta(seconds=rng.randrange(int(CATALOG_SPAN.total_seconds())))


_LOWER_IN_TITLES = frozenset({"and", "for", "of", "to", "with"})


def _title(text: str) -> str:
    """Title case that leaves acronyms (HDMI, USB-C) and short joining words alone."""
    return " ".join(
        word
        if word in _LOWER_IN_TITLES
        else "-".join(part[:1].upper() + part[1:] for part in word.split("-"))
        for word in text.split()
    )


def _product_name(rng: random.Random, leaf: Leaf, noun: str) -> str:
    specs = [pick for group in leaf.specs if (pick := rng.choice(group))]
    return ", ".join([f"{rng.choice(leaf.adjectives)} {_title(noun)}", *specs])


def _slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    # Leave room for "-<sku number>" within the 160-character column.
    return slug[:120].rstrip("-")


# ---------------------------------------------------------------- variants and prices


def store_price(raw_cents: int) -> int:
    """The nearest shelf price at or above ``raw_cents``: x.49 or x.99, or x.99 from 100.00."""
    step = 50 if raw_cents < 10_000 else 100
    return step * (max(raw_cents, 0) // step + 1) - 1


def _colour_run(rng: random.Random, leaf: Leaf) -> list[str]:
    """Some of the leaf's colours, kept in the leaf's order so Black usually comes first."""
    count = rng.randint(1, min(leaf.max_colours, len(leaf.colours)))
    picked = set(rng.sample(leaf.colours, count))
    return [colour for colour in leaf.colours if colour in picked]


def _length_run(rng: random.Random, lengths: tuple[float, ...]) -> tuple[float, ...]:
    """A contiguous run of three to six lengths, as a shop would stock them."""
    size = rng.randint(min(3, len(lengths)), min(6, len(lengths)))
    start = rng.randint(0, len(lengths) - size)
    return lengths[start : start + size]


def _length_label(metres: float) -> str:
    return f"{metres:g} m"


def _length_code(metres: float) -> str:
    # SKUs avoid dots: 0.5 m is "50CM", 2 m is "2M".
    return f"{int(metres)}M" if metres == int(metres) else f"{round(metres * 100)}CM"


@dataclass(frozen=True)
class _Offer:
    """What every variant of one product shares: sold out or not, and its sale markup."""

    sold_out: bool
    markup: float | None

    @classmethod
    def draw(cls, rng: random.Random) -> _Offer:
        sold_out = rng.random() < OUT_OF_STOCK_SHARE
        on_sale = rng.random() < SALE_SHARE
        return cls(sold_out, rng.choice((1.2, 1.25, 1.3, 1.4, 1.5)) if on_sale else None)

    def variant(
        self, rng: random.Random, sku: str, price: int, grams: int, options: dict[str, str]
    ) -> VariantDraft:
        # Single variants sell out too, not only whole products.
        stock = 0 if self.sold_out or rng.random() < 0.05 else rng.choice(_STOCK_LEVELS)
        was = None
        if self.markup is not None:
            was = max(store_price(int(price * self.markup)), price + 50)
        return VariantDraft(
            sku=sku,
            price_cents=price,
            stock=stock,
            label=", ".join(options.values()),
            options=options,
            was_price_cents=was,
            weight_grams=grams,
        )


def _variants(
    rng: random.Random, leaf: Leaf, sku: str, base_price: int, grams: int, colours: list[str]
) -> list[VariantDraft]:
    """A cable: one variant per length and colour. Otherwise one per colour, or just one."""
    offer = _Offer.draw(rng)
    if leaf.lengths:
        return _cable_variants(rng, leaf, offer, sku, base_price, grams, colours)
    price = store_price(base_price)
    if len(colours) == 1:  # no options: the variant's SKU is the product's
        return [offer.variant(rng, sku, price, grams, {})]
    return [
        offer.variant(rng, f"{sku}-{COLOURS[colour][0]}", price, grams, {"colour": colour})
        for colour in colours
    ]


def _cable_variants(
    rng: random.Random,
    leaf: Leaf,
    offer: _Offer,
    sku: str,
    base_price: int,
    grams: int,
    colours: list[str],
) -> list[VariantDraft]:
    """Longer costs more and weighs more; colours of one length cost the same."""
    variants: list[VariantDraft] = []
    per_metre = leaf.per_metre_cents * rng.uniform(0.8, 1.3)
    previous = -1
    for metres in _length_run(rng, leaf.lengths):
        # Strictly rising even where two raw prices round to the same shelf price.
        price = max(store_price(int(base_price + per_metre * metres)), previous + 50)
        previous = price
        weight = grams + round(leaf.per_metre_grams * metres)
        for colour in colours:
            options = {"length": _length_label(metres), "colour": colour}
            variant_sku = f"{sku}-{_length_code(metres)}-{COLOURS[colour][0]}"
            variants.append(offer.variant(rng, variant_sku, price, weight, options))
    return variants


# ---------------------------------------------------------------- texts


def _description(
    rng: random.Random, leaf: Leaf, brand: str, variants: Sequence[VariantDraft]
) -> str:
    sentences = rng.sample(leaf.blurb, min(2, len(leaf.blurb)))
    lengths = _option_values(variants, "length")
    colours = _option_values(variants, "colour")
    if lengths:
        sentences.append(f"Available in {len(lengths)} lengths from {lengths[0]} to {lengths[-1]}.")
    if len(colours) > 1:
        sentences.append(f"Comes in {', '.join(colours[:-1])} and {colours[-1]}.")
    sentences.append(rng.choice(_CLOSING_SENTENCES).format(brand=brand))
    return " ".join(sentences)


def _option_values(variants: Sequence[VariantDraft], key: str) -> list[str]:
    """Distinct values of one option, in variant order."""
    return list(dict.fromkeys(str(v.options[key]) for v in variants if key in v.options))


def _warranty_terms(months: int, brand: str) -> str:
    exclusions = (
        "It does not cover damage from accidents, misuse, modification or normal wear. "
        "To claim, write to us with your order number; we pay the return postage."
    )
    if months == LIFETIME_MONTHS:
        return (
            f"Limited lifetime warranty: {brand} repairs or replaces this product if it fails "
            "in normal use for as long as you, the original buyer, own it. Our records show a "
            f"limited lifetime warranty as {LIFETIME_MONTHS} months. {exclusions}"
        )
    return (
        f"{months}-month limited warranty: {brand} repairs or replaces this product if it "
        f"fails in normal use within {months} months of delivery. {exclusions}"
    )
