"""The account screens' HTML shells: no personal data, no token, no cookie, no inline script
or style (the CSP forbids them), only same-origin module scripts, and a label for every field.
A mailed link's token is never echoed into the page or written to the access log."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.accounts.addresses import COUNTRIES
from quietshop.accounts.routes import SITE
from quietshop.app import AssembledApp
from quietshop.settings import Settings
from quietshop.web.static import STATIC_DIR
from tests.accounts.factories import make_customer, token_for

ACCOUNT_STATIC = SITE.static
assert ACCOUNT_STATIC is not None

LINK_TOKEN = "Zq3-linkTOKEN_4f9a8c7e6d5b4a39281706f5e4d3c2b1a0"
SHELLS = [
    "/account",
    "/account/sign-in",
    "/account/register",
    "/account/verify",
    "/account/reset",
    "/account/confirm-email",
]
LINK_PAGES = ["/account/verify", "/account/reset", "/account/confirm-email"]
# URL -> file: the shared modules are web/'s, the screens' own are the accounts domain's.
MODULE_FILES = {
    "/static/js/api.js": STATIC_DIR / "js" / "api.js",
    "/static/js/forms.js": STATIC_DIR / "js" / "forms.js",
    "/static/js/header.js": STATIC_DIR / "js" / "header.js",
    "/static/js/suggest.js": STATIC_DIR / "js" / "suggest.js",
    **{f"/static/account/{f.name}": f for f in sorted(ACCOUNT_STATIC.glob("*.js"))},
}
ACCOUNT_MODULES = list(MODULE_FILES)
# What else a shared module may import: the header's cart badge reads the cart store, which
# keeps SKUs and quantities in localStorage (P1 puts the cart there); its own rules are
# tested in tests/orders/test_cart_page.py.
OTHER_IMPORTS = {"/static/orders/cart.js"}
FIELD_TAGS = {"input", "select", "textarea"}
NOT_FIELDS = {"hidden", "submit", "button", "reset", "image"}


class Page(HTMLParser):
    """The parts of a page these tests look at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_script = False
        self.inline_style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self.style_elements = 0
        self.live_regions = 0
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "label" and found.get("for"):
            self.label_for.add(str(found["for"]))
        if tag in FIELD_TAGS and found.get("type") not in NOT_FIELDS:
            self.fields.append({"tag": tag, **found})
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        if tag == "style":
            self.style_elements += 1
        if "aria-live" in found:
            self.live_regions += 1
        for name, value in attrs:
            if (value or "").strip().lower().startswith("javascript:"):
                self.event_handlers.append(f"{tag} {name}={value}")
            if name == "style":
                self.inline_style_attributes.append(tag)
            if name.startswith("on"):
                self.event_handlers.append(f"{tag} {name}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_script = True


def _get(client: TestClient, path: str, headers: dict[str, str] | None = None) -> tuple[str, Page]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    return response.text, Page(response.text)


@pytest.mark.parametrize("path", SHELLS)
def test_each_shell_is_private_and_loads_only_its_own_module_scripts(
    client: TestClient, path: str
) -> None:
    _, page = _get(client, path)
    sources = [str(script.get("src")) for script in page.scripts]
    # Every page's two: "signed in" in the header, and the search box's suggestions.
    assert sources[:2] == ["/static/js/header.js", "/static/js/suggest.js"]
    assert len(sources) == 3 and sources[2].startswith("/static/account/"), sources
    for script in page.scripts:
        assert script.get("type") == "module"
        assert str(script.get("src")) in MODULE_FILES
    assert not page.inline_script
    assert not page.inline_style_attributes and not page.style_elements
    assert not page.event_handlers
    assert page.live_regions >= 1


@pytest.mark.parametrize("path", SHELLS)
def test_every_field_has_a_label_and_its_descriptions_exist(client: TestClient, path: str) -> None:
    _, page = _get(client, path)
    for field in page.fields:
        assert field.get("id") in page.label_for, field
        for described_by in str(field.get("aria-describedby") or "").split():
            assert described_by in page.ids, (field, described_by)
        if field.get("type") == "email":
            assert field.get("autocomplete") == "email"
        if field.get("type") == "password":
            assert field.get("autocomplete") in {"current-password", "new-password"}


def test_password_fields_ask_for_the_right_kind_of_password(client: TestClient) -> None:
    def autocompletes(path: str) -> dict[str, str]:
        _, page = _get(client, path)
        return {
            str(f["id"]): str(f.get("autocomplete"))
            for f in page.fields
            if f.get("type") == "password"
        }

    assert autocompletes("/account/register") == {"register-password": "new-password"}
    assert autocompletes("/account/sign-in") == {"sign-in-password": "current-password"}
    assert autocompletes("/account") == {
        "sign-in-password": "current-password",
        "password-current-password": "current-password",
        "password-new-password": "new-password",
        "close-password": "current-password",
    }
    assert autocompletes(f"/account/reset?token={LINK_TOKEN}") == {
        "reset-new-password": "new-password"
    }


def test_registration_states_the_password_rule_and_leaves_mailings_off(client: TestClient) -> None:
    html, page = _get(client, "/account/register")
    assert "Use 12 to 128 characters." in html
    opt_in = next(f for f in page.fields if f.get("name") == "mailing_opt_in")
    assert opt_in.get("type") == "checkbox" and "checked" not in opt_in
    assert (
        "Occasional mailings about new products and prices. We never share your address; "
        "you can stop them with one click."
    ) in html
    password = next(f for f in page.fields if f.get("name") == "password")
    assert (password.get("minlength"), password.get("maxlength")) == ("12", "128")
    phone = next(f for f in page.fields if f.get("name") == "phone")
    assert "required" not in phone


def test_the_address_form_offers_the_countries_the_address_book_accepts(
    client: TestClient,
) -> None:
    html, _ = _get(client, "/account")
    offered = set(re.findall(r'<option value="([A-Z]{2})">', html))
    assert offered == set(COUNTRIES)


@pytest.mark.parametrize("path", LINK_PAGES)
def test_a_mailed_links_token_is_not_put_into_the_page(client: TestClient, path: str) -> None:
    html, _ = _get(client, f"{path}?token={LINK_TOKEN}")
    assert LINK_TOKEN not in html
    assert LINK_TOKEN[:12] not in html
    hostile, _ = _get(client, f"{path}?token=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "alert(1)" not in hostile


def test_a_mailed_links_token_is_not_logged(
    client: TestClient, assembled: AssembledApp, settings: Settings
) -> None:
    for path in LINK_PAGES:
        _get(client, f"{path}?token={LINK_TOKEN}")
    assert assembled.access_log is not None
    log = settings.access_log_path.read_text()
    assert "/account/verify" in log
    assert LINK_TOKEN not in log and "token=" not in log


def test_the_shells_hold_no_personal_data_even_when_a_token_comes_along(
    client: TestClient, db: Session, account_settings: Settings
) -> None:
    account = make_customer(db, account_settings, name="Zebulon Quartermaine")
    token = token_for(db, account_settings, account)
    number = account.customer.customer_number
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    db.commit()
    for path in SHELLS:
        html, _ = _get(client, path, headers={"Authorization": f"Bearer {token}"})
        for secret in (token, number, grouped, account.email, "Zebulon"):
            assert secret not in html, (path, secret)


def test_the_modules_are_served_as_javascript_from_this_origin(client: TestClient) -> None:
    for url in ACCOUNT_MODULES:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert "set-cookie" not in response.headers


def _code(module: str) -> str:
    """A module's source without its comments (which may well name what the code avoids)."""
    source = MODULE_FILES[module].read_text()
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"(^|\s)//.*$", "", source, flags=re.MULTILINE)


@pytest.mark.parametrize("name", ACCOUNT_MODULES)
def test_the_modules_keep_the_token_in_session_storage_and_write_no_html(name: str) -> None:
    source = _code(name)
    assert "localStorage" not in source
    assert "document.cookie" not in source
    assert "innerHTML" not in source and "outerHTML" not in source
    assert "insertAdjacentHTML" not in source and "document.write" not in source
    assert "eval(" not in source and "new Function" not in source
    for imported in re.findall(r'^import .* from "([^"]+)";$', source, re.MULTILINE | re.DOTALL):
        url = urljoin(name, imported)  # as the browser resolves it, against the module's URL
        assert url.startswith("/static/") and url in MODULE_FILES.keys() | OTHER_IMPORTS, imported
    if name == "/static/js/api.js":
        assert "sessionStorage" in source and "Bearer" in source
    else:
        assert "sessionStorage" not in source  # only api.js touches the token


def test_the_api_module_never_puts_the_token_in_a_url() -> None:
    source = _code("/static/js/api.js")
    fetches = re.findall(r"fetch\(([^,]+),", source)
    assert fetches and all(arg.strip() == "path" for arg in fetches)
    assert "?token" not in source and "URLSearchParams" not in source


class Forms(HTMLParser):
    """Every form of a page: its method, action, and whether its fields start disabled."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []
        self._disabled_depth = 0
        self._depth = 0
        self._in_form = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.forms.append({**found, "fields": [], "enabled_fields": []})
            self._in_form = True
        if tag == "fieldset":
            self._depth += 1
            if "disabled" in found and not self._disabled_depth:
                self._disabled_depth = self._depth
        if tag in ("input", "button", "select", "textarea") and self._in_form:
            fields = self.forms[-1]["fields"]
            assert isinstance(fields, list)
            fields.append(found.get("name") or found.get("type"))
            if not self._disabled_depth:
                enabled = self.forms[-1]["enabled_fields"]
                assert isinstance(enabled, list)
                enabled.append(found.get("name") or tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if tag == "fieldset":
            if self._disabled_depth == self._depth:
                self._disabled_depth = 0
            self._depth -= 1


@pytest.mark.parametrize("path", SHELLS)
def test_no_account_form_can_send_by_get_or_before_its_script(
    client: TestClient, path: str
) -> None:
    """Defect 5: with scripts off, a form without a method sent the password in the URL.
    Now every form posts to a "needs JavaScript" answer, and its fields stay disabled
    until the script that sends them with the bearer header is in place."""
    html, _ = _get(client, path)
    # The header's product search is a GET form on purpose: it carries no secret.
    forms = [form for form in Forms(html).forms if form.get("role") != "search"]
    if path in ("/account/verify", "/account/confirm-email"):
        assert forms == []  # these pages only show what the link did
        return
    assert forms
    for form in forms:
        assert form["method"] == "post" and form["action"] == "/account/needs-javascript"
        assert form["fields"] and form["enabled_fields"] == [], form


def test_the_needs_javascript_answer_says_so_and_keeps_nothing(
    client: TestClient, settings: Settings
) -> None:
    response = client.post(
        "/account/needs-javascript",
        data={"email": "ann@example.org", "password": "correct horse battery staple"},
    )
    assert response.status_code == 200 and "needs JavaScript" in response.text
    assert response.headers["cache-control"] == "no-store"
    log = settings.access_log_path.read_text()
    assert "ann@example.org" not in log and "horse" not in log


def test_the_script_enables_each_form_only_after_its_handler_is_in_place() -> None:
    source = _code("/static/js/forms.js")
    handler = source.index('form.addEventListener("submit"')
    assert source.index("enable(form);", handler) > handler
