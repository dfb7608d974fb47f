"""Storefront pages, rendered on the server; they work without JavaScript."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from quietshop.catalog import service
from quietshop.catalog.schemas import SortOrder
from quietshop.catalog.search import MAX_QUERY_CHARS, VocabularyCache
from quietshop.errors import InvalidInput
from quietshop.web.dependencies import db_session
from quietshop.web.pages import public_page

router = APIRouter(include_in_schema=False)

DbSession = Annotated[Session, Depends(db_session)]
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
def home(request: Request, session: DbSession) -> HTMLResponse:
    newest = service.list_products(
        session, service.ListingQuery(sort=SortOrder.newest, in_stock=True, page_size=8)
    )
    deals = service.list_products(session, service.ListingQuery(in_stock=True, page_size=8))
    return public_page(request, "home.html", newest=newest.items, deals=deals.items)


@router.get("/categories/{slug}", response_class=HTMLResponse)
def category_page(
    request: Request,
    session: DbSession,
    slug: str,
    page: PageNumber = 1,
    sort: SortOrder = SortOrder.price_asc,
    price_min: Annotated[str | None, Query(max_length=20)] = None,
    price_max: Annotated[str | None, Query(max_length=20)] = None,
    in_stock: bool = False,
) -> HTMLResponse:
    category = service.get_category(session, slug)
    listing = service.list_products(
        session,
        service.ListingQuery(
            category=slug,
            price_min=parse_price("price_min", price_min),
            price_max=parse_price("price_max", price_max),
            in_stock=in_stock,
            sort=sort,
            page=page,
        ),
    )
    return public_page(
        request,
        "category.html",
        category=category,
        path=service.category_path(session, slug),
        listing=listing,
        sort=sort,
        sort_labels=SORT_LABELS,
        filters={"price_min": price_min or "", "price_max": price_max or "", "in_stock": in_stock},
    )


@router.get("/products/{slug}", response_class=HTMLResponse)
def product_page(request: Request, session: DbSession, slug: str) -> HTMLResponse:
    product = service.get_product(session, slug)
    return public_page(request, "product.html", product=product)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: DbSession,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    page: PageNumber = 1,
) -> HTMLResponse:
    vocabulary: VocabularyCache = request.app.state.vocabulary
    results = service.search_products(session, vocabulary, q, page)
    return public_page(request, "search.html", results=results)
