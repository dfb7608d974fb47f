"""A deterministic demo catalog: ~1,200 monoprice-like products with variants and SVG images.

Everything comes from one ``random.Random(seed)``: the same seed gives the same rows and
byte-identical images on every machine, so screenshots, benchmarks and tests can rely on
them. Nothing reads the clock; ``created_at`` is spread over the two years before
``CATALOG_EPOCH``. Brands are invented.

Each product has a gallery of two to four pictures (``product_images``): its main picture
(position 0, also ``products.image_file``: ``<sku>.svg``), then its other colours, then a
side view and a close-up. A drawing shows a kind of product in one colour and length, so
it is rendered and written once (``images_dir/demo/``) and shared: the main picture is a
hard link to it. Writing one file per picture cost more than the database's inserts
(bench/catalog_import.py).
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import random
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.catalog import bulk
from quietshop.catalog.demo_data import (
    BRANDS,
    CATALOG,
    COLOURS,
    Leaf,
    Top,
    warranty_terms,
)
from quietshop.catalog.demo_data import (
    LIFETIME_MONTHS as LIFETIME_MONTHS,  # tests and callers read it here
)
from quietshop.catalog.demo_images import render_svg
from quietshop.catalog.models import Category, Product
from quietshop.catalog.service import ProductDraft, VariantDraft, create_category

CATALOG_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
CATALOG_SPAN = timedelta(days=730)
FIRST_SKU_NUMBER = 10001
OUT_OF_STOCK_SHARE = 0.08
SALE_SHARE = 0.15
LOAD_BATCH = 500  # products written at once
SHARED_PICTURES = "demo"  # the folder in images_dir that holds the shared drawings
GALLERY_SIZES = (2, 3, 4)  # pictures per product, by SKU number


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


@dataclass(frozen=True)
class Picture:
    """One picture of a product's gallery: the shared drawing it shows and its alt text."""

    drawing: str  # the shared file's name in SHARED_PICTURES
    alt: str
    kind: str
    background: str
    fill: str
    title: str
    caption: str
    view: str


@dataclass(frozen=True)
class DemoProduct:
    draft: ProductDraft
    pictures: tuple[Picture, ...]  # position 0 first: the main picture

    def gallery(self) -> list[tuple[str, str]]:
        """(file, alt) in gallery order, as ``product_images`` holds them."""
        main, *others = self.pictures
        return [(f"{self.draft.sku.lower()}.svg", main.alt)] + [
            (f"{SHARED_PICTURES}/{picture.drawing}", picture.alt) for picture in others
        ]


def demo_products(
    seed: int = 2004, product_count: int = 1200, currency: str = "USD"
) -> Iterator[DemoProduct]:
    """The demo's products in SKU order, without touching a database or a file."""
    # Reproducible demo data, not secrets: a seeded generator is exactly what is wanted.
    rng = random.Random(seed)  # noqa: S311
    for index, (top, leaf) in enumerate(_leaf_sequence(rng, product_count)):
        yield _product(rng, top, leaf, FIRST_SKU_NUMBER + index, currency)


def load_demo_catalog(
    session: Session,
    images_dir: Path,
    *,
    seed: int = 2004,
    product_count: int = 1200,
    currency: str = "USD",
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Create the demo categories and ``product_count`` products with their galleries, and
    write their images.

    Works inside the caller's transaction and does not commit. Raises ``DemoCatalogExists``
    if the catalog already has products. Demo categories that already exist (by slug) are
    reused. Image files in ``images_dir`` with the same names are overwritten.
    """
    if product_count < 0:
        raise ValueError("product_count must not be negative")
    _ensure_no_products(session)
    category_count = _create_categories(session)
    variant_count = 0
    batch: list[DemoProduct] = []
    categories = bulk.category_index(session)
    with bulk.bulk_write_settings(session), _PictureFiles(images_dir) as files, _few_collections():
        for index, product in enumerate(demo_products(seed, product_count, currency)):
            files.add(product)
            batch.append(product)
            variant_count += len(product.draft.variants)
            if len(batch) == LOAD_BATCH or index + 1 == product_count:
                files.flush()
                _write_batch(session, batch, categories)
                batch.clear()
            if progress is not None:
                progress(index + 1, product_count)
    return DemoSummary(category_count, product_count, variant_count)


@contextmanager
def _few_collections() -> Iterator[None]:
    """Python's cycle collector less often while the block runs, as before after: the load
    makes millions of short-lived objects and no cycles, and the collector's passes over
    them were a tenth of its time (bench/catalog_import.py). The demo loads at the shop's
    command line, before the server starts; the CSV import, which a server runs, keeps
    the collector as it is."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 50_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _write_batch(
    session: Session, batch: Sequence[DemoProduct], categories: dict[str, bulk.CategoryFacts]
) -> None:
    # The CSV import's bulk path: a few statements per batch instead of a dozen per
    # product. ``checked``: the drafts are made valid (tests/catalog/test_demo.py checks
    # every one against admin.checked_draft) and the catalog was empty, so the per-row
    # checks, a third of the load's time, are skipped. Every draft brings its created_at.
    drafts = [product.draft for product in batch]
    bulk.upsert_products(session, drafts, CATALOG_EPOCH, categories=categories, checked=True)
    bulk.insert_galleries(session, {p.draft.sku: p.gallery() for p in batch})


