"""The product page and the header on a phone, in a real browser (issue 11 items 3, 4):
the menu drawer opens (with and without JavaScript), the cart badge counts what was
added, and "recently viewed" lists the previous product from this tab's sessionStorage,
which nothing sends anywhere. Throughout: no cookie (P1), nothing from another origin
(P2), no Content Security Policy violation."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import Watch

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
RECENT_KEY = "quietshop.recentlyViewed"


def _recent(page: Page) -> Any:
    return json.loads(page.evaluate(f"sessionStorage.getItem({RECENT_KEY!r}) || '[]'"))


def _product_links(page: Page, base_url: str) -> list[str]:
    page.goto(base_url + "/categories/cables")
    hrefs = page.locator(".product-grid .card-link").evaluate_all(
        "links => links.map(link => link.getAttribute('href'))"
    )
    return [href for href in hrefs if href and href.startswith("/products/")]


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_phone_header_menu_cart_badge_and_recently_viewed(
    browser: Browser, running_shop: RunningShop
) -> None:
    context = browser.new_context(ignore_https_errors=True, viewport=PHONE)
    watch = Watch(context, running_shop.base_url)
    page = watch.page()
    base = running_shop.base_url

    # The compact header: the category bar is folded into the drawer, which opens.
    page.goto(base + "/")
    expect(page.locator(".category-nav")).to_be_hidden()
    expect(page.locator("[data-account-link]")).to_have_text("Sign in")
    drawer = page.locator(".drawer-nav")
    expect(drawer).to_be_hidden()
    page.locator(".menu-button").click()
    expect(drawer).to_be_visible()
    expect(drawer.get_by_role("link", name="Cables")).to_be_visible()
    _fits(page)
    page.keyboard.press("Escape")
    expect(drawer).to_be_hidden()

    # Two products in a row: the second lists the first as recently viewed.
    first, second = _product_links(page, base)[:2]
    page.goto(base + first)
    first_name = page.locator(".product-info h1").inner_text()
    expect(page.locator("[data-recently-viewed]")).to_be_hidden()  # nothing viewed before
    page.goto(base + second)
    _fits(page)
    recent = page.locator("[data-recently-viewed]")
    expect(recent).to_be_visible()
    expect(recent.get_by_role("link")).to_have_count(1)
    expect(recent.get_by_role("link")).to_have_text(first_name)
    assert recent.get_by_role("link").get_attribute("href") == first
    kept = _recent(page)
    assert [item["url"] for item in kept] == [second, first]
    assert kept[1]["name"] == first_name
    assert page.evaluate("localStorage.getItem('quietshop.recentlyViewed')") is None

    # Add it to the cart: the badge in the compact header counts it.
    add = page.get_by_role("button", name="Add to cart")
    if add.count() == 0:  # out of stock: the first product, then
        page.goto(base + first)
        add = page.get_by_role("button", name="Add to cart")
    add.first.click()
    badge = page.locator("[data-cart-count]")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("1")

    # The list never leaves the browser: pages, files and the cart's price lookup only,
    # all GETs to this origin, none carrying the earlier product's name.
    allowed = ("/static/", "/images/", "/products/", "/categories/", "/api/v1/variants")
    for request in watch.requests:
        url = urlsplit(request.url)
        assert url.netloc == urlsplit(base).netloc, request.url
        assert request.method == "GET", request.url
        assert url.path == "/" or url.path.startswith(allowed), request.url
        assert first_name not in unquote_plus(url.query) and not request.post_data
    watch.check_no_cookie(page)
    assert watch.problems == []
    context.close()


def test_phone_menu_opens_without_javascript(browser: Browser, running_shop: RunningShop) -> None:
    context = browser.new_context(
        ignore_https_errors=True, viewport=PHONE, java_script_enabled=False
    )
    page = context.new_page()
    page.goto(running_shop.base_url + "/")
    page.locator(".menu-button").click()
    drawer = page.locator(".drawer-nav")
    expect(drawer).to_be_visible()
    drawer.get_by_role("link", name="Cables").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Cables"
    expect(page.locator("[data-recently-viewed]")).to_be_hidden()
    assert context.cookies() == []
    context.close()


def test_desktop_header_keeps_its_category_bar(browser: Browser, running_shop: RunningShop) -> None:
    page = browser.new_page(ignore_https_errors=True, viewport={"width": 1280, "height": 800})
    page.goto(running_shop.base_url + "/")
    expect(page.locator(".category-nav")).to_be_visible()
    expect(page.locator(".menu-drawer")).to_be_hidden()
    page.close()
