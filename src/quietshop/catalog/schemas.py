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


class ProductImageOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str
    alt: str


class ProductDetail(ProductSummary):
    description: str
    stock: int
    weight_grams: int
    warranty_months: int
    warranty_terms: str
    # One sentence derived from ``warranty_months`` alone ("24-month warranty (2 years)"),
    # so the page never states two periods; ``warranty_details`` is the terms text without
    # a leading claim that repeats it, or "" when the terms name another period (the
    # months are what the shop sells, the text is the maker's prose).
    warranty_headline: str = ""
    warranty_details: str = ""
    category_path: list[CategoryOut]
    variants: list[VariantOut]
    # The gallery in order; the first is the listing picture. Empty: no picture at all.
    images: list[ProductImageOut] = Field(default_factory=list)


class ShippingEstimate(BaseModel):
    """One shipping method's price for one product to one country, as a product page says."""

    model_config = ConfigDict(frozen=True)

    name: str
    cost: Money
    delivery_days_min: int
    delivery_days_max: int


class ShippingCountry(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    name: str


class ProductPage(BaseModel):
    """One page of a listing or a search."""

    items: list[ProductSummary]
    page: int
    page_size: int
    total: int
    pages: int


class SearchSort(StrEnum):
    """A search's order: the engine's relevance, or a listing's orders over the matches."""

    relevance = "relevance"
    price_asc = "price_asc"
    price_desc = "price_desc"
    newest = "newest"
    name = "name"


class SearchResults(ProductPage):
    query: str
    # The words actually searched for, after typo correction ("hdmi cabel" -> "hdmi cable").
    searched_for: str
    corrected: bool
    sort: SearchSort = SearchSort.relevance
    # More matched than a search gathers (catalog/search.py MAX_CANDIDATES): ``total`` is
    # then that cap, the page says "more than 1,000", and pages end at the cap.
    total_capped: bool = False


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    url: str


class Suggestions(BaseModel):
    suggestions: list[Suggestion]


class FacetValue(BaseModel):
    """One choice of a facet: how many products match with it (given the other facets'
    choices), and whether the listing has it chosen."""

    model_config = ConfigDict(frozen=True)

    value: str
    count: int
    selected: bool = False


class OptionFacet(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # the variant option's name: "length", "colour"
    values: list[FacetValue]


class PriceRange(BaseModel):
    """The lowest and highest price among the products the other filters leave."""

    model_config = ConfigDict(frozen=True)

    min_cents: int | None
    max_cents: int | None


class Facets(BaseModel):
    """Counts for narrowing a listing. Disjunctive: each facet is counted with every other
    facet's filter applied and its own not, so choosing a second brand shows what it adds."""

    model_config = ConfigDict(frozen=True)

    brands: list[FacetValue]
    options: list[OptionFacet]
    in_stock: int
    price: PriceRange


class ListingPage(ProductPage):
    """A page of a category or catalog listing; ``facets`` when the listing was answered
    from the listing index (the app's), None from the SQL path (scripts, service tests)."""

    facets: Facets | None = None