class _PictureFiles:
    """Each drawing written once; a product's main picture, ``<sku>.svg``, a hard link to
    its drawing (a copy where the file system has no links).

    The files are written by one thread of their own, a batch at a time, while the loader
    goes on with the database: file system calls wait in the kernel, not in Python, and
    cost as much as the rows' inserts (bench/catalog_import.py). Leaving the block waits
    for every file and raises the first error. Paths are plain strings: pathlib's objects
    cost more than the links."""

    def __init__(self, images_dir: Path) -> None:
        self.root = str(images_dir)
        self.shared = os.path.join(self.root, SHARED_PICTURES)
        os.makedirs(self.shared, exist_ok=True)
        self.written: dict[str, str] = {}  # drawing -> its path (the writer thread's)
        self.links = True
        self.pending: list[DemoProduct] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-pictures")
        self.batches: list[Future[None]] = []

    def __enter__(self) -> _PictureFiles:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *rest: object) -> None:
        try:
            if error_type is None:
                self.flush()
            for batch in self.batches:
                if error_type is None:
                    batch.result()  # the writer's first error, if any
                else:
                    batch.exception()  # waited for; the block's own error is the one raised
        finally:
            self.writer.shutdown(wait=True, cancel_futures=True)

    def add(self, product: DemoProduct) -> None:
        self.pending.append(product)

    def flush(self) -> None:
        """Hand the products added so far to the writer."""
        if self.pending:
            self.batches.append(self.writer.submit(self._write_all, self.pending))
            self.pending = []

    def _write_all(self, products: Sequence[DemoProduct]) -> None:
        for product in products:
            self._write(product)

    def _drawing(self, picture: Picture) -> str:
        path = self.written.get(picture.drawing)
        if path is None:
            path = os.path.join(self.shared, picture.drawing)
            svg = render_svg(
                picture.kind, picture.background, picture.fill, picture.title,
                picture.caption, picture.alt, picture.view,
            )  # fmt: skip
            with open(path, "wb") as file:
                file.write(svg.encode("utf-8"))
            self.written[picture.drawing] = path
        return path

    def _write(self, product: DemoProduct) -> None:
        for picture in product.pictures[1:]:
            self._drawing(picture)
        drawing = self._drawing(product.pictures[0])
        main = os.path.join(self.root, f"{product.draft.sku.lower()}.svg")
        if self.links:
            try:
                _link(drawing, main)
                return
            except OSError:
                self.links = False  # no hard links here: copies from now on
        with open(drawing, "rb") as source, open(main, "wb") as copy:
            copy.write(source.read())


def _link(drawing: str, main: str) -> None:
    try:
        os.link(drawing, main)
    except FileExistsError:
        os.unlink(main)  # a file of an earlier load: replaced, as the contract says
        os.link(drawing, main)


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
    # Cumulative weights once, not per draw: the same draws as ``weights=`` gives.
    totals = list(itertools.accumulate(leaf.share for _, leaf in pairs))
    for _ in range(count - len(first)):
        yield rng.choices(pairs, cum_weights=totals)[0]


# ---------------------------------------------------------------- one product


def _product(rng: random.Random, top: Top, leaf: Leaf, number: int, currency: str) -> DemoProduct:
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
    pictures = _gallery(top, leaf, noun, length, colours, GALLERY_SIZES[number % 3])
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
        image_alt=pictures[0].alt,
        created_at=_created_at(rng),
    )
    return DemoProduct(draft, pictures)


_VIEW_WORDS = {"front": "", "side": "side view", "detail": "close-up"}


def _gallery(
    top: Top, leaf: Leaf, noun: str, length: str, colours: Sequence[str], size: int
) -> tuple[Picture, ...]:
    """The main picture, the product's other colours, then a side view and a close-up."""
    shots = [(colour, "front") for colour in colours]
    shots += [(colours[0], "side"), (colours[0], "detail")]
    return tuple(_picture(top, leaf, noun, length, colour, view) for colour, view in shots[:size])


_PICTURES: dict[tuple[str, str, str, str, str], Picture] = {}


def _picture(top: Top, leaf: Leaf, noun: str, length: str, colour: str, view: str) -> Picture:
    # Few distinct pictures (leaf, noun, colour, length, view): each made once a process.
    key = (leaf.slug, noun, length, colour, view)
    found = _PICTURES.get(key)
    if found is None:
        found = _PICTURES[key] = _new_picture(top, leaf, noun, length, colour, view)
    return found


def _new_picture(top: Top, leaf: Leaf, noun: str, length: str, colour: str, view: str) -> Picture:
    what = " ".join(part for part in (colour, length, noun) if part)
    code, fill = COLOURS[colour]
    length_code = length.replace(" ", "").replace(".", "-") or "any"
    drawing = f"{leaf.slug}-{leaf.nouns.index(noun)}-{code}-{length_code}-{view}.svg".lower()
    caption = " \u00b7 ".join(part for part in (colour, length) if part)
    return Picture(
        drawing=drawing,
        alt=", ".join(part for part in (what, _VIEW_WORDS[view], "product illustration") if part),
        kind=leaf.kind,
        background=top.background,
        fill=fill,
        title=_title(noun),
        caption=caption,
        view=view,
    )


def _created_at(rng: random.Random) -> datetime:
    # Whole seconds before a fixed date, so "newest first" is the same on every run.
    return CATALOG_EPOCH - timedelta(seconds=rng.randrange(int(CATALOG_SPAN.total_seconds())))


_LOWER_IN_TITLES = frozenset({"and", "for", "of", "to", "with"})


@functools.lru_cache(maxsize=4096)
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
    """The demo's warranty text for ``months`` (demo_data.warranty_terms)."""
    return warranty_terms(months, brand)
