"""The back office's order desk in a real browser (issue 9 item 8): billing acting on an
order whose card was declined, and customer service telling a customer an item is not
available yet, previewed first and then mailed.

The demo always pays with its simulated processor (`quietshop demo` sets it, whatever the
environment says), so no order waits for the shop's terminal there and "record the
terminal's answer" is never offered. A card the simulator declines leaves the order in
payment_problem, where billing's screen offers what billing does with the shop's own
terminal: show the card number to key in, and, when the terminal refuses it too, cancel.

Each order is placed through the shop's API as a guest (the checkout itself has its own
browser tests). Throughout: no cookie (P1), nothing from another origin (P2), the staff
token in sessionStorage only and never in a URL, no script error and no CSP violation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import Locator, Page, expect

from quietshop.staff.demo import DEMO_NAMES, DEMO_PASSWORD, demo_email
from quietshop.staff.roles import Role
from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import APPROVES, DECLINES, Choice, Watch, holds_a_test_card
from tests.e2e.test_staff_passkey_browser import TOKEN_KEY, _acknowledge_policies, _step

pytestmark = pytest.mark.browser

# Roles no other browser test signs in as: each TOTP code is accepted once only.
BILLING, CUSTOMER_SERVICE = Role.BILLING, Role.CUSTOMER_SERVICE


def _code_for(shop: RunningShop, email: str) -> str:
    """The code the demo staff member's app shows now, as `quietshop staff code` prints it
    (the shop's clock decides, not the test's)."""
    env = {**os.environ, "QUIETSHOP_DATA_DIR": str(shop.data_dir)}
    for inherited in ("QUIETSHOP_DATABASE_URL", "QUIETSHOP_SECRET_KEY", "QUIETSHOP_DEMO"):
        env.pop(inherited, None)
    printed = subprocess.run(
        [sys.executable, "-m", "quietshop.cli", "staff", "code", email],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return printed.strip()


def _sign_in(watch: Watch, shop: RunningShop, role: Role) -> Page:
    """A tab signed in to the back office as the demo's ``role``, policies acknowledged."""
    page, email = watch.page(), demo_email(role)
    page.goto(shop.base_url + "/staff/sign-in")
    form = page.locator("[data-staff-sign-in]")
    form.get_by_label("Email address").fill(email)
    form.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    form.get_by_label("Code from your authenticator app").fill(_code_for(shop, email))
    form.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(shop.base_url + "/staff")
    expect(page.locator("[data-staff-name]")).to_have_text(DEMO_NAMES[role])
    _acknowledge_policies(page)
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")
    _step(watch, page)
    return page


def _place_by_api(watch: Watch, choice: Choice, card: str, email: str) -> tuple[str, str]:
    """A guest's order of one ``choice``, express to the US, paid with ``card``: its
    number and the status the shop answered."""
    lines = [{"sku": choice.sku, "quantity": 1}]
    api = watch.context.request
    quote = api.post(
        watch.base_url + "/api/v1/checkout/quote",
        data={"lines": lines, "shipping_country": "US", "shipping_method": "express"},
    )
    assert quote.status == 200, quote.text()
    total = quote.json()["total"]
    address = {
        "name": "Dee Sk",
        "line1": "1 Main St",
        "city": "Springfield",
        "region": "IL",
        "postcode": "62701",
        "country": "US",
    }
    placed = api.post(
        watch.base_url + "/api/v1/orders",
        headers={"Idempotency-Key": uuid.uuid4().hex},
        data={
            "lines": lines,
            "guest": {"name": "Dee Sk", "email": email},
            "shipping_address": address,
            "shipping_method": "express",
            "card": {
                "number": card,
                "exp_month": 12,
                "exp_year": 2034,
                "name": "Dee Sk",
                "security_code": "123",
            },
            "expected_total": {"cents": total["cents"], "currency": total["currency"]},
        },
    )
    assert placed.status == 201, placed.status  # not the body: it could name the card
    answer = placed.json()
    return str(answer["order_number"]), str(answer["status"])


def _open_from_queue(watch: Watch, page: Page, number: str, status_label: str) -> Locator:
    """Open the Orders screen, show the orders in ``status_label`` and open ``number``."""
    page.locator('[data-nav="orders"]').get_by_role("link", name="Orders").click()
    filters = page.locator("[data-queue-filters]")
    filters.get_by_label(status_label, exact=True).check()
    filters.get_by_role("button", name="Show orders").click()
    page.locator("[data-queue-rows]").get_by_role("link", name=number, exact=True).click()
    detail = page.locator("[data-order-detail]")
    expect(detail.locator("[data-order-title]")).to_have_text(f"Order {number}")
    expect(_status(detail)).to_have_text(status_label)
    _step(watch, page)
    return detail


def _status(detail: Locator) -> Locator:
    return detail.locator("[data-order-facts] dt:text-is('Status') + dd")


def _email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:12]}@example.org"


