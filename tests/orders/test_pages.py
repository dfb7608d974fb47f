"""The order screens' HTML shells: checkout and its confirmation, a guest's order page, the
account's orders, choosing a password on a guest's customer number, and the question form.

Each is the same for everyone (no personal data, no order, no token), never stored
(no-store), loads only same-origin module scripts, and has no inline script or style.
No form can send anything by GET or before its script is in place. A mailed link's token
lives in the URL fragment, so the server never needs it: the guest's page is the same
shell whatever comes along. The card fields ask the browser for card autofill, and the
scripts keep card data out of storage.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import build_app
from quietshop.orders.routes import SITE
from quietshop.settings import Settings
from quietshop.web.static import STATIC_DIR
from tests.accounts.test_pages import Forms, Page
from tests.clock import MovableClock

assert SITE.static is not None
ORDERS_STATIC: Path = SITE.static

ORDER_NUMBER = "QS482193058"  # a valid number (Damm check digit 8)
LINK_TOKEN = "Zq3-orderLINK_4f9a8c7e6d5b4a39281706f5e4d3c2b1a0"

# path -> its own module script
SHELLS = {
    "/checkout": "/static/orders/checkout.js",
    "/checkout/done": "/static/orders/checkout-done.js",
    "/orders/view": "/static/orders/order-view.js",
    "/account/orders": "/static/orders/orders-account.js",
    f"/account/orders/{ORDER_NUMBER}": "/static/orders/orders-account.js",
    "/account/claim": "/static/orders/claim.js",
    "/ask": "/static/orders/ask.js",
}
OUR_MODULES = [
    "checkout.js",
    "checkout-address.js",
    "checkout-api.js",
    "checkout-card.js",
    "checkout-done.js",
    "checkout-money.js",
    "checkout-order-detail.js",
    "checkout-place.js",
    "checkout-store.js",
    "order-view.js",
    "orders-account.js",
    "claim.js",
    "ask.js",
]
# URL -> file, for every module ours may import.
MODULE_FILES = {
    "/static/js/api.js": STATIC_DIR / "js" / "api.js",
    "/static/js/forms.js": STATIC_DIR / "js" / "forms.js",
    **{f"/static/orders/{f.name}": f for f in sorted(ORDERS_STATIC.glob("*.js"))},
}

CARD_AUTOCOMPLETE = {
    "number": "cc-number",
    "exp-month": "cc-exp-month",
    "exp-year": "cc-exp-year",
    "name": "cc-name",
    "cvc": "cc-csc",
}
ADDRESS_AUTOCOMPLETE = {
    "name": "name",
    "line1": "address-line1",
    "line2": "address-line2",
    "city": "address-level2",
    "region": "address-level1",
    "postcode": "postal-code",
    "country": "country",
}


def _get(client: TestClient, path: str, headers: dict[str, str] | None = None) -> tuple[str, Page]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    return response.text, Page(response.text)


def _fields_by_id(page: Page) -> dict[str, dict[str, str | None]]:
    return {str(field["id"]): field for field in page.fields if field.get("id")}


def _own_fields(page: Page) -> list[dict[str, str | None]]:
    """The page's fields without the header's product search."""
    return [field for field in page.fields if field.get("id") != "site-search"]


# ---------------------------------------------------------------- every shell


@pytest.mark.parametrize("path", SHELLS)
def test_each_shell_is_private_and_loads_only_its_own_module_script(
    client: TestClient, path: str
) -> None:
    _, page = _get(client, path)
    sources = [str(script.get("src")) for script in page.scripts]
    # Every page's two (the header's "signed in" note, the search box's suggestions), then its own.
    assert sources == ["/static/js/header.js", "/static/js/suggest.js", SHELLS[path]]
    assert all(script.get("type") == "module" for script in page.scripts)
    assert not page.inline_script
    assert not page.inline_style_attributes and not page.style_elements
    assert not page.event_handlers
    assert page.live_regions >= 1 or path == "/checkout/done"


@pytest.mark.parametrize("path", SHELLS)
def test_every_field_has_a_label_and_its_descriptions_exist(client: TestClient, path: str) -> None:
    _, page = _get(client, path)
    for field in page.fields:
        assert field.get("id") in page.label_for, (path, field)
        for described_by in str(field.get("aria-describedby") or "").split():
            assert described_by in page.ids, (path, field, described_by)
        if field.get("type") == "email":
            assert field.get("autocomplete") == "email"
        if field.get("type") == "password":  # the inline sign-in's, or a new one
            expected = "current-password" if field["id"] == "sign-in-password" else "new-password"
            assert field.get("autocomplete") == expected, (path, field)


@pytest.mark.parametrize("path", SHELLS)
def test_no_form_can_send_by_get_or_before_its_script(client: TestClient, path: str) -> None:
    html, _ = _get(client, path)
    forms = [form for form in Forms(html).forms if form.get("role") != "search"]
    if path == "/checkout/done":
        assert forms == []  # it only shows what the checkout answered
        return
    assert forms
    for form in forms:
        assert form["method"] == "post" and form["action"] == "/account/needs-javascript"
        assert form["fields"] and form["enabled_fields"] == [], (path, form)


@pytest.mark.parametrize("path", SHELLS)
def test_a_shell_is_the_same_for_everyone(client: TestClient, path: str) -> None:
    """Nothing that came with the request (a sign-in, a link token, a query) is echoed."""
    plain, _ = _get(client, path)
    signed_in, _ = _get(client, path, headers={"Authorization": f"Bearer {LINK_TOKEN}"})
    with_query, _ = _get(client, f"{path}?token={LINK_TOKEN}")
    assert plain == signed_in == with_query
    assert LINK_TOKEN[:12] not in plain


def test_an_order_page_does_not_repeat_its_number_and_an_odd_number_is_not_found(
    client: TestClient,
) -> None:
    html, _ = _get(client, f"/account/orders/{ORDER_NUMBER}")
    assert ORDER_NUMBER not in html and "4821" not in html
    for odd in ("QS482193057", "nothing", "QS" + "1" * 30, "%3Cscript%3E"):
        response = client.get(f"/account/orders/{odd}")
        assert response.status_code == 404, odd
        assert "<script>" not in response.text
        assert "set-cookie" not in response.headers


def test_the_private_pages_are_logged_by_template_without_number_or_token(
    client: TestClient, settings: Settings
) -> None:
    _get(client, f"/account/orders/{ORDER_NUMBER}")
    _get(client, f"/orders/view?token={LINK_TOKEN}")
    _get(client, "/ask?product=ABC-1&email=ann@example.org")
    log = settings.access_log_path.read_text()
    assert "/account/orders/{number}" in log
    assert ORDER_NUMBER not in log
    assert LINK_TOKEN not in log and "token=" not in log
    assert "ann@example.org" not in log


# ---------------------------------------------------------------- checkout


def test_checkout_fields_ask_the_browser_for_the_right_autofill(client: TestClient) -> None:
    _, page = _get(client, "/checkout")
    fields = _fields_by_id(page)
    assert fields["checkout-name"]["autocomplete"] == "name"
    assert fields["checkout-email"]["autocomplete"] == "email"
    assert fields["checkout-email"]["type"] == "email"
    for prefix, section in (("ship", "shipping"), ("bill", "billing")):
        for name, token in ADDRESS_AUTOCOMPLETE.items():
            assert fields[f"{prefix}-{name}"]["autocomplete"] == f"{section} {token}", name
    for name, token in CARD_AUTOCOMPLETE.items():
        assert fields[f"card-{name}"]["autocomplete"] == token, name
    assert fields["card-number"]["inputmode"] == "numeric"
    assert fields["card-cvc"]["inputmode"] == "numeric"
    assert fields["discount-code"]["autocomplete"] == "off"


def test_the_card_fields_take_a_number_and_a_code_without_showing_them_anywhere_else(
    client: TestClient,
) -> None:
    html, page = _get(client, "/checkout")
    fields = _fields_by_id(page)
    for name in CARD_AUTOCOMPLETE:
        field = fields[f"card-{name}"]
        assert "required" in field and "value" not in field, name
    # Card data may not be a password (a password manager would offer to keep it) nor
    # go into a form that could be sent by itself.
    assert fields["card-cvc"]["type"] == "text"
    assert (fields["card-cvc"]["minlength"], fields["card-cvc"]["maxlength"]) == ("3", "4")
    assert "4242 4242 4242 4242" in html  # the test-payment notice, hidden until simulated
    assert re.search(r'<p class="notice-box" data-test-payments hidden>', html)


def test_the_test_payment_notice_names_both_test_cards(client: TestClient) -> None:
    html, _ = _get(client, "/checkout")
    assert (
        "<strong>Test payments: no real money is taken.</strong> Use 4242 4242 4242 4242 to "
        "approve or 4000 0000 0000 0002 to see a decline"
    ) in html


def test_checkout_has_six_headed_steps_of_which_only_the_first_shows(client: TestClient) -> None:
    html, _ = _get(client, "/checkout")
    steps = re.findall(r'<section [^>]*data-step="([a-z]+)"[^>]*>', html)
    assert steps == ["contact", "address", "method", "discount", "card", "review"]
    for number, step in enumerate(steps, start=1):
        section = re.search(rf'<section [^>]*data-step="{step}"[^>]*>', html)
        assert section is not None
        assert ("hidden" in section.group(0)) == (step != "contact")
        assert re.search(rf'<h2 id="step-{step}-heading" tabindex="-1">{number}\. ', html)


def test_an_empty_cart_is_said_with_a_link_to_the_catalog(client: TestClient) -> None:
    html, _ = _get(client, "/checkout")
    empty = html[html.index('data-panel="empty"') :]
    empty = empty[: empty.index("</section>")]
    assert "Your cart is empty" in empty
    assert '<a class="button" href="/" data-catalog-link>' in empty


def test_checkout_offers_to_sign_in_or_register_without_leaving_the_cart(
    client: TestClient,
) -> None:
    html, page = _get(client, "/checkout")
    assert "data-sign-in-form" in html and 'href="/account/register"' in html
    fields = _fields_by_id(page)
    assert fields["sign-in-password"]["autocomplete"] == "current-password"
    assert "Your cart stays as it is." in html


def test_the_hooks_checkout_js_documents_exist_in_the_page(client: TestClient) -> None:
    """The browser tests rely on the list at the top of checkout.js: keep it true."""
    html, page = _get(client, "/checkout")
    header = (ORDERS_STATIC / "checkout.js").read_text().split("\nimport ", 1)[0]
    documented = set(re.findall(r"#([a-z][a-z0-9-]*)(?![a-z0-9<-])", header))
    # The confirmation's, and the address book's radios, which the script draws.
    static = documented - {"order-number", "ship-address-new", "bill-address-new"}
    assert static <= page.ids, static - page.ids
    assert len(static) > 20
    _, done_page = _get(client, "/checkout/done")
    assert {"order-number", "order-status", "order-total"} <= done_page.ids
    for hook in set(re.findall(r'\[data-([a-z-]+)[=\]"]', header)) - {"total"}:  # rows drawn
        assert f"data-{hook}" in html, hook


# ---------------------------------------------------------------- order pages


def test_the_order_detail_offers_each_action_hidden_until_the_api_says(
    client: TestClient,
) -> None:
    for path in ("/orders/view", f"/account/orders/{ORDER_NUMBER}"):
        html, page = _get(client, path)
        actions = re.findall(r'<section [^>]*data-action="([a-z_]+)"[^>]*hidden>', html)
        assert sorted(actions) == ["answer_availability", "cancel", "new_card", "request_return"]
        fields = _fields_by_id(page)
        for name, token in CARD_AUTOCOMPLETE.items():
            assert fields[f"new-card-{name}"]["autocomplete"] == token, name


def test_the_guest_page_reads_its_token_from_the_fragment_only() -> None:
    source = _code("/static/orders/order-view.js")
    assert "location.hash" in source and "location.search" not in source
    assert "history.replaceState" in source
    # the token goes in a POST body, with no sign-in header
    assert 'send("POST", `/api/v1/order-link/${path}`' in source and "auth: false" in source


def test_the_claim_page_asks_for_a_new_password_only(client: TestClient) -> None:
    _, page = _get(client, "/account/claim")
    assert [(f["name"], f["type"], f["autocomplete"]) for f in _own_fields(page)] == [
        ("password", "password", "new-password")
    ]
    source = _code("/static/orders/claim.js")
    assert "/api/v1/auth/claim-guest" in source and "history.replaceState" in source


# ---------------------------------------------------------------- the question form


def test_the_question_form_asks_only_what_an_answer_needs_and_says_how_long_it_is_kept(
    client: TestClient,
) -> None:
    html, page = _get(client, "/ask")
    asked = {str(f["name"]) for f in _own_fields(page)}
    assert asked == {"kind", "name", "email", "question", "quantity"}
    assert "delete them 90 days after you send them" in html
    assert "data-ask-product" not in html


@pytest.fixture
def short_retention_client(
    settings: Settings, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[TestClient]:
    changed = settings.model_copy(update={"info_request_retention_days": 30})
    app = build_app(changed, sessions, clock=clock)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client
    if app.access_log is not None:
        app.access_log.close()


def test_the_retention_shown_is_the_setting(short_retention_client: TestClient) -> None:
    html, _ = _get(short_retention_client, "/ask")
    assert "delete them 30 days after you send them" in html


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("CBL-USB-C-2M", "CBL-USB-C-2M"),
        ("  CBL-1  ", "CBL-1"),
        ("", None),
        ("<script>alert(1)</script>", None),
        ('A" onmouseover="x', None),
        ("A" * 41, None),
        ("ÄBC", None),
    ],
)
def test_the_question_form_names_a_product_only_by_a_well_formed_sku(
    client: TestClient, given: str, shown: str | None
) -> None:
    response = client.get("/ask", params={"product": given})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    html, page = response.text, Page(response.text)
    if shown is None:
        assert "data-ask-product" not in html
        assert "alert(1)" not in html and "onmouseover" not in html
    else:
        assert f'data-ask-product="{shown}"' in html
        assert f"product {shown}</strong>" in html
    assert not page.event_handlers and not page.inline_script


def test_a_huge_product_parameter_is_refused_naming_it(client: TestClient) -> None:
    response = client.get("/ask", params={"product": "A" * 201})
    assert response.status_code == 400
    assert "product" in response.text


# ---------------------------------------------------------------- the scripts


def _code(module: str) -> str:
    """A module's source without its comments (which may well name what the code avoids)."""
    source = MODULE_FILES[module].read_text()
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"(^|\s)//.*$", "", source, flags=re.MULTILINE)


