"""Storefront pages, rendered on the server; they work without JavaScript.

Every route here is a plain ``def``: FastAPI runs it in its thread pool (anyio's, 40
threads by default), so its queries and its rendering never run on the event loop. On
the loop, one deep listing at 100,000 products (300 ms of SQLite) held up every cached
page the worker was serving; in a thread it holds up only itself (the SQLite and
PostgreSQL drivers let go of the GIL while a query runs). The hop costs tens of
microseconds on an uncached page; cached pages never reach a route (web/page_cache.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from quietshop.catalog import search, service, variants
from quietshop.catalog.api import memo
from quietshop.catalog.schemas import (
    Money,
    SearchSort,
    ShippingCountry,
    ShippingEstimate,
    SortOrder,
)
from quietshop.catalog.search import MAX_QUERY_CHARS
from quietshop.catalog.service import LISTINGS_TAG
from quietshop.catalog.variants import product_tag, set_cache_tags
from quietshop.errors import InvalidInput
from quietshop.web.dependencies import read_session
from quietshop.web.pages import public_page
from quietshop.web.state import app_state

router = APIRouter(include_in_schema=False)

PageNumber = Annotated[int, Query(ge=1, le=10_000)]
SORT_LABELS = {
    SortOrder.price_asc: "Price: low to high",
    SortOrder.price_desc: "Price: high to low",
    SortOrder.newest: "Newest",
    SortOrder.name: "Name",
}


def parse_price(field: str, value: str | None) -> int | None:
    """A price typed in shop currency units ("12.50") as integer cents."""
    if value is None or value.strip() == "":
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise InvalidInput(field, "must be a number such as 12.50") from None
    if not amount.is_finite() or amount < 0 or amount > service.MAX_PRICE_CENTS // 100:
        raise InvalidInput(field, "must be between 0 and 1,000,000")
    return int((amount * 100).to_integral_value())


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    with read_session(request) as session:
        shelves = service.home_shelves(session, memo(request))
    answer = public_page(
        request, "catalog/home.html", newest=shelves.newest, deals=shelves.cheapest
    )
    set_cache_tags(answer.headers, [LISTINGS_TAG])
    return answer


@dataclass(frozen=True)
class ListingLinks:
    """URLs of one category listing with one thing changed, keeping every other filter:
    the sort links, the pages, and "remove this filter" on an empty result."""

    path: str
    sort: SortOrder
    price_min: str
    price_max: str
    in_stock: bool
    brands: tuple[str, ...]
    options: tuple[tuple[str, str], ...]

    def _url(self, **changes: Any) -> str:
        state = {**self.__dict__, **changes}
        params: list[tuple[str, str]] = [("sort", state["sort"].value)]
        params += [("brand", brand) for brand in state["brands"]]
        params += [("option", f"{name}:{value}") for name, value in state["options"]]
        for name in ("price_min", "price_max"):
            if state[name]:
                params.append((name, state[name]))
        if state["in_stock"]:
            params.append(("in_stock", "true"))
        if "page" in changes:  # a filter removed starts again at the first page
            params.append(("page", str(changes["page"])))
        return f"{self.path}?{urlencode(params)}"

    def page(self, number: int) -> str:
        return self._url(page=number)

    def without_brand(self, brand: str) -> str:
        return self._url(brands=tuple(b for b in self.brands if b != brand))

    def without_option(self, option: tuple[str, str]) -> str:
        return self._url(options=tuple(o for o in self.options if o != option))

    def without_price(self) -> str:
        return self._url(price_min="", price_max="")

    def without_stock(self) -> str:
        return self._url(in_stock=False)

    @property
    def filtered(self) -> bool:
        return bool(
            self.brands or self.options or self.price_min or self.price_max or self.in_stock
        )


# A list parameter may come a thousand times: FastAPI collects them all, and the service
# refuses more than service.MAX_FACET_PARAMS, or a value over service.MAX_FACET_CHARS
# (400, the field named), before any query.
FacetParams = Annotated[list[str] | None, Query()]


@router.get("/categories/{slug}", response_class=HTMLResponse)
def category_page(
    request: Request,
    slug: str,
    page: PageNumber = 1,
    sort: SortOrder = SortOrder.price_asc,
    price_min: Annotated[str | None, Query(max_length=20)] = None,
    price_max: Annotated[str | None, Query(max_length=20)] = None,
    in_stock: bool = False,
    brand: FacetParams = None,
    option: FacetParams = None,
) -> HTMLResponse:
    """A category's products with a facet sidebar: a GET form that works without
    JavaScript (brands, each option, price range, in stock, with counts)."""
    brands = tuple(brand or ())
    options = service.ListingQuery.parse_options(option or [])
    query = service.ListingQuery(
        category=slug,
        price_min=parse_price("price_min", price_min),
        price_max=parse_price("price_max", price_max),
        in_stock=in_stock,
        sort=sort,
        page=page,
        brands=brands,
        options=options,
    )
    catalog_memo = memo(request)
    with read_session(request) as session:
        path, listing = service.category_listing(session, query, catalog_memo)
    # From the previous index (a rebuild under way): no change drops the page once the
    # new one is in, so it is not kept (as search does with its vocabulary).
    behind = catalog_memo.handed_out_behind()
    links = ListingLinks(
        path=f"/categories/{quote(slug)}",
        sort=sort,
        price_min=price_min or "",
        price_max=price_max or "",
        in_stock=in_stock,
        brands=brands,
        options=options,
    )
    answer = public_page(
        request,
        "catalog/category.html",
        category=path[-1],
        path=path,
        listing=listing,
        facets=listing.facets,
        sort=sort,
        sort_labels=SORT_LABELS,
        links=links,
        filters={"price_min": price_min or "", "price_max": price_max or "", "in_stock": in_stock},
    )
    set_cache_tags(answer.headers, [LISTINGS_TAG])
    if behind:
        answer.headers["cache-control"] = "no-store"
    return answer


@dataclass(frozen=True)
class ShippingEstimates:
    """What a product page asks of the shop's shipping rates, which the orders domain owns
    and the catalog may not import (orders builds on the catalog): app.py hands one in
    through the app state's parts. ``estimate`` answers [] where nothing ships."""

    countries: Callable[[Session], list[ShippingCountry]]
    estimate: Callable[[Session, str, int, Money], list[ShippingEstimate]]


