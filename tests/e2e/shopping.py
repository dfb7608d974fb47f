"""What the shopping browser tests share: the watch kept over one browser context (every
request, answer and script error of its tabs, and the promises checked against them), the
demo product they buy, and a few small helpers. The fixtures are in conftest.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    expect,
)

CART_KEY = "quietshop.cart.v1"
# The demo pays with its simulated processor: 4242... approves, 4000...0002 declines.
APPROVES = "4242 4242 4242 4242"
DECLINES = "4000 0000 0000 0002"


def holds_a_test_card(text: str) -> bool:
    """Whether ``text`` holds either test card's digits, typed with spaces or dashes or not.

    Asserted as ``assert not leaked`` on a plain variable, so that a failure never prints
    a card number (pytest would show the arguments of a call inside the assert)."""
    squeezed = re.sub(r"[ \-\u00a0]", "", text)
    return any(card.replace(" ", "") in squeezed for card in (APPROVES, DECLINES))


@dataclass
class Watch:
    """What every tab of one browser context asked for and was told."""

    context: BrowserContext
    base_url: str
    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)  # CSP violations land here too
    page_errors: list[str] = field(default_factory=list)

    def page(self) -> Page:
        """A new tab, watched."""
        tab = self.context.new_page()
        tab.on("request", lambda request: self.requests.append(request))
        tab.on("response", lambda response: self.responses.append(response))
        tab.on("pageerror", lambda error: self.page_errors.append(str(error)))

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.console_errors.append(message.text)

        tab.on("console", console)
        return tab

    @property
    def problems(self) -> list[str]:
        """Every script error and console error (a CSP violation is one) seen so far."""
        return [f"page error: {error}" for error in self.page_errors] + [
            f"console: {message}" for message in self.console_errors
        ]

    def lookups(self) -> list[Request]:
        """The cart's price and stock lookups."""
        return [r for r in self.requests if urlsplit(r.url).path == "/api/v1/variants"]

    def check_no_cookie(self, page: Page | None = None) -> None:
        """No cookie in the context, none offered by any answer, none visible to ``page``."""
        if page is not None:
            assert page.evaluate("document.cookie") == ""
        assert self.context.cookies() == []
        for response in self.responses:
            # `headers` leaves cookie headers out; all_headers() has every one.
            assert "set-cookie" not in response.all_headers(), response.url

    def check_same_origin(self, *, blobs: bool = False) -> None:
        """Nothing asked of another origin (with ``blobs``, the shop's own blob: URLs too)."""
        origin = self.base_url + "/"
        allowed = (origin, "blob:" + origin) if blobs else (origin,)
        for request in self.requests:
            assert request.url.startswith(allowed), request.url

    def check_promises(self) -> None:
        """The promises of an anonymous cart: no cookie, nothing from elsewhere, no
        credentials sent, only SKUs in the lookups, and no script error or CSP violation."""
        self.check_no_cookie()
        self.check_same_origin()
        for request in self.requests:
            assert "authorization" not in request.headers, request.url
        for request in self.lookups():
            names = {name for name, _ in parse_qsl(urlsplit(request.url).query)}
            assert names == {"sku"}, request.url  # SKUs only: no quantity, no token
        assert self.problems == []

    def step(self, page: Page) -> None:
        """The promises, as they stand after one step of a journey: no cookie, nothing from
        elsewhere, no script error or CSP violation, and no card number in storage."""
        self.check_no_cookie(page)
        self.check_same_origin()
        assert self.problems == []
        for store in ("sessionStorage", "localStorage"):
            leaked = holds_a_test_card(page.evaluate(f"JSON.stringify(Object.entries({store}))"))
            assert not leaked, f"{store} holds a card number"


@dataclass(frozen=True)
class Choice:
    """A demo product sold in several lengths and colours, and one variant of it, with
    stock for four or more, that is not the one its page shows first."""

    slug: str
    name: str
    sku: str
    price: int  # cents
    stock: int
    options: dict[str, str]


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def api_json(context: BrowserContext, base_url: str, path: str) -> Any:
    """The shop's JSON answer to a GET of ``path``, which must succeed."""
    answer = context.request.get(base_url + path)
    assert answer.ok, path
    return answer.json()


def find_choice(context: BrowserContext, base_url: str) -> Choice:
    """The first demo cable in several lengths and colours with a variant that differs from
    the first one in stock in both, and has four or more in stock."""
    listing = api_json(context, base_url, "/api/v1/products?page_size=100")
    for summary in listing["items"]:
        if summary["variant_count"] < 4:
            continue
        product = api_json(context, base_url, f"/api/v1/products/{summary['sku']}")
        variants = product["variants"]
        if not all(set(v["options"]) == {"length", "colour"} for v in variants):
            continue
        first = next((v for v in variants if v["in_stock"]), None)
        if first is None:
            continue
        for v in variants:
            differs = all(v["options"][k] != first["options"][k] for k in ("length", "colour"))
            if differs and v["stock"] >= 4:
                return Choice(
                    slug=product["slug"],
                    name=product["name"],
                    sku=v["sku"],
                    price=v["price"]["cents"],
                    stock=v["stock"],
                    options=dict(v["options"]),
                )
    raise AssertionError("the demo catalog has no cable in several lengths and colours")


def choose(page: Page, base_url: str, choice: Choice) -> None:
    """Open the product page of ``choice``, which shows another variant first, and pick the
    options of ``choice`` in its form (a plain GET form, so a new page loads)."""
    page.goto(f"{base_url}/products/{choice.slug}")
    assert page.locator("[data-variant-sku]").inner_text() != choice.sku
    picker = page.get_by_role("form", name="Choose a version")
    picker.get_by_role("group", name="Length").get_by_label(choice.options["length"]).check()
    picker.get_by_role("group", name="Colour").get_by_label(choice.options["colour"]).check()
    picker.get_by_role("button", name="Show this version").click()


def cart_ready(page: Page) -> None:
    expect(page.locator("[data-cart]")).to_have_attribute("data-state", "ready")
