"""The public contact, shipping and returns pages (issue 11 item 5).

The same for everyone, so the page cache keeps them whole, tagged ``shop-page:<slug>``;
an owner's edit records a whole-site change, which drops them in every process. Plain
``def`` routes: the one small read runs in the thread pool, off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from quietshop.orders import service as orders
from quietshop.shop_pages import service
from quietshop.web.dependencies import read_session, settings
from quietshop.web.page_cache import TAGS_HEADER
from quietshop.web.pages import public_page

router = APIRouter(include_in_schema=False)


def _page(request: Request, slug: str) -> HTMLResponse:
    with read_session(request) as session:
        page = service.read_page(session, settings(request), slug)
        # The shipping page lists today's rates under the owner's text, so it cannot
        # disagree with checkout.
        rates = orders.published_shipping_rates(session) if slug == "shipping" else []
    answer = public_page(
        request,
        "shop_pages/page.html",
        page=page,
        body=service.body_html(page.body),
        shipping_rates=rates,
    )
    answer.headers[TAGS_HEADER.decode()] = page.cache_tag
    return answer


@router.get("/contact", response_class=HTMLResponse)
def contact(request: Request) -> HTMLResponse:
    return _page(request, "contact")


@router.get("/shipping", response_class=HTMLResponse)
def shipping(request: Request) -> HTMLResponse:
    return _page(request, "shipping")


@router.get("/returns", response_class=HTMLResponse)
def returns(request: Request) -> HTMLResponse:
    return _page(request, "returns")
