"""The owner edits a shop page in a real browser (issue 11 item 5).

The demo owner signs in, opens "Shop pages", rewrites the returns page with text that
looks like markup, and saves: the public /returns shows it at once, as typed (escaped).
Then someone else saves the same page (an API call from the same tab stands in for a
second owner), and this screen's next save is refused: nothing is lost, the typed text
stays in its box and the version saved meanwhile is shown beside it.

Throughout: no cookie, nothing from another origin, no script error or CSP violation
(``_step``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from quietshop.staff.roles import Role
from tests.e2e.conftest import RunningShop, start_shop
from tests.e2e.shopping import Watch
from tests.e2e.test_staff_desk_browser import _sign_in
from tests.e2e.test_staff_passkey_browser import TOKEN_KEY, _step

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def running_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    """A shop of this module's own: the edit stays here, and the owner's sign-in cannot
    meet another module's in the same 30 s code window (a code is accepted once)."""
    with start_shop(tmp_path_factory) as shop:
        yield shop


HOSTILE_TEXT = "Send it back within 45 days.\n\n- <b>unused</b> & boxed\n- <script>x()</script>"


def _save_by_api(page: Page, title: str, body: str) -> dict[str, Any]:
    """Another editor's save of the returns page, from this tab's token."""
    found: dict[str, Any] = page.evaluate(
        """async ([key, title, body]) => {
            const headers = {
                Authorization: `Bearer ${sessionStorage.getItem(key)}`,
                "Content-Type": "application/json",
            };
            const list = await (await fetch("/api/v1/staff/shop-pages", {headers})).json();
            const current = list.pages.find((page) => page.slug === "returns");
            const answer = await fetch("/api/v1/staff/shop-pages/returns", {
                method: "PUT", headers,
                body: JSON.stringify({title, body, updated_at: current.updated_at}),
            });
            return {status: answer.status, body: await answer.json()};
        }""",
        [TOKEN_KEY, title, body],
    )
    return found


def test_the_owner_edits_the_returns_page_and_a_stale_save_loses_nothing(
    watch: Watch, running_shop: RunningShop
) -> None:
    page = _sign_in(watch, running_shop, Role.OWNER)
    page.get_by_role("link", name="Shop pages").click()
    editor = page.locator('[data-shop-page="returns"]')
    expect(editor.get_by_label("Title")).to_have_value("Returns")
    editor.get_by_label("Title").fill("Returns <em>and refunds</em>")
    editor.get_by_label("Text", exact=True).fill(HOSTILE_TEXT)
    editor.get_by_role("button", name="Save").click()
    expect(editor.get_by_role("status")).to_have_text("Saved. The public page shows it now.")
    _step(watch, page)

    # The public page, in a tab of its own, shows the text as typed: no markup got through.
    public = watch.page()
    public.goto(running_shop.base_url + "/returns")
    expect(public.get_by_role("heading", level=1)).to_have_text("Returns <em>and refunds</em>")
    items = public.locator("article li")
    expect(items).to_have_text(["<b>unused</b> & boxed", "<script>x()</script>"])
    assert public.locator("article b, article script, article em").count() == 0
    watch.check_no_cookie(public)

    # Someone else saves meanwhile; this screen still holds the stamp it read.
    other = _save_by_api(page, "Returns", "Thirty days, no questions asked.")
    assert other["status"] == 200, other
    typed = "My longer text, which must not be lost."
    editor.get_by_label("Text", exact=True).fill(typed)
    editor.get_by_role("button", name="Save").click()
    expect(editor.get_by_role("status")).to_contain_text("Someone saved this page")
    expect(editor.get_by_label("Text", exact=True)).to_have_value(typed)
    expect(editor.get_by_label("The text saved meanwhile")).to_have_value(
        "Thirty days, no questions asked."
    )
    # Nothing of the refused save reached the public page.
    public.reload()
    expect(public.locator("article")).to_contain_text("Thirty days, no questions asked.")
    expect(public.locator("article")).not_to_contain_text(typed)
    # The refused save is the one console line: the browser reports every 409 it receives.
    refused = "Failed to load resource: the server responded with a status of 409 ()"
    assert watch.console_errors == [refused]
    watch.console_errors.clear()
    _step(watch, page)