def test_the_modules_are_served_as_javascript_from_this_origin(client: TestClient) -> None:
    for name in OUR_MODULES:
        response = client.get(f"/static/orders/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript")
        assert "set-cookie" not in response.headers


@pytest.mark.parametrize("name", OUR_MODULES)
def test_the_modules_write_no_html_keep_no_cookie_and_import_only_our_modules(name: str) -> None:
    url = f"/static/orders/{name}"
    source = _code(url)
    assert "localStorage" not in source  # the cart is cart.js's
    assert "document.cookie" not in source
    assert "innerHTML" not in source and "outerHTML" not in source
    assert "insertAdjacentHTML" not in source and "document.write" not in source
    assert "eval(" not in source and "new Function" not in source
    for imported in re.findall(r'^import .* from "([^"]+)";$', source, re.MULTILINE | re.DOTALL):
        resolved = urljoin(url, imported)  # as the browser resolves it
        assert resolved in MODULE_FILES, imported
    if name != "checkout-store.js":
        assert "sessionStorage" not in source  # one module decides what the tab keeps
    if name != "checkout-api.js":
        assert "fetch(" not in source  # one road to the API besides api.js


def test_the_tab_keeps_no_card_data() -> None:
    """sessionStorage holds the attempt's key, the placed answer (a masked card label at
    most) and a guest's order link: never a card number, expiry or security code."""
    source = _code("/static/orders/checkout-store.js")
    for card_field in ("security_code", "exp_month", "exp_year", ".number", "card:"):
        assert card_field not in source, card_field
    assert "card_label" in source  # the masked "Visa •••• 4242"


