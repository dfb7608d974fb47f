"""A shopper's walk in a real browser: home → category → product → search, with no cookie
anywhere (P1) and nothing loaded from another origin (P2)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, Response

from tests.e2e.conftest import RunningShop

pytestmark = pytest.mark.browser


def test_browse_search_and_no_cookie_anywhere(browser: Browser, running_shop: RunningShop) -> None:
    context = browser.new_context(ignore_https_errors=True)
    page: Page = context.new_page()
    responses: list[Response] = []
    requested: list[str] = []
    page.on("response", lambda response: responses.append(response))
    page.on("request", lambda request: requested.append(request.url))
    page.goto(running_shop.base_url + "/")
    assert page.title().endswith("Quietshop")
    page.get_by_role("navigation", name="Categories").get_by_role("link", name="Cables").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Cables"
    prices = page.locator(".product-grid .price strong").all_inner_texts()
    cents = [int(p.replace("$", "").replace(",", "").replace(".", "")) for p in prices]
    assert cents == sorted(cents) and cents  # cheapest first

    page.locator(".product-grid .card-link").first.click()
    page.wait_for_load_state()
    assert page.locator(".product-info h1").inner_text()
    assert page.get_by_role("heading", name="Warranty").is_visible()

    page.get_by_label("Search products").fill("hdmi cabel")
    page.get_by_label("Search products").press("Enter")
    page.wait_for_load_state()
    assert "hdmi cable" in page.locator(".count").inner_text()
    assert page.locator(".product-grid .card").count() > 0

    assert page.evaluate("document.cookie") == ""
    assert context.cookies() == []
    for response in responses:
        assert "set-cookie" not in response.all_headers(), response.url  # headers hides cookies
        assert response.status < 400, response.url
    assert requested and all(url.startswith(running_shop.base_url) for url in requested)
    context.close()


def test_keyboard_reaches_the_search_box_and_skip_link(
    browser: Browser, running_shop: RunningShop
) -> None:
    page = browser.new_page(ignore_https_errors=True)
    page.goto(running_shop.base_url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") in {"A", "INPUT", "BUTTON"}
    page.close()


def test_pages_fit_a_phone_screen(browser: Browser, running_shop: RunningShop) -> None:
    page = browser.new_page(ignore_https_errors=True, viewport={"width": 375, "height": 740})
    page.goto(running_shop.base_url + "/categories/cables")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.close()
