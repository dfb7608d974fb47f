"""The audit log and a legal disclosure in a real browser (issue 9; P2, P6): the privacy
officer filters the log, saves it as CSV, verifies the chain, and hands a customer's data
to a court with a confirmation step; at 1280 px and on a tablet.

Throughout: no cookie (P1), nothing from another origin but the shop's own blob: URLs of
the saved files (P2), the staff token in sessionStorage only and never in a URL, no script
error and no CSP violation.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from quietshop.staff.roles import Role
from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import Watch
from tests.e2e.test_staff_desk_browser import _sign_in
from tests.e2e.test_staff_passkey_browser import TOKEN_KEY

pytestmark = pytest.mark.browser

# No other browser test signs in as the privacy officer: each TOTP code works once only.
OFFICER = Role.PRIVACY_OFFICER
SCREENSHOT_DIR = os.environ.get("QUIETSHOP_SCREENSHOT_DIR")


def _shot(page: Page, name: str) -> None:
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / f"{name}.png"), full_page=True)


def _promises(watch: Watch, page: Page) -> None:
    watch.check_no_cookie(page)
    watch.check_same_origin(blobs=True)
    assert watch.problems == []
    token = page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")
    assert token
    assert all(token not in request.url for request in watch.requests)


def _no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0


def _customer_number(watch: Watch, page: Page, name: str) -> str:
    """A customer registered through the shop's API, their number as the lookup shows it
    (the officer may look a customer up to match a legal request)."""
    email = f"disclosed-{uuid.uuid4().hex[:10]}@example.org"
    body = {"name": name, "email": email, "password": "a long enough passphrase 7"}
    answer = watch.context.request.post(watch.base_url + "/api/v1/auth/register", data=body)
    assert answer.status == 202, answer.status
    number = page.evaluate(
        """async ([key, email]) => {
            const headers = {Authorization: `Bearer ${sessionStorage.getItem(key)}`};
            const url = `/api/v1/staff/customers?q=${encodeURIComponent(email)}`;
            return (await (await fetch(url, {headers})).json()).customers[0].customer_number;
        }""",
        [TOKEN_KEY, email],
    )
    return str(number)


def test_the_privacy_officer_reads_the_log_and_discloses_with_a_confirmation(
    watch: Watch, running_shop: RunningShop
) -> None:
    page = _sign_in(watch, running_shop, OFFICER)

    # The audit log: the officer's own sign-in is in it
    page.locator('[data-nav="audit"]').get_by_role("link", name="Audit log").click()
    screen = page.locator("[data-audit-screen]")
    expect(screen.get_by_role("heading", name="Audit log")).to_be_visible()
    rows = screen.locator("[data-audit-rows] tr")
    expect(rows.first).to_be_visible()
    expect(screen.locator("[data-audit-head]")).to_contain_text("entries")

    # Filtered to sign-ins, every row is one
    filters = screen.locator("[data-audit-filters]")
    filters.get_by_label("Action").select_option("sign_in")
    filters.get_by_role("button", name="Show entries").click()
    expect(rows.first.locator("td").nth(1)).to_have_text("sign_in")
    actions = {text.strip() for text in rows.locator("td:nth-child(2)").all_inner_texts()}
    assert actions == {"sign_in"}

    # A malformed filter is named beside its field
    filters.get_by_label("Customer number").fill("1234")
    filters.get_by_role("button", name="Show entries").click()
    expect(filters.locator('[data-error-for="customer_number"]')).not_to_be_empty()
    filters.get_by_label("Customer number").fill("")
    # The browser logs the refused request itself; that one is expected, nothing else
    refused = "Failed to load resource: the server responded with a status of 422 ()"
    assert watch.console_errors == [refused]
    watch.console_errors.clear()

    # The CSV file of the filtered view, fetched with the header and saved from memory
    with page.expect_download() as saved:
        filters.get_by_role("button", name="Download as CSV").click()
    assert saved.value.suggested_filename == "audit-log.csv"
    table = list(csv.DictReader(io.StringIO(Path(saved.value.path()).read_text())))
    assert table and {row["action"] for row in table} == {"sign_in"}

    # Verifying the chain
    screen.get_by_role("button", name="Verify the chain").click()
    expect(screen.locator("[data-audit-verdict]")).to_contain_text("Intact")

    # On a tablet the page does not scroll sideways (the table scrolls in its box)
    _shot(page, "audit-1280")
    page.set_viewport_size({"width": 768, "height": 1024})
    _no_sideways_scroll(page)
    _shot(page, "audit-tablet")
    page.set_viewport_size({"width": 1280, "height": 720})
    _no_sideways_scroll(page)
    _promises(watch, page)

    # A legal disclosure, reviewed first
    number = _customer_number(watch, page, "Dora Disclosed")
    page.locator('[data-nav="disclosures"]').get_by_role("link", name="Legal disclosures").click()
    form = page.locator("[data-disclosure-form]")
    form.get_by_label("Customer number").fill(number)
    form.get_by_label("Authority that requires it").fill("District Court of Springfield")
    form.get_by_label("Their reference").fill("Court order 2026/123")
    form.get_by_role("button", name="Review the disclosure").click()
    confirm = page.locator("[data-disclosure-confirm]")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("District Court of Springfield")
    _shot(page, "disclosure-confirm")

    # Cancelling hands nothing over
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(page.locator("[data-disclosures-empty]")).to_be_visible()

    form.get_by_role("button", name="Review the disclosure").click()
    confirm.get_by_role("button", name="Disclose").click()
    done = page.locator("[data-disclosure-done]")
    expect(done).to_contain_text("District Court of Springfield")
    listed = page.locator("[data-disclosure-rows] tr")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("Court order 2026/123")

    with page.expect_download() as handed:
        done.get_by_role("button", name="Save the data (JSON)").click()
    data = json.loads(Path(handed.value.path()).read_text())
    assert data["data"]["account"][0]["name"] == "Dora Disclosed"
    _shot(page, "disclosures-1280")
    page.set_viewport_size({"width": 768, "height": 1024})
    _no_sideways_scroll(page)
    _shot(page, "disclosures-tablet")
    _promises(watch, page)