def test_billing_keys_a_declined_card_into_the_terminal_and_cancels_the_order(
    watch: Watch, running_shop: RunningShop, choice: Choice
) -> None:
    # Given a guest's order whose card the simulated processor declined
    email = _email("desk-declined")
    number, status = _place_by_api(watch, choice, DECLINES, email)
    assert status == "payment_problem"

    # When billing signs in and opens it from the queue of payment problems
    page = _sign_in(watch, running_shop, BILLING)
    detail = _open_from_queue(watch, page, number, "Payment problem")

    # Then the screen offers billing's moves for that state, and not the terminal's answer
    # (the simulator gave it) nor a second payment-problem mail
    payment = detail.locator("[data-order-payment]")
    expect(payment.locator("dt:text-is('State') + dd")).to_have_text("Declined")
    expect(payment.locator("dt:text-is('Card') + dd")).to_contain_text("0002")
    for offered in ("reveal_card", "cancel"):
        expect(detail.locator(f'form[data-action="{offered}"]')).to_be_visible()
    for withheld in ("record_payment", "flag_payment_problem", "pack", "refund"):
        expect(detail.locator(f'form[data-action="{withheld}"]')).to_be_hidden()

    # When they show the card number, to key it into the shop's own terminal
    reveal = detail.locator('form[data-action="reveal_card"]')
    reveal.get_by_label("Reason").fill("Keying it into the shop's terminal for a retry")
    reveal.get_by_role("button", name="Show the number").click()
    digits = reveal.locator("[data-card-digits]")
    expect(digits).to_be_visible()
    revealed = digits.inner_text() == DECLINES  # compared, never printed
    assert revealed, "the revealed number is not the order's card"
    reveal.get_by_role("button", name="Hide").click()
    expect(digits).to_be_hidden()
    assert digits.inner_text() == ""
    _step(watch, page)

    # And, the terminal declining it too, cancel the order with the reason
    cancel = detail.locator('form[data-action="cancel"]')
    cancel.get_by_label("Reason").fill("The card was declined at our terminal too")
    cancel.get_by_role("button", name="Cancel the order").click()

    # Then the status on screen changes, nothing is left to do, and the customer is mailed
    expect(_status(detail)).to_have_text("Cancelled")
    expect(detail.locator("[data-no-actions]")).to_be_visible()
    expect(detail.locator("[data-history] li").last).to_contain_text("Cancelled (staff:")
    mail = running_shop.mailed_text(email, f"Your order {number} was cancelled")
    assert "The card was declined at our terminal too" in mail
    leaked = holds_a_test_card(mail) or holds_a_test_card(page.content())
    assert not leaked, "the mail or the page holds the card number"
    _step(watch, page)


def test_customer_service_previews_and_sends_an_availability_problem(
    watch: Watch, running_shop: RunningShop, choice: Choice
) -> None:
    # Given a guest's order paid with a card the simulator approves
    email = _email("desk-availability")
    number, status = _place_by_api(watch, choice, APPROVES, email)
    assert status in ("placed", "payment_verified")
    label = "Placed" if status == "placed" else "Payment confirmed"

    # When customer service opens it from the queue and writes what to tell the customer
    page = _sign_in(watch, running_shop, CUSTOMER_SERVICE)
    # The demo's captured mail is asked about only once the policies are acknowledged
    # (before, the server refuses it): its menu entry appears without a reload
    expect(page.locator('[data-nav="captured"]')).to_be_visible()
    detail = _open_from_queue(watch, page, number, label)
    flag = detail.locator('form[data-action="flag_availability_problem"]')
    expect(flag).to_be_visible()
    told = "The blue ones come back from the maker on Friday."
    flag.get_by_label("What to tell the customer").fill(told)
    flag.get_by_role("button", name="Preview the mail").click()

    # Then the preview shows the mail, with nothing sent and the status unchanged
    preview = flag.locator("[data-mail-preview]")
    expect(preview).to_be_visible()
    subject = f"An item in your order {number} is not available yet"
    expect(preview.locator("[data-preview-subject]")).to_have_text(subject)
    expect(preview.locator("[data-preview-text]")).to_contain_text(told)
    expect(preview.locator("[data-preview-text]")).to_contain_text(
        "[the order's own link, made when the mail is sent]"
    )
    expect(_status(detail)).to_have_text(label)
    _step(watch, page)

    # When they send it
    flag.get_by_role("button", name="Send it").click()

    # Then the order says so on screen, and the customer's mail arrives at the demo's SMTP
    # server with the words written and the order's own link
    expect(_status(detail)).to_have_text("Item not available yet")
    expect(flag).to_be_hidden()  # flagged once: the graph allows no second flag
    expect(detail.locator("[data-history] li").last).to_contain_text(told)
    mail = running_shop.mailed_text(email, subject)
    assert told in mail
    assert "/orders/view#token=" in mail
    leaked = holds_a_test_card(mail)
    assert not leaked, "the availability mail holds the card number"
    _step(watch, page)
