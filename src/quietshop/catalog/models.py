"""Catalog tables. Money is integer cents with a currency; every product has a variant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quietshop.db import Base, UTCDateTime


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Category | None] = relationship(remote_side=[id])


class Product(Base):
    """One product page. Price and stock summarise its variants (lowest price, total stock)."""

    __tablename__ = "products"
    # Covering indexes for each listing order, so a listing sorts index entries and reads
    # table rows only for the page it shows (bench/results.md: 116 -> 22 us on SQLite).
    __table_args__ = (
        Index(
            "ix_products_category_price", "active", "category_id", "price_cents", "name", "stock"
        ),
        Index("ix_products_category_name", "active", "category_id", "name", "stock"),
        Index("ix_products_category_newest", "active", "category_id", "created_at", "stock"),
        Index("ix_products_price", "active", "price_cents", "name", "stock"),
        Index("ix_products_newest", "active", "created_at", "stock"),
        # take_stock decrements with a guard; the database itself refuses to oversell.
        CheckConstraint("stock >= 0", name="stock_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    slug: Mapped[str] = mapped_column(String(160), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str] = mapped_column(String(80), default="")
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))
    price_cents: Mapped[int] = mapped_column(Integer)
    was_price_cents: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    variant_count: Mapped[int] = mapped_column(Integer, default=1)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0)
    warranty_months: Mapped[int] = mapped_column(Integer, default=12)
    warranty_terms: Mapped[str] = mapped_column(Text, default="")
    image_file: Mapped[str | None] = mapped_column(String(200))
    image_alt: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SKUs, category names, description and variant labels as plain words; full-text search
    # indexes it beside the name and brand columns.
    search_text: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[Category] = relationship()
    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", order_by="ProductVariant.position", cascade="all, delete-orphan"
    )


class ProductVariant(Base):
    """A buyable SKU: one length and colour of a cable, with its own price and stock."""

    __tablename__ = "product_variants"
    __table_args__ = (CheckConstraint("stock >= 0", name="stock_nonnegative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    price_cents: Mapped[int] = mapped_column(Integer)
    was_price_cents: Mapped[int | None] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    weight_grams: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="variants")


class ProductImage(Base):
    """One picture in a product's gallery, in order. The first (position 0) is the one
    listings show, mirrored in ``products.image_file`` so a listing reads no other table."""

    __tablename__ = "product_images"
    __table_args__ = (Index("ix_product_images_product", "product_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    file: Mapped[str] = mapped_column(String(200))
    alt: Mapped[str] = mapped_column(String(300), default="")


class CatalogState(Base):
    """A single row: ``version`` rises on every whole-catalog change, and
    ``pruned_through`` is the highest catalog_changes id pruned away, so a reader whose
    last seen id is below it knows it missed changes and drops everything."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    pruned_through: Mapped[int] = mapped_column(Integer, default=0)


class CatalogChange(Base):
    """One committed catalog change, for every process's page cache and memo to replay.

    ``product_sku`` names the product whose pages changed (NULL: no one product);
    ``listings``: listing pages show the change too (a stock badge flipped, a price);
    ``everything``: structure or text changed, so every page and the memo go.
    """

    __tablename__ = "catalog_changes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_sku: Mapped[str | None] = mapped_column(String(40))
    listings: Mapped[bool] = mapped_column(Boolean, default=False)
    everything: Mapped[bool] = mapped_column(Boolean, default=False)
    # The database's clock: the time is only for people reading the log (it is pruned by
    # count), so writers such as take_stock need no ``now`` to pass.
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, server_default=func.current_timestamp()
    )
