"""The demo catalog: big enough to browse, deterministic, safe images, never loaded twice."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.catalog import admin
from quietshop.catalog.demo import (
    CATALOG_EPOCH,
    LIFETIME_MONTHS,
    SHARED_PICTURES,
    DemoCatalogExists,
    DemoSummary,
    demo_products,
    load_demo_catalog,
    store_price,
)
from quietshop.catalog.demo_data import warranty_terms
from quietshop.catalog.models import Category, Product, ProductImage, ProductVariant
from quietshop.catalog.service import search_products
from quietshop.db import make_engine, make_session_factory, upgrade_to_head

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Loaded:
    factory: sessionmaker[Session]
    images: Path
    summary: DemoSummary
    seconds: float


def _database(directory: Path) -> Engine:
    engine = make_engine(f"sqlite:///{directory}/t.db")
    upgrade_to_head(engine)
    return engine


def _load(
    directory: Path,
    seed: int = 2004,
    product_count: int = 1200,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Engine, Loaded]:
    """A fresh database in ``directory`` with the demo catalog committed to it."""
    engine = _database(directory)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with factory() as session, session.begin():
        summary = load_demo_catalog(
            session,
            directory / "images",
            seed=seed,
            product_count=product_count,
            progress=progress,
        )
    return engine, Loaded(factory, directory / "images", summary, time.perf_counter() - started)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """One default-sized demo catalog shared by the read-only tests of this module."""
    engine, loaded = _load(tmp_path_factory.mktemp("demo"))
    yield loaded
    engine.dispose()


def _products(loaded: Loaded) -> list[Product]:
    with loaded.factory() as session:
        return list(session.execute(select(Product).order_by(Product.sku)).scalars())


def _variants(loaded: Loaded) -> list[ProductVariant]:
    with loaded.factory() as session:
        return list(session.execute(select(ProductVariant)).scalars())


# ---------------------------------------------------------------- size and shape


def test_default_catalog_has_1200_products_and_loads_quickly(full: Loaded) -> None:
    assert full.summary.product_count == 1200
    with full.factory() as session:
        assert session.execute(select(func.count(Product.id))).scalar_one() == 1200
        variants = session.execute(select(func.count(ProductVariant.id))).scalar_one()
    assert variants == full.summary.variant_count
    # Loose on purpose: catches an accidental quadratic loader, not a slow test machine.
    assert full.seconds < 30


def test_tree_has_8_ordered_top_levels_and_20_plus_filled_leaves(full: Loaded) -> None:
    with full.factory() as session:
        categories = list(session.execute(select(Category)).scalars())
        used = set(session.execute(select(Product.category_id).distinct()).scalars())
    tops = sorted((c for c in categories if c.parent_id is None), key=lambda c: c.position)
    leaves = [c for c in categories if c.parent_id is not None]
    assert len(tops) == 8
    assert [c.position for c in tops] == list(range(1, 9))
    assert tops[0].slug == "cables"
    assert len(leaves) >= 20
    assert {c.id for c in leaves} <= used  # every leaf has products
    assert not {c.id for c in tops} & used  # products live in leaves only
    assert all(SLUG.match(c.slug) for c in categories)
    assert full.summary.category_count == len(categories)


def test_every_product_has_a_variant_and_single_variants_share_the_product_sku(
    full: Loaded,
) -> None:
    products = _products(full)
    by_product: dict[int, list[ProductVariant]] = {}
    for variant in _variants(full):
        by_product.setdefault(variant.product_id, []).append(variant)
    for product in products:
        variants = by_product[product.id]
        assert variants
        if len(variants) == 1:
            assert variants[0].sku == product.sku
            assert variants[0].options == {}
        else:
            assert all(v.sku.startswith(f"{product.sku}-") for v in variants)
            assert all(v.label and v.options for v in variants)
        assert product.price_cents == min(v.price_cents for v in variants)
        assert product.stock == sum(v.stock for v in variants)


def test_skus_and_slugs_are_unique_and_well_formed(full: Loaded) -> None:
    products = _products(full)
    variant_skus = [v.sku for v in _variants(full)]
    assert len(set(variant_skus)) == len(variant_skus)
    assert all(re.fullmatch(r"QS-\d{5}(-[0-9A-Z]+)*", sku) for sku in variant_skus)
    assert len({p.slug for p in products}) == len(products)
    assert all(SLUG.match(p.slug) and p.slug.endswith(p.sku[3:]) for p in products)


def test_cables_come_in_lengths_and_colours_priced_by_length(full: Loaded) -> None:
    with full.factory() as session:
        hdmi = (
            session.execute(select(Product).join(Category).where(Category.slug == "hdmi-cables"))
            .scalars()
            .all()
        )
        assert len(hdmi) >= 20
        for product in hdmi:
            variants = product.variants
            assert len(variants) >= 3
            assert all(set(v.options) == {"length", "colour"} for v in variants)
            assert all(v.label == f"{v.options['length']}, {v.options['colour']}" for v in variants)
            prices = {
                float(v.options["length"].removesuffix(" m")): v.price_cents for v in variants
            }
            ordered = [prices[length] for length in sorted(prices)]
            assert ordered == sorted(set(ordered))  # strictly rising


# ---------------------------------------------------------------- shop realism


def test_some_products_are_out_of_stock_and_some_on_sale(full: Loaded) -> None:
    products = _products(full)
    sold_out = sum(1 for p in products if p.stock == 0)
    assert 0.04 * len(products) <= sold_out <= 0.15 * len(products)
    on_sale = [p for p in products if p.was_price_cents is not None]
    assert len(on_sale) >= 50
    variants = _variants(full)
    assert all(v.was_price_cents > v.price_cents for v in variants if v.was_price_cents)


def test_prices_look_like_shelf_prices(full: Loaded) -> None:
    assert all(v.price_cents % 50 == 49 for v in _variants(full))
    assert [store_price(c) for c in (450, 499, 500, 9999, 10000)] == [499, 499, 549, 9999, 10099]


def test_texts_dates_and_warranty_are_filled_in(full: Loaded) -> None:
    products = _products(full)
    brands = {p.brand for p in products}
    assert 8 <= len(brands) <= 15
    for product in products:
        assert product.description.count(". ") >= 2
        assert product.weight_grams > 0
        assert product.warranty_terms
        assert product.image_alt.endswith("product illustration")
        assert product.created_at.tzinfo is not None
        assert datetime(2024, 10, 1, tzinfo=UTC) < product.created_at <= CATALOG_EPOCH
    lifetime = [p for p in products if p.warranty_months == LIFETIME_MONTHS]
    assert lifetime
    assert all("limited lifetime" in p.warranty_terms.lower() for p in lifetime)
    assert all(f"{LIFETIME_MONTHS} months" in p.warranty_terms for p in lifetime)


@pytest.mark.parametrize(
    ("query", "at_least"),
    [("hdmi cable", 50), ("ethernet", 20), ("cat6", 20), ("usb-c", 20), ("surge", 5)],
)
def test_everyday_searches_find_products(full: Loaded, query: str, at_least: int) -> None:
    with full.factory() as session:
        results = search_products(session, query)
    assert results.total >= at_least
    assert not results.corrected


# ---------------------------------------------------------------- images


def test_every_product_has_a_small_self_contained_image(full: Loaded) -> None:
    for product in _products(full):
        assert product.image_file == f"{product.sku.lower()}.svg"
        svg = (full.images / product.image_file).read_text(encoding="utf-8")
        assert len(svg.encode("utf-8")) < 3072
        assert "<script" not in svg.lower()
        assert "href" not in svg
        assert "@import" not in svg
        assert re.findall(r"https?://[^\"'\s]*", svg) == [SVG_NAMESPACE]
        assert 'viewBox="0 0 400 300"' in svg


def test_images_are_well_formed_xml_with_escaped_text(full: Loaded) -> None:
    products = _products(full)
    special = [p for p in products if "&" in p.image_alt or '"' in p.image_alt]
    assert special  # the catalog exercises escaping ("Keyboard & Mouse Combo", '2.5" ...')
    for product in products[::50] + special:
        root = ET.parse(full.images / str(product.image_file)).getroot()
        assert root.tag == f"{{{SVG_NAMESPACE}}}svg"
        assert root.get("aria-label") == product.image_alt
        assert root.findtext(f"{{{SVG_NAMESPACE}}}title") == product.image_alt


# ---------------------------------------------------------------- determinism and safety


Row = tuple[str, str, int, int, datetime]


def _fingerprint(loaded: Loaded) -> tuple[list[Row], dict[str, bytes]]:
    products = _products(loaded)
    # created_at is included: it must come from the seed, not from the clock.
    rows = [(p.sku, p.name, p.price_cents, p.stock, p.created_at) for p in products]
    images = {
        str(path.relative_to(loaded.images)): path.read_bytes()
        for path in sorted(loaded.images.rglob("*.svg"))
    }
    return rows, images


def test_same_seed_gives_identical_catalog_and_images(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    fingerprints = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        (tmp_path / name).mkdir()
        engine, loaded = _load(
            tmp_path / name,
            seed=seed,
            product_count=60,
            progress=lambda done, total: calls.append((done, total)),
        )
        fingerprints.append(_fingerprint(loaded))
        engine.dispose()
    first, second, other = fingerprints
    assert len(first[0]) == 60
    assert first == second
    assert first[0] != other[0]
    assert first[1] != other[1]
    assert calls[:60] == [(done, 60) for done in range(1, 61)]


def test_a_smaller_catalog_is_a_prefix_of_a_larger_one(full: Loaded, tmp_path: Path) -> None:
    engine, small = _load(tmp_path, product_count=60)
    small_rows, small_images = _fingerprint(small)
    engine.dispose()
    rows, images = _fingerprint(full)
    assert small_rows == rows[:60]
    assert all(images[name] == data for name, data in small_images.items())


def test_loading_twice_is_refused(full: Loaded) -> None:
    with full.factory() as session, pytest.raises(DemoCatalogExists, match="1200 product"):
        load_demo_catalog(session, full.images, product_count=5)
    with full.factory() as session:
        assert session.execute(select(func.count(Product.id))).scalar_one() == 1200


# ---------------------------------------------------------------- warranty texts


# Every period a text names: "24-month", "24 months", "2 years", "lifetime".
PERIOD = re.compile(r"\b(\d{1,4})[\s-]*(month|year)s?\b|\b(life-?time)\b", re.IGNORECASE)


def _stated_periods(terms: str) -> list[int]:
    """Each period ``terms`` names, in months (a lifetime as the shop stores it)."""
    stated = []
    for number, unit, lifetime in PERIOD.findall(terms):
        if lifetime:
            stated.append(LIFETIME_MONTHS)
        else:
            stated.append(int(number) * (12 if unit.lower() == "year" else 1))
    return stated


def test_every_demo_warranty_text_agrees_with_its_months(full: Loaded) -> None:
    products = _products(full)
    assert len(products) == 1200
    seen_months = set()
    for product in products:
        stated = _stated_periods(product.warranty_terms)
        assert stated, product.sku  # the text names its period
        assert set(stated) == {product.warranty_months}, (product.sku, product.warranty_terms)
        lifetime = "lifetime" in product.warranty_terms.lower()
        assert lifetime == (product.warranty_months == LIFETIME_MONTHS), product.sku
        seen_months.add(product.warranty_months)
    assert {12, 24, LIFETIME_MONTHS} <= seen_months  # the check saw short and long ones


@pytest.mark.parametrize("months", [1, 6, 12, 18, 24, 36, 60, 119, LIFETIME_MONTHS, 240])
def test_a_warranty_text_names_only_its_own_period(months: int) -> None:
    terms = warranty_terms(months, "Acme")
    assert set(_stated_periods(terms)) == {months}
    assert ("lifetime" in terms.lower()) == (months == LIFETIME_MONTHS)
    assert terms.startswith("Limited lifetime warranty:" if months == LIFETIME_MONTHS
                            else f"{months}-month limited warranty:")  # fmt: skip


def test_no_warranty_says_so_and_names_no_period() -> None:
    terms = warranty_terms(0, "Acme")
    assert _stated_periods(terms) == []
    assert "no warranty" in terms.lower()


# ---------------------------------------------------------------- galleries


def _galleries(loaded: Loaded) -> dict[int, list[ProductImage]]:
    with loaded.factory() as session:
        rows = session.execute(
            select(ProductImage).order_by(ProductImage.product_id, ProductImage.position)
        ).scalars()
        found: dict[int, list[ProductImage]] = {}
        for image in rows:
            found.setdefault(image.product_id, []).append(image)
    return found


def test_every_product_has_a_gallery_of_two_to_four_pictures(full: Loaded) -> None:
    galleries = _galleries(full)
    products = _products(full)
    assert set(galleries) == {p.id for p in products}
    sizes = set()
    for product in products:
        gallery = galleries[product.id]
        sizes.add(len(gallery))
        assert [image.position for image in gallery] == list(range(len(gallery)))
        main = gallery[0]
        assert (main.file, main.alt) == (product.image_file, product.image_alt)
        assert len({image.file for image in gallery}) == len(gallery)  # no picture twice
        for image in gallery:
            assert image.alt.endswith("product illustration")
            assert (full.images / image.file).is_file()
        for image in gallery[1:]:
            assert image.file.startswith(f"{SHARED_PICTURES}/")
    assert sizes == {2, 3, 4}


def test_pictures_are_drawn_once_and_shared(full: Loaded) -> None:
    drawings = list((full.images / SHARED_PICTURES).glob("*.svg"))
    mains = list(full.images.glob("*.svg"))
    assert len(mains) == 1200  # one main picture per product, as before
    assert len(drawings) < 1200  # drawings are shared between products that look alike
    for product in _products(full)[::37]:
        main = full.images / str(product.image_file)
        shared = [d for d in drawings if d.read_bytes() == main.read_bytes()]
        assert shared  # the main picture is one of the drawings (a link, or a copy)
    for drawing in drawings[::20]:
        svg = drawing.read_text(encoding="utf-8")
        assert len(svg.encode("utf-8")) < 3072
        assert "<script" not in svg.lower() and "href" not in svg and "@import" not in svg
        assert re.findall(r"https?://[^\"'\s]*", svg) == [SVG_NAMESPACE]
        root = ET.fromstring(svg)
        assert root.get("aria-label") == root.findtext(f"{{{SVG_NAMESPACE}}}title")


def test_loading_again_into_the_same_images_folder_replaces_its_files(tmp_path: Path) -> None:
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        engine = _database(tmp_path / name)
        factory = make_session_factory(engine)
        with factory() as session, session.begin():
            load_demo_catalog(session, tmp_path / "images", product_count=12)
        engine.dispose()
    assert len(list((tmp_path / "images").glob("*.svg"))) == 12


def test_every_demo_draft_passes_the_catalog_checks_unchanged() -> None:
    # The loader skips the per-row checks (bulk.upsert_products(checked=True)): this is
    # what makes that safe.
    products = list(demo_products(seed=2004, product_count=1200))
    assert len(products) == 1200
    for product in products:
        assert admin.checked_draft(product.draft) == product.draft


def test_the_demo_loads_with_galleries_on_each_database(db: Session, tmp_path: Path) -> None:
    summary = load_demo_catalog(db, tmp_path / "images", product_count=30)
    assert summary.product_count == 30
    products = db.execute(select(Product.id, Product.image_file)).all()
    assert len(products) == 30
    images = db.execute(
        select(ProductImage.product_id, ProductImage.file).where(ProductImage.position == 0)
    ).all()
    assert sorted(images) == sorted((row.id, row.image_file) for row in products)
    variants = db.execute(select(func.count(ProductVariant.id))).scalar_one()
    assert variants == summary.variant_count
    assert search_products(db, "cable").total > 0  # indexed on both databases
