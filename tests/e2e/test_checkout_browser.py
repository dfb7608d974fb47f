"""The whole buying journey in a real browser (issue 8, item 8): pick a variant, add it to
the cart, check out, read the confirmation, find the order mail at the demo's SMTP server,
and see the order again, through the mailed link (a guest) or in the account (signed in);
and a declined card, which still makes an order, says so and mails about it.

At every step: no cookie (P1), nothing asked of another origin (P2), no script error and no
Content Security Policy violation; the card number never stays in the page or in storage
(P8). The demo pays with its simulated processor: 4242... approves, 4000...0002 declines.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import (
    APPROVES,
    CART_KEY,
    DECLINES,
    Choice,
    Watch,
    api_json,
    cart_ready,
    choose,
    holds_a_test_card,
    money,
)

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
EXPRESS_CENTS = 1490  # the demo's flat US express rate (orders/demo.py); US tax is 0
ORDER_NUMBER = re.compile(r"^QS-\d{4}-\d{5}$")


def _email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:12]}@example.org"


def _cart_badge(page: Page) -> Any:
    return page.locator("[data-cart-count]")


# ---------------------------------------------------------------- the checkout steps


def _open_checkout(watch: Watch, page: Page) -> None:
    page.goto(watch.base_url + "/cart")
    cart_ready(page)
    page.get_by_role("link", name="Checkout", exact=True).click()
    expect(page).to_have_url(watch.base_url + "/checkout")
    expect(page.locator('[data-panel="checkout"]')).to_be_visible()
    watch.step(page)


def _contact_as_guest(watch: Watch, page: Page, name: str, email: str) -> None:
    page.locator("#checkout-name").fill(name)
    page.locator("#checkout-email").fill(email)
    page.locator("#contact-continue").click()
    expect(page.locator('[data-step="address"]')).to_be_visible()
    expect(page.locator("#ship-name")).to_have_value(name)  # carried over from the contact
    watch.step(page)


def _us_address(watch: Watch, page: Page, name: str | None = None) -> None:
    if name is not None:
        page.locator("#ship-name").fill(name)
    page.locator("#ship-line1").fill("1 Main St")
    page.locator("#ship-city").fill("Springfield")
    page.locator("#ship-region").fill("IL")
    page.locator("#ship-postcode").fill("62701")
    page.locator("#ship-country").select_option("US")
    expect(page.locator("#billing-same")).to_be_checked()
    page.locator("#address-continue").click()
    expect(page.locator('[data-step="method"]')).to_be_visible()
    watch.step(page)


def _express(watch: Watch, page: Page, subtotal: int) -> int:
    """Choose express shipping; the shop's quote follows. Returns the expected total."""
    express = page.locator("#method-express")
    expect(express).to_be_attached()
    express.check()
    total = subtotal + EXPRESS_CENTS
    expect(page.locator('[data-total="total"] td')).to_have_text(money(total))
    page.locator("#method-continue").click()
    expect(page.locator('[data-step="discount"]')).to_be_visible()
    page.locator("#discount-continue").click()  # no code
    expect(page.locator('[data-step="card"]')).to_be_visible()
    watch.step(page)
    return total


def _card(watch: Watch, page: Page, number: str) -> None:
    expect(page.locator('[data-step="card"] [data-test-payments]')).to_be_visible()
    page.locator("#card-number").fill(number)
    page.locator("#card-exp-month").fill("12")
    page.locator("#card-exp-year").fill("34")
    page.locator("#card-name").fill("Ann Buyer")
    page.locator("#card-cvc").fill("123")
    page.locator("#card-continue").click()
    expect(page.locator('[data-step="review"]')).to_be_visible()
    expect(page.locator("[data-review-card]")).to_have_text(f"Card ending in {number[-4:]}")
    watch.step(page)


def _review(
    watch: Watch, page: Page, *, subtotal: int, shipping: int, total: int, contact: str
) -> None:
    totals = page.locator("#review-totals")
    expect(totals.locator('[data-total="subtotal"] td')).to_have_text(money(subtotal))
    expect(totals.locator('[data-total="shipping"] td')).to_have_text(money(shipping))
    expect(totals.locator('[data-total="tax"] td')).to_have_text(money(0))
    expect(totals.locator('[data-total="total"] td')).to_have_text(money(total))
    expect(totals.locator('[data-total="discount"]')).to_have_count(0)
    expect(page.locator("[data-review-ship-to]")).to_contain_text("1 Main St")
    expect(page.locator("[data-review-contact]")).to_have_text(f"Confirmation to {contact}")
    watch.step(page)


