"""Storefront pages, rendered on the server; they work without JavaScript.

Every route here is a plain ``def``: FastAPI runs it in its thread pool (anyio's, 40
threads by default), so its queries and its rendering never run on the event loop. On
the loop, one deep listing at 100,000 products (300 ms of SQLite) held up every cached
page the worker was serving; in a thread it holds up only itself (the SQLite and
PostgreSQL drivers let go of the GIL while a query runs). The hop costs tens of
microseconds on an uncached page; cached pages never reach a route (web/page_cache.py).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from quietshop.catalog import service, variants
from quietshop.catalog.api import memo
from quietshop.catalog.schemas import SortOrder
from quietshop.catalog.search import MAX_QUERY_CHARS
from quietshop.catalog.service import LISTINGS_TAG
from quietshop.catalog.variants import product_tag, set_cache_tags
from quietshop.errors import InvalidInput
from quietshop.web.dependencies import read_session
from quietshop.web.pages import public_page

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


@router.get("/categories/{slug}", response_class=HTMLResponse)
def category_page(
    request: Request,
    slug: str,
    page: PageNumber = 1,
    sort: SortOrder = SortOrder.price_asc,
    price_min: Annotated[str | None, Query(max_length=20)] = None,
    price_max: Annotated[str | None, Query(max_length=20)] = None,
    in_stock: bool = False,
) -> HTMLResponse:
    query = service.ListingQuery(
        category=slug,
        price_min=parse_price("price_min", price_min),
        price_max=parse_price("price_max", price_max),
        in_stock=in_stock,
        sort=sort,
        page=page,
    )
    with read_session(request) as session:
        path, listing = service.category_listing(session, query, memo(request))
    answer = public_page(
        request,
        "catalog/category.html",
        category=path[-1],
        path=path,
        listing=listing,
        sort=sort,
        sort_labels=SORT_LABELS,
        filters={"price_min": price_min or "", "price_max": price_max or "", "in_stock": in_stock},
    )
    set_cache_tags(answer.headers, [LISTINGS_TAG])
    return answer


@router.get("/products/{slug}", response_class=HTMLResponse)
def product_page(
    request: Request,
    slug: str,
    variant: Annotated[str | None, Query(max_length=variants.MAX_SKU_CHARS)] = None,
) -> HTMLResponse:
    """One product, showing the variant the picker's GET form chose: by its options (one
    query parameter per option name) or by ``?variant=SKU``. Each query is just another
    page for the cache: what it shows depends on the query, never on who asks."""
    with read_session(request) as session:
        product = service.get_product(session, slug, memo(request))
    pick = variants.pick_variant(product.variants, variant, request.query_params)
    answer = public_page(request, "catalog/product.html", product=product, pick=pick)
    set_cache_tags(answer.headers, [product_tag(product.sku)])
    return answer


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    page: PageNumber = 1,
) -> HTMLResponse:
    catalog_memo = memo(request)
    # Behind now, the page may be corrected with the previous vocabulary; no change will
    # drop it once the new one is in, so it is not kept. (A change that arrives during
    # the request already stops the page cache from keeping it.)
    behind = catalog_memo.vocabulary_behind()
    with read_session(request) as session:
        results = service.search_products(session, q, page, memo=catalog_memo)
    answer = public_page(request, "catalog/search.html", results=results)
    set_cache_tags(answer.headers, [LISTINGS_TAG])
    if behind:
        answer.headers["cache-control"] = "no-store"
    return answer
