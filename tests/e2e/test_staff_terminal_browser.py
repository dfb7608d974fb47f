"""Billing records the shop's own card terminal's answers in a real browser (issue 9 item 8).

The demo pays with its simulator, so no order there waits for the terminal. This module
runs its own shop: the demo's catalog, rates and staff, served by `quietshop serve` with
``payment_processor = "manual"`` and the demo's local mail server
(``conftest.start_shop(manual=True)``). Two guest orders are placed through the API; the
billing clerk signs in through the real sign-in page with a TOTP code, acknowledges the
policies, sees both orders waiting on the dashboard, then on the first shows the card
(with a reason: the full number appears, and the reveal is in the audit chain) and records
"approved" with the terminal's authorisation code, and on the second records "declined":
the customer's mail arrives at the shop's mail server with the reason.

Throughout: no cookie (P1), nothing from another origin (P2), the staff token in
sessionStorage only, no script error and no CSP violation (``Watch.step``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest
from playwright.sync_api import Locator, Page, expect

from quietshop.staff.roles import Role
from tests.e2e.conftest import RunningShop, start_shop
from tests.e2e.shopping import APPROVES, Choice, Watch, holds_a_test_card
from tests.e2e.test_staff_desk_browser import _email, _place_by_api, _sign_in, _status
from tests.e2e.test_staff_passkey_browser import _step

pytestmark = pytest.mark.browser

REVEAL_REASON = "Keying the card into the shop's terminal"
AUTHORISATION = "A7K2Q9"
DECLINE_REASON = "The terminal refused the card"


@pytest.fixture(scope="module")
def running_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    """This module's own shop, with the manual processor (the browser, watch and choice
    fixtures of conftest use it here)."""
    with start_shop(tmp_path_factory, manual=True) as shop:
        yield shop


def _audit_rows(shop: RunningShop, action: str) -> list[tuple[str, str, str]]:
    """(role, subject, reason) of the shop's audit entries of ``action``, read from its
    database file as an auditor would (the server keeps running)."""
    with closing(sqlite3.connect(shop.data_dir / "quietshop.db")) as database:
        found = database.execute(
            "SELECT role, subject, reason FROM audit_entries WHERE action = ? ORDER BY id",
            (action,),
        ).fetchall()
    return [(str(role), str(subject), str(reason)) for role, subject, reason in found]


def _open_placed(watch: Watch, page: Page, number: str) -> Locator:
    """Open the Orders screen, show the placed orders and open ``number``. (The status is
    picked as a checkbox: the age filter's label is "Placed" too.)"""
    page.locator('[data-nav="orders"]').get_by_role("link", name="Orders").click()
    filters = page.locator("[data-queue-filters]")
    filters.get_by_role("checkbox", name="Placed", exact=True).check()
    filters.get_by_role("button", name="Show orders").click()
    page.locator("[data-queue-rows]").get_by_role("link", name=number, exact=True).click()
    detail = page.locator("[data-order-detail]")
    expect(detail.locator("[data-order-title]")).to_have_text(f"Order {number}")
    expect(_status(detail)).to_have_text("Placed")
    _step(watch, page)
    return detail


def _payment_state(detail: Locator) -> Locator:
    return detail.locator("[data-order-payment] dt:text-is('State') + dd")


def _record(detail: Locator, result: str, **typed: str) -> None:
    form = detail.locator('form[data-action="record_payment"]')
    expect(form).to_be_visible()
    form.get_by_label(result, exact=True).check()
    for label, value in typed.items():
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name="Record the answer").click()


def _dashboard_count(page: Page, section: str, count: str) -> Locator:
    return page.locator(
        f'[data-dashboard-screen] [data-section="{section}"] [data-count="{count}"] '
        ".dashboard-count"
    )


def test_billing_records_the_terminals_answers(
    watch: Watch, running_shop: RunningShop, choice: Choice
) -> None:
    # Given two guest orders, each waiting for the shop's own terminal
    approved_email, declined_email = _email("terminal-approved"), _email("terminal-declined")
    approved, status = _place_by_api(watch, choice, APPROVES, approved_email)
    assert status == "placed"
    declined, status = _place_by_api(watch, choice, APPROVES, declined_email)
    assert status == "placed"

    # When billing signs in (password and TOTP code, policies acknowledged)
    page = _sign_in(watch, running_shop, Role.BILLING)

    # Then the first screen is their dashboard: both orders wait for a payment, and the
    # count links to the order queue
    expect(page.locator("[data-dashboard-screen]")).to_be_visible()
    expect(_dashboard_count(page, "billing", "awaiting_payment")).to_have_text("2")
    expect(_dashboard_count(page, "billing", "payment_problems")).to_have_text("0")
    awaiting = page.locator('[data-section="billing"] [data-count="awaiting_payment"] a')
    expect(awaiting).to_have_attribute("href", "#orders")
    expect(page.locator('[data-section="fulfilment"]')).to_have_count(0)  # not billing's
    _step(watch, page)

    # When they open the first order, waiting for the terminal
    detail = _open_placed(watch, page, approved)
    expect(_payment_state(detail)).to_have_text("Waiting for the shop's terminal")

    # And show the card number with a reason, to key it into the terminal
    reveal = detail.locator('form[data-action="reveal_card"]')
    reveal.get_by_label("Reason").fill(REVEAL_REASON)
    reveal.get_by_role("button", name="Show the number").click()
    digits = reveal.locator("[data-card-digits]")
    expect(digits).to_be_visible()
    whole = digits.inner_text().replace(" ", "") == APPROVES.replace(" ", "")
    assert whole, "the revealed number is not the order's whole card number"  # never printed
    reveal.get_by_role("button", name="Hide").click()
    expect(digits).to_be_hidden()
    _step(watch, page)

    # Then the reveal is in the audit chain, as billing's, with the reason given
    reveals = _audit_rows(running_shop, "card_reveal")
    assert [(role, reason) for role, _, reason in reveals] == [("billing", REVEAL_REASON)]
    assert reveals[0][1].startswith("order:")

    # When they record the terminal's approval with its authorisation code
    _record(detail, "Approved", **{"Authorisation code": AUTHORISATION})

    # Then the order's payment is confirmed, in its history too
    expect(_status(detail)).to_have_text("Payment confirmed")
    expect(detail.locator('form[data-action="record_payment"]')).to_be_hidden()
    expect(detail.locator("[data-history] li").last).to_contain_text("Payment confirmed (staff:")
    leaked = holds_a_test_card(page.content())
    assert not leaked, "the page still holds the card number"
    _step(watch, page)

    # When the terminal declines the second order's card
    detail = _open_placed(watch, page, declined)
    _record(detail, "Declined", **{"Why it was declined": DECLINE_REASON})

    # Then the order has a payment problem, and the customer's mail with the reason
    # arrives at the shop's mail server
    expect(_status(detail)).to_have_text("Payment problem")
    expect(_payment_state(detail)).to_have_text("Declined")
    mail = running_shop.mailed_text(declined_email, f"Payment problem with your order {declined}")
    assert DECLINE_REASON in mail
    assert "/orders/view#token=" in mail  # the order's own link, to give another card
    leaked = holds_a_test_card(mail)
    assert not leaked, "the payment-problem mail holds the card number"
    _step(watch, page)

    # And the dashboard counts what is left: none waiting, one payment problem
    page.locator('[data-nav="dashboard"]').get_by_role("link", name="Today").click()
    expect(_dashboard_count(page, "billing", "awaiting_payment")).to_have_text("0")
    expect(_dashboard_count(page, "billing", "payment_problems")).to_have_text("1")
    _step(watch, page)
