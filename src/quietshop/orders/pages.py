"""The order screens' HTML shells: checkout and its confirmation, the guest's order page, a
customer's orders in the account, setting a password on a guest's customer number, and
the product question / quote request form.

A shell holds no personal data, no order and no token: its module script reads the cart
from ``localStorage`` and everything else from the JSON API, with the bearer token kept
in ``sessionStorage`` (P1). A mailed link's token travels in the URL *fragment*
(``/orders/view#token=...``), which the browser never sends, so the server never sees
it and no log can keep it (P5). The routes touch no database, so they are plain
``async`` functions, and their answers are ``no-store`` (the privacy middleware adds it).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from quietshop.errors import NotFound
from quietshop.orders.numbers import parse_order_number
from quietshop.web.dependencies import settings
from quietshop.web.pages import private_page

router = APIRouter(include_in_schema=False)

# A product SKU as the catalog writes them; anything else in ?product= is ignored, so a
# hostile link can put nothing of its own into the page.
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


@router.get("/checkout", response_class=HTMLResponse)
async def checkout_page(request: Request) -> HTMLResponse:
    return private_page(request, "orders/checkout.html")


@router.get("/checkout/done", response_class=HTMLResponse)
async def checkout_done_page(request: Request) -> HTMLResponse:
    """The confirmation: the script shows the answer this tab kept in sessionStorage."""
    return private_page(request, "orders/checkout_done.html")


@router.get("/orders/view", response_class=HTMLResponse)
async def guest_order_page(request: Request) -> HTMLResponse:
    """A guest's order, opened from the mailed link; its token is in the fragment."""
    return private_page(request, "orders/order_view.html")


@router.get("/account/orders", response_class=HTMLResponse)
async def account_orders_page(request: Request) -> HTMLResponse:
    return private_page(request, "orders/account_orders.html")


@router.get("/account/orders/{number}", response_class=HTMLResponse)
async def account_order_page(request: Request, number: str) -> HTMLResponse:
    """One order of the signed-in customer. The script reads the number from the path;
    the page never repeats it, and a path that is no order number is not found."""
    if parse_order_number(number) is None:
        raise NotFound("order")
    return private_page(request, "orders/account_orders.html")


@router.get("/account/claim", response_class=HTMLResponse)
async def claim_page(request: Request) -> HTMLResponse:
    """Choose a password for a guest's customer number; the mailed token is in the fragment."""
    return private_page(request, "orders/claim.html")


@router.get("/ask", response_class=HTMLResponse)
async def ask_page(
    request: Request, product: Annotated[str | None, Query(max_length=200)] = None
) -> HTMLResponse:
    """A product question or quote request for customer service: name, email, question."""
    sku = product.strip() if product else ""
    return private_page(
        request,
        "orders/ask.html",
        product_sku=sku if _SKU.fullmatch(sku) else "",
        retention_days=settings(request).info_request_retention_days,
    )
