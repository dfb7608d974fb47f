"""The cart page: one HTML shell, the same for everyone, so it is cached like a product page.

The cart itself lives in the browser (P1): ``static/cart.js`` keeps SKUs and quantities in
``localStorage`` and ``static/cart-page.js`` asks the catalog's public lookup for today's
prices and stock. A product page's "Add to cart" without JavaScript is a GET to
``/cart?add=SKU&qty=N``; the server ignores those parameters (the access log drops them,
and the page does not depend on them): the script adds the line and clears the address.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from quietshop.web.pages import public_page

router = APIRouter(tags=["pages"], include_in_schema=False)

# The cart's own limits, as static/cart.js has them (the page states them to shoppers).
MAX_LINES = 100
MAX_QUANTITY = 999


@router.get("/cart", response_class=HTMLResponse)
async def cart_page(request: Request) -> HTMLResponse:
    return public_page(request, "orders/cart.html", max_lines=MAX_LINES, max_quantity=MAX_QUANTITY)