@dataclass(frozen=True)
class ShippingView:
    countries: list[ShippingCountry]
    country: str  # "" until the shopper chooses one
    country_name: str
    options: list[ShippingEstimate]


# Two letters, any case ("de" is DE); empty is the "choose your country" option.
CountryCode = Annotated[str, Query(max_length=2, pattern=r"^([A-Za-z]{2})?$")]


@router.get("/products/{slug}", response_class=HTMLResponse)
def product_page(
    request: Request,
    slug: str,
    variant: Annotated[str | None, Query(max_length=variants.MAX_SKU_CHARS)] = None,
    country: CountryCode = "",
) -> HTMLResponse:
    """One product, showing the variant the picker's GET form chose: by its options (one
    query parameter per option name) or by ``?variant=SKU``, and shipping to the country
    the shopper chose in ``?country=`` (never guessed from the address: the page stays
    the same for everyone who asks for this URL, and so cacheable).

    Related products are not among the page's cache tags: a sale or a price edit of one
    would drop this page too, for a card that shows neither price nor stock. Taking one
    out of the shop is a whole-catalog change, which drops every page anyway."""
    code = country.upper()
    try:
        shipping = app_state(request).part(ShippingEstimates)
    except LookupError:  # an app assembled without the orders domain
        shipping = None
    with read_session(request) as session:
        product = service.get_product(session, slug, memo(request))
        pick = variants.pick_variant(product.variants, variant, request.query_params)
        related = service.related_products(session, product)
        view = None
        if shipping is not None:
            v = pick.variant
            countries = shipping.countries(session)
            options = shipping.estimate(session, code, v.weight_grams, v.price) if code else []
            names = {c.code: c.name for c in countries}
            view = ShippingView(countries, code, names.get(code, code), options)
    answer = public_page(
        request,
        "catalog/product.html",
        product=product,
        pick=pick,
        related=related,
        shipping=view,
    )
    set_cache_tags(answer.headers, [product_tag(product.sku)])
    return answer


SEARCH_SORT_LABELS = {
    SearchSort.relevance: "Best match",
    SearchSort.price_asc: "Price: low to high",
    SearchSort.price_desc: "Price: high to low",
    SearchSort.newest: "Newest",
    SearchSort.name: "Name",
}


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    page: PageNumber = 1,
    sort: SearchSort = SearchSort.relevance,
) -> HTMLResponse:
    catalog_memo = memo(request)
    # Behind now, the page may be corrected with the previous vocabulary; no change will
    # drop it once the new one is in, so it is not kept. (A change that arrives during
    # the request already stops the page cache from keeping it.)
    behind = catalog_memo.vocabulary_behind()
    with read_session(request) as session:
        results = service.search_products(session, q, page, memo=catalog_memo, sort=sort)
    answer = public_page(
        request,
        "catalog/search.html",
        results=results,
        sort_labels=SEARCH_SORT_LABELS,
        max_candidates=search.MAX_CANDIDATES,
    )
    set_cache_tags(answer.headers, [LISTINGS_TAG])
    if behind:
        answer.headers["cache-control"] = "no-store"
    return answer
