"""A passkey as a staff member's second factor, in a real browser (issue 9 items 1 and 8):
sign in to the demo's back office with the password and a TOTP code, add a passkey made by
Chromium's virtual authenticator (a platform authenticator with user verification, as a
laptop's fingerprint reader would be), sign out, and sign in again with the password and
"Use a passkey" in place of the code.

WebAuthn runs only in a secure context, for the origin the shop names: the demo serves
https://localhost:PORT, which is its base URL, so the relying party is "localhost".
Throughout: no cookie at any step (P1), nothing from another origin (P2), the staff token
in sessionStorage only and never in a URL, and no Content Security Policy violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page, expect

from quietshop.staff.demo import DEMO_PASSWORD, demo_email
from quietshop.staff.roles import Role
from tests.e2e.conftest import RunningShop
from tests.e2e.shopping import Watch

pytestmark = pytest.mark.browser

# A role the other browser tests do not sign in as: its TOTP code is used once here.
PERSON = demo_email(Role.ANALYST)
TOKEN_KEY = "quietshop.staff.token"
SIGN_IN_API = "/api/v1/staff/sign-in"


def _current_code(shop: RunningShop) -> str:
    """The code the demo staff member's app shows now, as `quietshop staff code` prints it
    (the shop's own clock decides, not the test's)."""
    env = {**os.environ, "QUIETSHOP_DATA_DIR": str(shop.data_dir)}
    for inherited in ("QUIETSHOP_DATABASE_URL", "QUIETSHOP_SECRET_KEY", "QUIETSHOP_DEMO"):
        env.pop(inherited, None)
    printed = subprocess.run(
        [sys.executable, "-m", "quietshop.cli", "staff", "code", PERSON],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return printed.strip()


@pytest.fixture
def authenticator(watch: Watch) -> Iterator[tuple[Page, CDPSession, str]]:
    """A tab with a virtual platform authenticator (CTAP2, internal transport, resident
    keys, user verification that succeeds) attached through the DevTools protocol."""
    page = watch.page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield page, cdp, added["authenticatorId"]
    cdp.send("WebAuthn.disable")


def _step(watch: Watch, page: Page) -> None:
    """The promises as they stand: no cookie, nothing from elsewhere, no script error or
    CSP violation, the token (if any) in sessionStorage only and in no URL."""
    watch.check_no_cookie(page)
    watch.check_same_origin()
    assert watch.problems == []
    assert page.evaluate("localStorage.length") == 0
    token = page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})")
    if token:
        for request in watch.requests:
            assert token not in request.url, request.url


def _acknowledge_policies(page: Page) -> None:
    """The back office first asks for this quarter's acknowledgements of the policies:
    as many buttons as the API says are pending, each clicked."""
    pending = page.evaluate(
        """async (key) => {
            const headers = {Authorization: `Bearer ${sessionStorage.getItem(key)}`};
            const answer = await fetch("/api/v1/staff/policies/pending", {headers});
            return (await answer.json()).pending.length;
        }""",
        TOKEN_KEY,
    )
    buttons = page.get_by_role("button", name="I have read and understood this")
    for left in range(pending, 0, -1):
        expect(buttons).to_have_count(left)
        buttons.first.click()
    expect(page.locator("[data-policy-gate]")).to_be_hidden()


def _sign_in_bodies(watch: Watch) -> list[dict[str, Any]]:
    bodies = []
    for request in watch.requests:
        if request.method == "POST" and request.url.endswith(SIGN_IN_API):
            bodies.append(json.loads(request.post_data or "{}"))
    return bodies


def test_add_a_passkey_sign_out_and_sign_in_with_it(
    watch: Watch, running_shop: RunningShop, authenticator: tuple[Page, CDPSession, str]
) -> None:
    page, cdp, authenticator_id = authenticator
    base = running_shop.base_url

    # Given a demo staff member signed in with the password and the app's code
    page.goto(base + "/staff/sign-in")
    form = page.locator("[data-staff-sign-in]")
    form.get_by_label("Email address").fill(PERSON)
    form.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    form.get_by_label("Code from your authenticator app").fill(_current_code(running_shop))
    form.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(base + "/staff")
    expect(page.locator("[data-staff-name]")).to_have_text("Ana Lyst")
    _acknowledge_policies(page)
    _step(watch, page)

    # When they add a passkey on the Passkeys screen
    page.get_by_role("link", name="Passkeys").click()
    screen = page.locator("[data-passkeys-screen]")
    expect(screen).to_be_visible()
    expect(screen.locator("[data-passkeys-empty]")).to_be_visible()
    add = screen.locator("[data-passkey-add]")
    add.get_by_label("Name of the new passkey").fill("Chromium's virtual key")
    add.get_by_role("button", name="Add a passkey").click()

    # Then the authenticator holds a discoverable credential for this shop, listed by name
    expect(add.locator("[data-form-message]")).to_have_text(
        "The passkey “Chromium's virtual key” was added."
    )
    expect(screen.locator("[data-passkey-list] li")).to_have_count(1)
    expect(screen.locator("[data-passkey-list]")).to_contain_text("last used: never")
    (credential,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    _step(watch, page)

    # When they sign out and sign in with the password and "Use a passkey"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/staff/sign-in")
    assert page.evaluate(f"sessionStorage.getItem({TOKEN_KEY!r})") is None
    form.get_by_label("Email address").fill(PERSON)
    form.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    form.get_by_role("button", name="Use a passkey").click()

    # Then the back office opens, signed in by the passkey: no code was sent
    page.wait_for_url(base + "/staff")
    expect(page.locator("[data-staff-name]")).to_have_text("Ana Lyst")
    with_code, with_passkey = _sign_in_bodies(watch)
    assert set(with_code) == {"email", "password", "code"}
    assert set(with_passkey) == {"email", "password", "passkey"}
    assert with_passkey["passkey"]["credential"]["rawId"] == credential["credentialId"].replace(
        "+", "-"
    ).replace("/", "_").rstrip("=")
    (used,) = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})[
        "credentials"
    ]
    assert used["signCount"] == credential["signCount"] + 1  # it counts, and the shop checks
    page.goto(base + "/staff#passkeys")
    expect(page.locator("[data-passkey-list]")).not_to_contain_text("last used: never")
    _step(watch, page)

    # And removing it asks for the password again
    page.get_by_role("button", name="Remove Chromium's virtual key").click()
    remove = page.locator("[data-passkey-remove]")
    remove.get_by_label("Your password, to confirm").fill("not the password 123")
    remove.get_by_role("button", name="Remove the passkey").click()
    expect(remove.locator("[data-error-for='password']")).to_have_text("The password is wrong.")
    remove.get_by_label("Your password, to confirm").fill(DEMO_PASSWORD)
    remove.get_by_role("button", name="Remove the passkey").click()
    expect(page.locator("[data-passkeys-message]")).to_have_text(
        "The passkey “Chromium's virtual key” was removed."
    )
    expect(page.locator("[data-passkeys-empty]")).to_be_visible()
    # A wrong password answers 400 (a 401 would have ended the sign-in), so the tab is
    # still signed in; the console has that 400, and nothing else.
    refused = "Failed to load resource: the server responded with a status of 400 ()"
    assert watch.console_errors == [refused]
    watch.console_errors.clear()
    _step(watch, page)
