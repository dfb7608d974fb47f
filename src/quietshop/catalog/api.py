"""The catalog's JSON API under /api/v1/. Public and the same for everyone, so cacheable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from quietshop.catalog import service, variants
from quietshop.catalog.memo import CatalogMemo
from quietshop.catalog.schemas import (
    CategoryOut,
    ProductDetail,
    ProductPage,
    SearchResults,
    SortOrder,
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


@router.get("/products", response_model=ProductPage, summary="List products (cheapest first)")
async def list_products(
    request: Request,
    response: Response,
    category: Annotated[str | None, Query(max_length=80)] = None,
    price_min: PriceMin = None,
    price_max: PriceMax = None,
    in_stock: bool = False,
    sort: SortOrder = SortOrder.price_asc,
    page: PageNumber = 1,
    page_size: PageSize = 24,
) -> ProductPage:
    _public(request, response, LISTINGS_TAG)
    query = service.ListingQuery(
        category=category,
        price_min=price_min,
        price_max=price_max,
        in_stock=in_stock,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    with read_session(request) as session:
        return service.list_products(session, query, memo(request))


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
async def search(
    request: Request,
    response: Response,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="Words to look for")] = "",
    page: PageNumber = 1,
    page_size: PageSize = 24,
) -> SearchResults:
    _public(request, response, LISTINGS_TAG)
    with read_session(request) as session:
        return service.search_products(session, q, page, page_size, memo(request))


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
