"""What the orders domain adds to the site: the cart page, checkout, the orders API, the
order screens, and the private prefixes the access log keeps by template only."""

from __future__ import annotations

from pathlib import Path

from quietshop.orders import api, cart_pages, pages
from quietshop.web.routing import DomainSite

HERE = Path(__file__).parent

SITE = DomainSite(
    routers=(cart_pages.router, pages.router, api.router, api.account_router),
    templates=HERE / "templates",
    template_prefix="orders",
    static=HERE / "static",
    static_prefix="orders",
    private_prefixes=(
        "/checkout",
        "/orders",
        "/api/v1/orders",
        "/api/v1/checkout",
        "/api/v1/order-link",
    ),
)