def test_the_card_leaves_the_page_in_a_request_body_only() -> None:
    card = _code("/static/orders/checkout-card.js")
    assert 'window.addEventListener("pagehide"' in card  # not restored by the back button
    checkout = _code("/static/orders/checkout.js")
    assert "readCard(forms.card)" in checkout
    assert checkout.count("forgetSecrets(forms.card)") >= 2  # after success and a refusal
    for module in OUR_MODULES:
        source = _code(f"/static/orders/{module}")
        # The only navigation is to the confirmation, with nothing in its URL.
        assert re.findall(r"location\.assign\(([^)]*)\)", source) in ([], ['"/checkout/done"'])
        # URLs are read (a mailed link's fragment), never written with data.
        assert "URLSearchParams(" not in source or module in {"order-view.js", "claim.js"}


def test_the_api_road_sends_the_token_only_in_a_header() -> None:
    source = _code("/static/orders/checkout-api.js")
    fetches = re.findall(r"fetch\(([^,]+),", source)
    assert fetches == ["path"]
    assert 'credentials: "omit"' in source and 'redirect: "error"' in source
    assert "Authorization = `Bearer ${bearer}`" in source
    assert '"Idempotency-Key"' in source


def test_placing_keeps_one_key_per_attempt_until_it_is_answered() -> None:
    store = _code("/static/orders/checkout-store.js")
    assert "crypto.randomUUID()" in store and "sessionStorage.setItem(name, value)" in store
    place = _code("/static/orders/checkout-place.js")
    assert "idempotencyKey: key" in place and "attempt.key()" in place
    # forgotten on an answer (success or a 4xx refusal), kept without one
    assert place.count("attempt.answered()") == 2
    assert "error.status >= 400 && error.status < 500" in place