def _place(watch: Watch, page: Page, number: str) -> str:
    """Place the order; on the confirmation, the order number it shows."""
    page.locator("#place-order").click()
    expect(page).to_have_url(watch.base_url + "/checkout/done")
    shown = page.locator("#order-number")
    expect(shown).to_have_text(ORDER_NUMBER)
    leaked = holds_a_test_card(page.content())
    assert not leaked, "the confirmation's HTML holds the card number"  # masked only
    expect(_cart_badge(page)).to_be_hidden()  # the cart is emptied by a placed order
    assert page.evaluate(f"localStorage.getItem({CART_KEY!r})") is None
    watch.step(page)
    return shown.inner_text()


# ---------------------------------------------------------------- the journeys


def test_a_guest_picks_a_variant_pays_and_opens_the_order_from_the_mail(
    watch: Watch, running_shop: RunningShop, choice: Choice
) -> None:
    page, email = watch.page(), _email("guest")
    choose(page, watch.base_url, choice)
    expect(page.locator("[data-variant-sku]")).to_have_text(choice.sku)
    assert urlsplit(page.url).query  # a GET form: the choice is in the address
    expect(page.locator("[data-variant-price]")).to_have_text(money(choice.price))
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("[data-added]")).to_have_text("Added to your cart.")
    expect(_cart_badge(page)).to_have_text("2")
    watch.step(page)

    page.goto(watch.base_url + "/cart")
    row = page.locator(f'tr[data-sku="{choice.sku}"]')
    expect(row.locator("[data-line-price]")).to_have_text(money(choice.price))
    expect(row.locator("[data-line-qty]")).to_have_value("2")
    expect(row.locator("[data-line-total]")).to_have_text(money(2 * choice.price))
    watch.step(page)

    subtotal = 2 * choice.price
    _open_checkout(watch, page)
    _contact_as_guest(watch, page, "Ann Guest", email)
    _us_address(watch, page)
    total = _express(watch, page, subtotal)
    _card(watch, page, APPROVES)
    lines = page.locator("[data-review-lines] tr")
    expect(lines).to_have_count(1)
    expect(lines).to_contain_text(choice.name)
    _review(watch, page, subtotal=subtotal, shipping=EXPRESS_CENTS, total=total, contact=email)
    number = _place(watch, page, APPROVES)
    expect(page.locator("#order-status")).to_have_text(re.compile("Placed|Payment confirmed"))
    expect(page.locator("#order-total")).to_have_text(money(total))
    expect(page.locator('[data-next="mail"]')).to_be_visible()
    expect(page.locator("[data-payment-problem]")).to_be_hidden()

    mail = running_shop.mailed_text(email, f"We received your order {number}")
    assert number in mail
    leaked = holds_a_test_card(mail)
    assert not leaked, "the order mail holds the card number"
    assert "•••• 4242" in mail
    assert "/account/claim#token=" in mail  # the offer of an account, never a condition
    link = running_shop.mailed_fragment_link(email, "/orders/view")
    token = link.split("#token=")[1]
    assert link in mail

    # A mail client opens the link in a fresh tab: the order, and the token gone from the bar.
    order_page = watch.page()
    order_page.goto(watch.base_url + link)
    detail = order_page.locator("[data-order-detail]")
    expect(detail).to_be_visible()
    expect(detail.locator("[data-order-number]")).to_have_text(number)
    ordered = detail.locator("[data-order-lines] tr")
    expect(ordered).to_have_count(1)
    expect(ordered).to_contain_text(choice.name)
    expect(ordered.locator("td").nth(1)).to_have_text("2")
    expect(ordered.locator("td").nth(3)).to_have_text(money(subtotal))
    expect(detail.locator("[data-order-card]")).to_contain_text("•••• 4242")
    assert order_page.evaluate("location.href") == watch.base_url + "/orders/view"
    assert token not in order_page.content()
    for request in watch.requests:
        assert token not in request.url  # a fragment is never sent
    watch.step(order_page)


