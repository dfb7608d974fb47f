"""The catalog's JSON API under /api/v1/. Public and the same for everyone, so cacheable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from quietshop.catalog import service
from quietshop.catalog.schemas import (
    CategoryOut,
    ProductDetail,
    ProductPage,
    SearchResults,
    SortOrder,
)
from quietshop.catalog.search import MAX_QUERY_CHARS, VocabularyCache
from quietshop.web.dependencies import db_session, settings

router = APIRouter(prefix="/api/v1", tags=["catalog"])

DbSession = Annotated[Session, Depends(db_session)]
PageNumber = Annotated[int, Query(ge=1, le=10_000, description="1-based page number")]
PageSize = Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)]
PriceCents = Annotated[
    int | None, Query(ge=0, le=service.MAX_PRICE_CENTS, description="Integer cents")
]


def _public(request: Request, response: Response) -> None:
    response.headers["cache-control"] = f"public, max-age={settings(request).page_cache_max_age}"


@router.get("/products", response_model=ProductPage, summary="List products (cheapest first)")
def list_products(
    request: Request,
    response: Response,
    session: DbSession,
    category: Annotated[str | None, Query(max_length=80)] = None,
    price_min: PriceCents = None,
    price_max: PriceCents = None,
    in_stock: bool = False,
    sort: SortOrder = SortOrder.price_asc,
    page: PageNumber = 1,
    page_size: PageSize = 24,
) -> ProductPage:
    _public(request, response)
    return service.list_products(
        session,
        service.ListingQuery(
            category=category,
            price_min=price_min,
            price_max=price_max,
            in_stock=in_stock,
            sort=sort,
            page=page,
            page_size=page_size,
        ),
    )


@router.get("/products/{sku}", response_model=ProductDetail, summary="One product by SKU")
def get_product(
    request: Request, response: Response, session: DbSession, sku: str
) -> ProductDetail:
    _public(request, response)
    return service.get_product(session, sku)


@router.get("/categories", response_model=list[CategoryOut], summary="The category tree")
def list_categories(request: Request, response: Response, session: DbSession) -> list[CategoryOut]:
    _public(request, response)
    return service.category_tree(session)


@router.get("/search", response_model=SearchResults, summary="Full-text product search")
def search(
    request: Request,
    response: Response,
    session: DbSession,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS, description="Words to look for")] = "",
    page: PageNumber = 1,
    page_size: PageSize = 24,
) -> SearchResults:
    _public(request, response)
    vocabulary: VocabularyCache = request.app.state.vocabulary
    return service.search_products(session, vocabulary, q, page, page_size)
