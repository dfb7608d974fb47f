"""What the shop_pages domain adds to the site: the contact, shipping and returns pages.
The owner edits them through the back office (staff/shop_pages_api.py)."""

from __future__ import annotations

from pathlib import Path

from quietshop.shop_pages import pages
from quietshop.web.routing import DomainSite

SITE = DomainSite(
    routers=(pages.router,),
    templates=Path(__file__).parent / "templates",
    template_prefix="shop_pages",
)
