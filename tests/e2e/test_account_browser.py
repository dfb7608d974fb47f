"""A customer's account in a real browser: register, sign in, edit the profile, keep an
address, download the data, sign out; and a mailed link that confirms the address.

Throughout: no cookie anywhere (P1), the sign-in token only in sessionStorage and in the
Authorization header, never in a URL, nothing requested from another origin (P2), and no
Content Security Policy violation (the screens run without inline script or style).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import Watch

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "quiet shops keep few secrets"
TOKEN_KEY = "quietshop.token"
# Set it to a folder to keep screenshots of the account screen for a look at the layout.
SCREENSHOT_DIR = os.environ.get("QUIETSHOP_SCREENSHOT_DIR")


def _session_token(page: Page) -> str | None:
    value: str | None = page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")
    return value


def _check_promises(watch: Watch, page: Page, tokens: list[str]) -> None:
    """Everything the tab asked for and was told, at the end: no cookie, nothing in
    localStorage, nothing from elsewhere, no token in a URL or a referrer, no CSP violation
    and no script error (a refused sign-in may log its 401 to the console)."""
    watch.check_no_cookie(page)
    assert page.evaluate("localStorage.length") == 0
    watch.check_same_origin(blobs=True)  # the data download is saved from a Blob
    for request in watch.requests:
        for token in tokens:
            assert token not in request.url, request.url
            assert token not in (request.headers.get("referer") or "")
    assert not [m for m in watch.console_errors if "Content Security Policy" in m]
    assert not watch.page_errors


def _email() -> str:
    return f"ann-{uuid.uuid4().hex[:12]}@example.org"


def _register_in_the_browser(watch: Watch, page: Page, email: str) -> None:
    page.goto(watch.base_url + "/account/register")
    page.get_by_label("Your name").fill("Ann Browser")
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    assert not page.get_by_label("Occasional mailings").is_checked()
    page.get_by_role("button", name="Create my account").click()
    # The same answer for a new and a taken address: no customer number on this screen.
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    expect(page.locator("[data-registered-message]")).to_contain_text("open the link")
    watch.check_no_cookie(page)
    assert _session_token(page) is None  # registering does not sign in


def _sign_in(page: Page, email: str, password: str) -> None:
    form = page.locator("[data-sign-in-form]")
    form.get_by_label("Email address", exact=True).fill(email)
    form.get_by_label("Password", exact=True).fill(password)
    form.get_by_role("button", name="Sign in", exact=True).click()


def test_register_sign_in_edit_keep_an_address_and_sign_out(watch: Watch) -> None:
    page, email = watch.page(), _email()
    _register_in_the_browser(watch, page, email)

    page.get_by_role("link", name="Sign in", exact=True).last.click()
    expect(page).to_have_url(watch.base_url + "/account/sign-in")
    _sign_in(page, email, "not my password at all")
    expect(page.locator("[data-form-message]")).to_contain_text("password is wrong")
    assert _session_token(page) is None
    _sign_in(page, email, PASSWORD)
    expect(page).to_have_url(watch.base_url + "/account")
    number_shown = page.locator("[data-customer-number]")
    expect(number_shown).to_have_text(re.compile(r"^\d{4} \d{4} \d{2}$"))
    number = number_shown.inner_text()
    # The header says this tab is signed in (public pages cannot: the tab knows).
    expect(page.locator("[data-account-link]")).to_contain_text("signed in")
    token = _session_token(page)
    assert token and len(token) >= 22  # at least 128 random bits
    watch.check_no_cookie(page)

    # The profile: saved, and still there after a reload (the tab keeps its sign-in).
    page.locator("#profile-name").fill("Ann Renamed")
    page.get_by_role("button", name="Save my details").click()
    expect(page.get_by_text("Your details are saved.")).to_be_visible()
    page.reload()
    expect(page.locator("#profile-name")).to_have_value("Ann Renamed")
    assert _session_token(page) == token

    # An address: a wrong postcode is named beside its field, then the address is kept.
    form = page.locator("[data-address-form]")
    form.get_by_label("Name").fill("Ann Renamed")
    form.get_by_label("Street and number").fill("1 Main St")
    form.get_by_label("City").fill("Springfield")
    form.get_by_label("State, province or region").fill("IL")
    form.get_by_label("Postcode").fill("ABC")
    form.get_by_label("Country").select_option("US")
    form.get_by_role("button", name="Add this address").click()
    postcode = form.get_by_label("Postcode")
    expect(postcode).to_have_attribute("aria-invalid", "true")
    expect(form.locator("[data-error-for='postcode']")).to_have_text(
        "Postcode is not a valid postcode for US."
    )
    expect(postcode).to_be_focused()
    postcode.fill("62701")
    form.get_by_role("button", name="Add this address").click()
    card = page.locator(".address-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("1 Main St")
    expect(card).to_contain_text("United States")
    expect(postcode).not_to_have_attribute("aria-invalid", "true")
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "account-screen.png"), full_page=True)
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "account-top.png"))
    page.set_viewport_size({"width": 375, "height": 740})  # a phone: nothing sticks out
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    if SCREENSHOT_DIR:
        page.screenshot(path=str(Path(SCREENSHOT_DIR) / "account-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})

    # Download my data: fetched with the header, saved from a Blob.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename == f"quietshop-{number.replace(' ', '')}.json"
    exported = json.loads(Path(download.path()).read_text())["data"]
    assert exported["account"][0]["name"] == "Ann Renamed"
    assert exported["addresses"][0]["postcode"] == "62701"

    api_calls = [r for r in watch.requests if "/api/v1/account" in r.url]
    assert api_calls and all(r.headers.get("authorization") == f"Bearer {token}" for r in api_calls)

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Please sign in")).to_be_visible()
    expect(page.locator("[data-page-message]")).to_have_text("You are signed out.")
    assert _session_token(page) is None
    revoked = watch.context.request.get(
        watch.base_url + "/api/v1/account", headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status == 401  # ended on the server too, not only forgotten

    _check_promises(watch, page, [token])


def test_a_mailed_link_confirms_the_address_then_a_password_change_signs_out(
    watch: Watch, running_shop: RunningShop
) -> None:
    page, email = watch.page(), _email()
    _register_in_the_browser(watch, page, email)
    link = running_shop.mailed_link(email, "/account/verify")
    link_token = link.split("token=")[1]

    page.goto(watch.base_url + link)
    expect(page.get_by_role("status").filter(has_text="confirmed")).to_have_text(
        "Thank you: your email address is confirmed."
    )
    assert page.evaluate("location.href") == watch.base_url + "/account/verify"
    assert link_token not in page.content()
    verify_post = next(r for r in watch.requests if r.url.endswith("/api/v1/auth/verify-email"))
    assert json.loads(verify_post.post_data or "{}") == {"token": link_token}

    # The account screen without a sign-in shows the form in place, then the account.
    page.get_by_role("link", name="Go to my account").click()
    expect(page.get_by_role("heading", name="Please sign in")).to_be_visible()
    _sign_in(page, email, PASSWORD)
    expect(page.locator("[data-email-status]")).to_have_text("confirmed")
    expect(page).to_have_url(watch.base_url + "/account")
    token = _session_token(page)
    assert token

    # A new password ends every sign-in, this tab's too: the sign-in form comes back.
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change my password").click()
    expect(page.get_by_role("heading", name="Please sign in")).to_be_visible()
    assert _session_token(page) is None
    _sign_in(page, email, NEW_PASSWORD)
    expect(page.locator("[data-panel='account']")).to_be_visible()
    expect(page.locator("[data-email]")).to_have_text(email)
    new_token = _session_token(page)
    assert new_token and new_token != token

    _check_promises(watch, page, [token, new_token])


def test_without_javascript_no_account_form_can_send_a_password(
    browser: Browser, running_shop: RunningShop
) -> None:
    """Defect 5: with scripts off, the forms used to submit by GET, password in the URL."""
    context = browser.new_context(ignore_https_errors=True, java_script_enabled=False)
    page = context.new_page()
    try:
        for path in ("/account/sign-in", "/account/register", "/account"):
            page.goto(running_shop.base_url + path)
            expect(page.locator("noscript, .notice-box").first).to_be_attached()
            password = page.locator("main input[type=password]").first
            expect(password).to_be_disabled()  # nothing to type a password into
            page.locator("main form [type=submit]").first.dispatch_event("click")
            assert "?" not in page.url and "password" not in page.url
        # Even a form forced to send goes by POST to an answer that keeps nothing.
        page.goto(running_shop.base_url + "/account/sign-in")
        page.evaluate(
            "() => { const f = document.querySelector('[data-sign-in-form]');"
            " f.querySelector('fieldset').disabled = false;"
            " f.elements.email.value = 'a@example.org'; f.elements.password.value = 'secret';"
            " f.submit(); }"
        )
        expect(page.get_by_role("heading", name="This screen needs JavaScript")).to_be_visible()
        assert page.url == running_shop.base_url + "/account/needs-javascript"
    finally:
        context.close()
