"""Typed views of the catalog, shared by the JSON API and the pages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SortOrder(StrEnum):
    price_asc = "price_asc"
    price_desc = "price_desc"
    newest = "newest"
    name = "name"


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    cents: int
    currency: str


class CategoryOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    slug: str
    name: str
    description: str = ""
    parent_slug: str | None = None
    children: list[CategoryOut] = Field(default_factory=list)


class ProductSummary(BaseModel):
    """What a listing shows of a product."""

    model_config = ConfigDict(frozen=True)

    sku: str
    slug: str
    name: str
    brand: str
    category_slug: str
    price: Money
    was_price: Money | None
    in_stock: bool
    image_url: str | None
    image_alt: str
    variant_count: int
    created_at: datetime


class VariantOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str
    label: str
    options: dict[str, Any]
    price: Money
    was_price: Money | None
    stock: int
    in_stock: bool
    weight_grams: int


class ProductDetail(ProductSummary):
    description: str
    stock: int
    weight_grams: int
    warranty_months: int
    warranty_terms: str
    category_path: list[CategoryOut]
    variants: list[VariantOut]


class ProductPage(BaseModel):
    """One page of a listing or a search."""

    items: list[ProductSummary]
    page: int
    page_size: int
    total: int
    pages: int


class SearchResults(ProductPage):
    query: str
    # The words actually searched for, after typo correction ("hdmi cabel" -> "hdmi cable").
    searched_for: str
    corrected: bool
