"""Catalog factories: a small, known catalog built through the service, with traits."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.orm import Session

from quietshop.catalog import service
from quietshop.catalog.service import ProductDraft, VariantDraft
from tests.clock import T0

_numbers = itertools.count(1)


def make_category(
    session: Session, slug: str | None = None, name: str | None = None, parent: str | None = None
) -> str:
    number = next(_numbers)
    slug = slug or f"category-{number}"
    service.create_category(session, slug, name or slug.replace("-", " ").title(), parent)
    return slug


def make_product(
    session: Session,
    category: str,
    *,
    name: str = "Test Product",
    brand: str = "Quietline",
    price_cents: int = 999,
    stock: int = 5,
    was_price_cents: int | None = None,
    lengths: tuple[str, ...] = (),
    active: bool = True,
    description: str = "A product for tests.",
) -> str:
    """A product; with ``lengths``, one variant per length priced 100 cents apart."""
    number = next(_numbers)
    sku = f"T-{number:05d}"
    variants = [
        VariantDraft(
            sku=f"{sku}-{i}",
            label=length,
            options={"length": length},
            price_cents=price_cents + 100 * i,
            stock=stock,
        )
        for i, length in enumerate(lengths)
    ] or [
        VariantDraft(sku=sku, price_cents=price_cents, stock=stock, was_price_cents=was_price_cents)
    ]
    service.create_product(
        session,
        ProductDraft(
            sku=sku,
            slug=f"{name.lower().replace(' ', '-')}-{number}",
            name=name,
            category_slug=category,
            variants=variants,
            currency="USD",
            brand=brand,
            description=description,
            warranty_months=24,
            warranty_terms="Replaced free within two years.",
            active=active,
        ),
        T0,
    )
    return sku


@dataclass(frozen=True)
class SmallCatalog:
    cables: str
    hdmi: str
    usb: str
    tools: str
    hdmi_skus: list[str]
    cable_with_lengths: str


def small_catalog(session: Session) -> SmallCatalog:
    """Two top categories, two subcategories, a dozen products with known prices."""
    cables = make_category(session, "cables", "Cables")
    hdmi = make_category(session, "hdmi-cables", "HDMI Cables", parent=cables)
    usb = make_category(session, "usb-cables", "USB Cables", parent=cables)
    tools = make_category(session, "tools", "Tools")
    hdmi_skus = [
        make_product(session, hdmi, name=f"High Speed HDMI Cable {i}", price_cents=price)
        for i, price in enumerate((1299, 499, 899, 2499))
    ]
    make_product(session, usb, name="USB-C Charging Cable", price_cents=699, stock=0)
    make_product(session, usb, name="USB-A to Micro USB Cable", price_cents=349)
    make_product(session, tools, name="Network Cable Tester", price_cents=1999, brand="Corelink")
    make_product(session, tools, name="Crimping Tool RJ45", price_cents=1599, brand="Corelink")
    make_product(session, tools, name="Hidden Product", price_cents=1, active=False)
    with_lengths = make_product(
        session, hdmi, name="Braided HDMI Cable", price_cents=799, lengths=("1 m", "2 m", "5 m")
    )
    session.commit()
    return SmallCatalog(cables, hdmi, usb, tools, hdmi_skus, with_lengths)
