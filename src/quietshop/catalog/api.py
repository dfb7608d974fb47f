"""The catalog's JSON API under /api/v1/. Public and the same for everyone, so cacheable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from quietshop.catalog import search as search_engine
from quietshop.catalog import service, variants
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.schemas import (
    CategoryOut,
    ListingPage,
    ProductDetail,
    SearchResults,
    SearchSort,
    SortOrder,
    Suggestions,
)
from quietshop.catalog.search import MAX_QUERY_CHARS
from quietshop.catalog.service import LISTINGS_TAG
from quietshop.catalog.variants import VariantLookup, product_tag, set_cache_tags
from quietshop.web.dependencies import read_session, settings
from quietshop.web.state import app_state

router = APIRouter(prefix="/api/v1", tags=["catalog"])

PageNumber = Annotated[int, Query(ge=1, le=10_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)]
PriceMin = Annotated[
    int | None,
    Query(ge=0, le=service.MAX_PRICE_CENTS, description="Integer cents; not above price_max"),
]
PriceMax = Annotated[
    int | None,
    Query(ge=0, le=service.MAX_PRICE_CENTS, description="Integer cents; not below price_min"),
]


def memo(request: Request) -> CatalogMemo:
    return app_state(request).part(CatalogMemo)


# The lookup's parameter as the API description states it: FastAPI would name a bad item
# by its index, so the rule is checked (and the field named) by variants.checked_skus.
SKU_LIST_SCHEMA = {
    "minItems": 1,
    "maxItems": variants.MAX_LOOKUP_SKUS,
    "items": {
        "type": "string",
        "minLength": 1,
        "maxLength": variants.MAX_SKU_CHARS,
        "pattern": variants.SKU_PATTERN,
    },
}


def _public(request: Request, response: Response, *tags: str) -> None:
    """Same for everyone: browsers and the page cache may keep it, dropped by ``tags``."""
    response.headers["cache-control"] = f"public, max-age={settings(request).page_cache_max_age}"
    set_cache_tags(response.headers, tags)


# Repeated parameters; the service also refuses more than MAX_FACET_PARAMS of both together.
BRAND_LIST_SCHEMA = {
    "maxItems": service.MAX_FACET_PARAMS,
    "items": {"type": "string", "maxLength": service.MAX_FACET_CHARS},
}
OPTION_LIST_SCHEMA = {
    "maxItems": service.MAX_FACET_PARAMS,
    "items": {
        "type": "string",
        "maxLength": 2 * service.MAX_FACET_CHARS + 1,
        "pattern": "^[^:]+:",
    },
}


@router.get("/products", response_model=ListingPage, summary="List products (cheapest first)")
def list_products(
    request: Request,
    response: Response,
    category: Annotated[str | None, Query(max_length=80)] = None,
    price_min: PriceMin = None,
    price_max: PriceMax = None,
    in_stock: bool = False,
    sort: SortOrder = SortOrder.price_asc,
    page: PageNumber = 1,
    page_size: PageSize = 24,
    brand: Annotated[
        list[str] | None,
        Query(
            description="Any of these brands (repeat the parameter); unknown ones match nothing",
            json_schema_extra=BRAND_LIST_SCHEMA,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        Query(
            description="name:value, e.g. length:2 m (repeat it); values of one name are "
            "alternatives, different names must all match; unknown ones match nothing",
            json_schema_extra=OPTION_LIST_SCHEMA,
        ),
    ] = None,
) -> ListingPage:
    """A plain ``def``: the first listing loads the listing index (seconds at 100,000
    products), which must not hold up the event loop. The answer carries facet counts."""
    _public(request, response, LISTINGS_TAG)
    query = service.ListingQuery(
        category=category,
        price_min=price_min,
        price_max=price_max,
        in_stock=in_stock,
        sort=sort,
        page=page,
        page_size=page_size,
        brands=tuple(brand or ()),
        options=service.ListingQuery.parse_options(option or []),
    )
    catalog_memo = memo(request)
    with read_session(request) as session:
        listing = service.list_products(session, query, catalog_memo)
    if catalog_memo.handed_out_behind():
        response.headers["cache-control"] = "no-store"  # from the previous index: not kept
    return listing


@router.get("/products/{sku}", response_model=ProductDetail, summary="One product by SKU")
async def get_product(request: Request, response: Response, sku: str) -> ProductDetail:
    with read_session(request) as session:
        product = service.get_product(session, sku, memo(request))
    _public(request, response, product_tag(product.sku))
    return product


@router.get("/categories", response_model=list[CategoryOut], summary="The category tree")
async def list_categories(request: Request, response: Response) -> list[CategoryOut]:
    _public(request, response, LISTINGS_TAG)
    with read_session(request) as session:
        return service.category_tree(session, memo(request))


@router.get("/search", response_model=SearchResults, summary="Full-text product search")
def search(
    request: Request,
    response: Response,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="Words to look for")] = "",
    page: PageNumber = 1,
    page_size: PageSize = 24,
    sort: SearchSort = SearchSort.relevance,
) -> SearchResults:
    """A plain ``def``, as the search page is: its queries (and a wait of up to 0.25 s
    for a vocabulary being rebuilt) run in the thread pool, not on the event loop."""
    _public(request, response, LISTINGS_TAG)
    with read_session(request) as session:
        return service.search_products(session, q, page, page_size, memo(request), sort)


@router.get(
    "/variants",
    response_model=VariantLookup,
    summary="Today's price and stock of SKUs (the cart's lookup)",
)
async def lookup_variants(
    request: Request,
    response: Response,
    sku: Annotated[
        list[str],
        Query(
            description="1 to 50 variant SKUs; unknown ones and those of products no longer "
            "sold come back in `missing`",
            json_schema_extra=SKU_LIST_SCHEMA,
        ),
    ],
) -> VariantLookup:
    with read_session(request) as session:
        found = variants.lookup_variants(session, sku)
    _public(request, response, *found.cache_tags())
    return found


@router.get(
    "/search/suggest",
    response_model=Suggestions,
    summary="Product names for what the shopper is typing (never cached, never logged)",
)
def suggest(
    request: Request,
    response: Response,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="What is typed so far")] = "",
) -> Suggestions:
    """A plain ``def``: its query runs in the thread pool, off the event loop. The access
    log never sees ``q`` (only the parameters a domain declares are logged, and no domain
    declares it; tests/catalog/test_suggest.py reads the line). ``no-store``: a prefix a
    shopper typed is not kept by the page cache or the browser."""
    response.headers["cache-control"] = "no-store"
    with read_session(request) as session:
        return search_engine.suggest(session, q)