def test_a_signed_in_customer_buys_from_a_listing_card_and_follows_the_order(
    watch: Watch, running_shop: RunningShop
) -> None:
    page, email = watch.page(), _email("customer")
    page.goto(watch.base_url + "/account/register")
    page.get_by_label("Your name").fill("Ann Customer")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    watch.step(page)
    page.goto(watch.base_url + running_shop.mailed_link(email, "/account/verify"))
    expect(page.get_by_role("status").filter(has_text="confirmed")).to_be_visible()
    watch.step(page)

    page.goto(watch.base_url + "/account/sign-in")
    form = page.locator("[data-sign-in-form]")
    form.get_by_label("Email address", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(watch.base_url + "/account")
    expect(page.locator("[data-email-status]")).to_have_text("confirmed")
    watch.step(page)

    page.goto(watch.base_url + "/")
    card_form = page.locator(".card form[data-add-to-cart]").first
    sku = card_form.locator("input[name=add]").get_attribute("value")
    card_form.get_by_role("button").click()
    expect(card_form.locator("[data-added]")).to_have_text("Added to your cart.")
    expect(_cart_badge(page)).to_have_text("1")
    watch.step(page)

    _open_checkout(watch, page)
    expect(page.locator("[data-contact-signed-in]")).to_be_visible()
    expect(page.locator("[data-contact-email]")).to_have_text(email)
    expect(page.locator("[data-guest-fields]")).to_be_hidden()
    page.locator("#contact-continue").click()
    expect(page.locator('[data-step="address"]')).to_be_visible()
    _us_address(watch, page, name="Ann Customer")  # a new address: the book is empty
    subtotal = _subtotal_of(watch, sku)
    total = _express(watch, page, subtotal)
    _card(watch, page, APPROVES)
    _review(watch, page, subtotal=subtotal, shipping=EXPRESS_CENTS, total=total, contact=email)
    number = _place(watch, page, APPROVES)
    expect(page.locator('[data-next="account"]')).to_be_visible()
    mail = running_shop.mailed_text(email, f"We received your order {number}")
    assert f"/account/orders/{number}" in mail  # the same form the order list links to

    page.goto(watch.base_url + "/account/orders")
    listed = page.locator("[data-orders-rows] tr")
    expect(listed).to_have_count(1)
    expect(listed.locator("td").last).to_have_text(money(total))
    listed.get_by_role("link", name=number).click()
    expect(page).to_have_url(re.compile(r"/account/orders/QS-\d{4}-\d{5}$"))
    detail = page.locator("[data-order-detail]")
    expect(detail.locator("[data-order-number]")).to_have_text(number)
    history = detail.locator("[data-order-history] li strong")
    expect(history).to_have_text(["Placed", "Payment confirmed"])
    expect(detail.locator("[data-order-card]")).to_contain_text("•••• 4242")
    watch.step(page)


def test_a_declined_card_still_makes_an_order_that_says_so_and_mails(
    watch: Watch, running_shop: RunningShop
) -> None:
    page, email = watch.page(), _email("declined")
    page.goto(watch.base_url + "/")
    card_form = page.locator(".card form[data-add-to-cart]").nth(1)
    sku = card_form.locator("input[name=add]").get_attribute("value")
    card_form.get_by_role("button").click()
    expect(_cart_badge(page)).to_have_text("1")
    watch.step(page)

    _open_checkout(watch, page)
    _contact_as_guest(watch, page, "Ann Declined", email)
    _us_address(watch, page)
    subtotal = _subtotal_of(watch, sku)
    total = _express(watch, page, subtotal)
    _card(watch, page, DECLINES)
    _review(watch, page, subtotal=subtotal, shipping=EXPRESS_CENTS, total=total, contact=email)
    number = _place(watch, page, DECLINES)
    expect(page.locator("#order-status")).to_have_text("Payment problem")
    problem = page.locator("[data-payment-problem]")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("the link in that mail")

    mail = running_shop.mailed_text(email, f"Payment problem with your order {number}")
    assert "We could not take the payment" in mail
    assert "/orders/view#token=" in mail
    leaked = holds_a_test_card(mail)
    assert not leaked, "the payment problem mail holds the card number"
    watch.step(page)


def _subtotal_of(watch: Watch, sku: str | None) -> int:
    """One unit of ``sku`` at the shop's current price."""
    assert sku
    answer = api_json(watch.context, watch.base_url, f"/api/v1/variants?sku={sku}")
    (variant,) = [v for v in answer["variants"] if v["sku"] == sku]
    return int(variant["price"]["cents"])
