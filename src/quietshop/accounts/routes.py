"""What the accounts domain adds to the site: the account API (public and signed-in), the
account screens with their scripts, and the private prefixes the access log keeps by
template only (a raw path or query here could carry a token or an address)."""

from __future__ import annotations

from pathlib import Path

from quietshop.accounts import api, pages
from quietshop.web.routing import DomainSite

HERE = Path(__file__).parent

SITE = DomainSite(
    routers=(api.router, api.account_router, pages.router),
    templates=HERE / "templates",
    template_prefix="account",
    static=HERE / "static",
    static_prefix="account",
    private_prefixes=("/account", "/api/v1/account", "/api/v1/auth"),
)
