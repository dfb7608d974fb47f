"""Being found without trackers (issue 11, item 5): ``/robots.txt`` and the sitemaps.

``/sitemap.xml`` is a sitemap index (sitemaps.org): one sitemap of the home page and the
categories, and the products' URLs in sitemaps of at most ``SITEMAP_URLS`` each, as the
protocol allows no more in one file. Every URL is absolute, from the shop's configured
``base_url`` and never from the request's Host header: these answers are cached and shared,
and a forged Host must not reach them. A product is listed once, at its slug, the URL its
pages name as canonical. Crawlers are asked to leave alone the pages that are no one's
business but the shopper's (account, cart, checkout, orders) and the back office.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request, Response

from quietshop.catalog import service
from quietshop.catalog.api import memo
from quietshop.catalog.service import LISTINGS_TAG
from quietshop.catalog.variants import set_cache_tags
from quietshop.web.dependencies import read_session, settings

router = APIRouter(include_in_schema=False)

SITEMAP_URLS = 50_000  # the protocol's limit per sitemap file
# What a crawler has no business reading: a shopper's own pages and the back office.
PRIVATE_PREFIXES = ("/account", "/cart", "/checkout", "/orders", "/staff", "/api/")
# The owner's pages (shop_pages.SLUGS, held equal by tests/shop_pages), listed with the
# home page: named here because the catalog imports no other domain.
SHOP_PAGE_PATHS = ("/contact", "/shipping", "/returns")
_XML = "application/xml; charset=utf-8"
_SITEMAPS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _public(request: Request, body: str, media_type: str) -> Response:
    """An answer the same for everyone, kept by the page cache until a listing changes."""
    max_age = settings(request).page_cache_max_age
    answer = Response(
        body, media_type=media_type, headers={"cache-control": f"public, max-age={max_age}"}
    )
    set_cache_tags(answer.headers, [LISTINGS_TAG])
    return answer


@router.get("/robots.txt")
def robots(request: Request) -> Response:
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {prefix}" for prefix in PRIVATE_PREFIXES]
    lines.append(f"Sitemap: {settings(request).base_url}/sitemap.xml")
    return _public(request, "\n".join(lines) + "\n", "text/plain; charset=utf-8")


@router.get("/sitemap.xml")
def sitemap_index(request: Request) -> Response:
    base = settings(request).base_url
    with read_session(request) as session:
        products = service.active_product_count(session)
    names = ["categories", *(f"products-{n}" for n in range(1, _pages(products) + 1))]
    entries = "".join(
        f"<sitemap><loc>{escape(f'{base}/sitemaps/{name}.xml')}</loc></sitemap>" for name in names
    )
    return _public(
        request, f"{_XML_HEAD}<sitemapindex {_SITEMAPS}>{entries}</sitemapindex>\n", _XML
    )


def _pages(products: int) -> int:
    return math.ceil(products / SITEMAP_URLS)


def _urlset(base: str, paths: list[str]) -> str:
    entries = "".join(f"<url><loc>{escape(base + path)}</loc></url>" for path in paths)
    return f"{_XML_HEAD}<urlset {_SITEMAPS}>{entries}</urlset>\n"


@router.get("/sitemaps/categories.xml")
def category_sitemap(request: Request) -> Response:
    with read_session(request) as session:
        roots = service.category_tree(session, memo(request))
    paths = ["/", *SHOP_PAGE_PATHS]
    stack = list(reversed(roots))
    while stack:
        category = stack.pop()
        paths.append(f"/categories/{category.slug}")
        stack.extend(reversed(category.children))
    return _public(request, _urlset(settings(request).base_url, paths), _XML)


@router.get("/sitemaps/products-{page}.xml")
def product_sitemap(request: Request, page: str) -> Response:
    # The page is read here, not typed in the signature: "products-x.xml" and a page past
    # the end are the same plain 404 a crawler expects, never a 400 or a 422.
    number = int(page) if page.isascii() and page.isdigit() and len(page) <= 6 else 0
    with read_session(request) as session:
        slugs = service.product_slugs(session, number, SITEMAP_URLS) if number >= 1 else []
    if not slugs:
        return Response(
            "no such sitemap\n", status_code=404, media_type="text/plain; charset=utf-8"
        )
    paths = [f"/products/{slug}" for slug in slugs]
    return _public(request, _urlset(settings(request).base_url, paths), _XML)
