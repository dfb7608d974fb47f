"""What the catalog adds to the site: the storefront pages (matched first: most requests
ask for them), the catalog API, and the listing parameters the access log may keep."""

from __future__ import annotations

import re
from pathlib import Path

from quietshop.catalog import api, discovery, pages
from quietshop.catalog.schemas import SortOrder
from quietshop.web.routing import DomainSite

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SORTS = frozenset(order.value for order in SortOrder)


def _is_page_number(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 5


def _is_slug(value: str) -> bool:
    # A category slug is a few lower-case words; an address, a number someone typed or a
    # name with capitals is not one, and is dropped from the log.
    return len(value) <= 80 and _SLUG.match(value) is not None and not value.isdigit()


SITE = DomainSite(
    routers=(pages.router, api.router, discovery.router),
    templates=Path(__file__).parent / "templates",
    template_prefix="catalog",
    logged_query={
        "page": _is_page_number,
        "sort": _SORTS.__contains__,
        "category": _is_slug,
    },
)
