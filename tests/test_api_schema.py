"""The API description says what the server does (issue 7, defect 14): a bounded
schemathesis run with every check on, as an anonymous visitor and as a signed-in customer,
on SQLite and PostgreSQL.

Each API operation is one test per database and visitor. The cases of one operation share
one app, one database transaction (rolled back afterwards) and, signed in, one customer.
The run is seeded, so the suite never flakes. To explore further, run the CLI against a
server with the same configuration (``CONFIG_TOML`` below); every check is on by default::

    .venv/bin/python -c "from tests.test_api_schema import CONFIG_TOML; print(CONFIG_TOML)" \\
        > /tmp/schemathesis.toml
    .venv/bin/schemathesis --config-file /tmp/schemathesis.toml run \\
        https://localhost:8443/api/openapi.json --tls-verify false --max-response-time 5

``--checks all`` on the command line overrides the per-operation settings, so it reports
sign-out's deliberate 204 (see below). Signed in (``-H "Authorization: Bearer ..."``), use
a customer of the run's own: its stateful phase signs in with the customer's address and
made-up passwords until the account locks, and sign-out ends the token mid-run unless
``--exclude-name`` leaves out the two sign-out operations.

Where a check conflicts with a deliberate rule, the configuration says so and why; nothing
else is switched off. The targeted tests at the end pin each repair schemathesis led to.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from argon2 import PasswordHasher, Type
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from quietshop.accounts import links, passwords
from quietshop.accounts.addresses import COUNTRIES
from quietshop.app import AssembledApp, build_app
from quietshop.settings import Settings
from tests.accounts.factories import PASSWORD
from tests.catalog.factories import small_catalog
from tests.clock import MovableClock

# The checks' expectations, where a deliberate rule of the shop is more than JSON Schema can
# state. `positive_data_acceptance` sends schema-valid data and expects it accepted; these
# operations refuse some of it on purpose, with 400 naming the field, so 400 is an expected
# answer there too. Every other check stays on for them, and every check for all others.
CONFIG_TOML = """
seed = 14

[auth]
# The CLI would otherwise register and sign in by itself; the anonymous run stays anonymous
# (the signed-in run passes -H "Authorization: Bearer ...").
auto-signup = false

[generation]
database = "none"

[checks.negative_data_rejection]
# A body over the size limit is refused 413 before a byte of it is read, whatever it holds
# (documented on every operation that takes a body): a rejection like any other.
expected-statuses = [
    "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx",
]

[[operations]]
# These operations refuse some schema-valid data on purpose, with 400 naming the field:
include-name = [
    # price_min must not be above price_max: a rule between two parameters.
    "GET /api/v1/products",
    # A one-time link's token is a secret only the mail carries: no generated token is
    # live, and a used, expired or forged link is refused (one answer for all).
    "POST /api/v1/auth/verify-email",
    "POST /api/v1/auth/email-change/confirm",
    "POST /api/v1/auth/password-reset/confirm",
    # The password policy refuses the 30,000 most common passwords and one equal to the
    # email or the name (P8); a name is printable text without line breaks (it goes into
    # mail headers). Neither is a JSON Schema rule.
    "POST /api/v1/auth/register",
    # Closing and changing the password confirm the current password, a secret.
    "POST /api/v1/account/close",
    "POST /api/v1/account/password",
    # The account's own address is refused ("this is already your address"): a rule about
    # what the shop holds. (Another account's address gets the usual 202; its owner is
    # told by mail.)
    "POST /api/v1/account/email",
    # Names and address lines are printable text, and a postcode has each country's own
    # shape (and some countries need a region): rules JSON Schema cannot state in full.
    "PATCH /api/v1/account",
    "POST /api/v1/account/addresses",
    "PUT /api/v1/account/addresses/{address_id}",
    # Checkout prices SKUs the catalog sells, to countries the shop ships to, with codes
    # the owner made; a card number must pass Luhn and its brand's length and prefix, and
    # expire in the future; a guest's name is printable text. A quantity or month written
    # 3.0 is refused: bodies are strict about JSON types (an integer is written 3).
    "POST /api/v1/checkout/quote",
    "POST /api/v1/orders",
    "POST /api/v1/orders/{number}/payment",
    "POST /api/v1/orders/{number}/return",
    "POST /api/v1/order-link/payment",
    "POST /api/v1/order-link/return",
    "POST /api/v1/information-requests",
    # A guest's claim link is a secret only the order mail carries, like the links above.
    "POST /api/v1/auth/claim-guest",
    # A staff enrolment link's token is a secret only the printed link carries, like the
    # links above; enrolment's second step also applies the staff password rule (letters
    # and digits) and a current TOTP code, neither a JSON Schema rule.
    "POST /api/v1/staff/enrolment",
    "POST /api/v1/staff/enrolment/complete",
    # Strict bodies refuse a challenge id sent as 775.0, and a passkey that does not verify
    # is refused as a bad request, whatever its shape.
    "POST /api/v1/staff/sign-in",
    "POST /api/v1/staff/passkeys",
    # A refund's amount_cents is a whole JSON number: 150.0 is refused, as bodies are
    # strict about JSON types (see checkout above).
    "POST /api/v1/staff/orders/{number}/refund",
    # The rate tables' cents, days and basis points are whole JSON numbers (5.0 is refused,
    # as above); a row must also be one a quote would take (a country the address book
    # knows, a region that exists, dates in order), rules of the tables, not of JSON Schema.
    "POST /api/v1/staff/rates/shipping",
    "PUT /api/v1/staff/rates/shipping/{rate_id}",
    "POST /api/v1/staff/rates/tax",
    "PUT /api/v1/staff/rates/tax/{rate_id}",
    "POST /api/v1/staff/rates/discounts",
    "PUT /api/v1/staff/rates/discounts/{code_id}",
    # The catalog's prices, stock, weights, warranty months and positions are whole JSON
    # numbers (219.0 is refused, as above), and a body is parsed before the staff token is
    # known to be live (only its presence is checked first).
    "POST /api/v1/staff/catalog/products",
    "PATCH /api/v1/staff/catalog/products/{sku}",
    "POST /api/v1/staff/catalog/variants",
    "PATCH /api/v1/staff/catalog/variants/{sku}",
    "PUT /api/v1/staff/catalog/stock/{sku}",
    "POST /api/v1/staff/catalog/categories",
    "PATCH /api/v1/staff/catalog/categories/{slug}",
]
checks.positive_data_acceptance.expected-statuses = [
    "2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx",
]

[[operations]]
# Signing out ends the sign-in a token belongs to; a token already ended (or never issued)
# has none left to end, so the answer is 204 all the same and the page can say "you are
# signed out" (static/js/api.js). Without a token it is 401, as everywhere:
# test_sign_out_needs_a_token_but_a_dead_one_is_already_signed_out below.
include-name = "POST /api/v1/auth/sign-out"
checks.ignored_auth.enabled = false
"""
CONFIG = schemathesis.Config.from_str(CONFIG_TOML)

# Operations that end the customer's sign-in: each of their cases signs in afresh.
SIGNING_OUT = {"POST /api/v1/auth/sign-out", "POST /api/v1/auth/sign-out-everywhere"}
CUSTOMER = {"name": "Ann Example", "email": "ann@example.org", "password": PASSWORD}
RUN = hypothesis.settings(
    max_examples=8,
    deadline=None,
    # The cases of one operation share the test's app and database on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class ShopUnderTest:
    """The ASGI app schemathesis calls, passing each request to the current test's shop.

    Schemathesis reads the description when this module is imported, before any fixture
    exists; the shop each test builds on its own database is plugged in here. Lifespan
    events stay here: each test's fixture closes what its shop opened."""

    def __init__(self) -> None:
        self.app: AssembledApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert self.app is not None, "no shop: the test must use the `shop` fixture"
        await self.app(scope, receive, send)


SHOP = ShopUnderTest()
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


def _public(document: dict[str, Any]) -> list[str]:
    """The operations that need no sign-in (they name no security scheme)."""
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if not operation.get("security")
    ]


def _load_schemas() -> tuple[Any, Any]:
    """The description as the server sends it (from a shop with nothing in it), once for
    each run. Signed in, the operations that need no sign-in skip the coverage phase: a
    token changes nothing there, and the anonymous run already covers them case by case."""
    with tempfile.TemporaryDirectory() as directory:
        SHOP.app = build_app(
            Settings(
                data_dir=Path(directory),
                secret_key=SecretStr("schema-only-key-0123456789-abcdefghij"),
                public_base_url="https://shop.test",
                access_log_enabled=False,
            ),
            page_cache=False,  # the description needs no database
        )
        try:
            anonymous = schemathesis.openapi.from_asgi("/api/openapi.json", SHOP, config=CONFIG)
            signed_in_config = tomllib.loads(CONFIG_TOML)
            signed_in_config["operations"].append(
                {
                    "include-name": _public(anonymous.raw_schema),
                    "phases": {"coverage": {"enabled": False}},
                }
            )
            signed_in = schemathesis.openapi.from_asgi(
                "/api/openapi.json", SHOP, config=schemathesis.Config.from_dict(signed_in_config)
            )
            return anonymous, signed_in
        finally:
            SHOP.app = None


schema, signed_in_schema = _load_schemas()


@pytest.fixture
def shop(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AssembledApp]:
    """A shop with a small catalog, whose per-address limit lets the run through: a 429
    (documented where it can come) would hide whatever the limited route does.

    Its password hashes are argon2id at the cheapest cost: the run asks what the API
    answers, not how long a hash takes, and registering or signing in is a good part of it."""
    monkeypatch.setattr(passwords, "_HASHER", CHEAP_HASHER)
    small_catalog(db)
    app = build_app(settings, sessions, clock=clock)
    app.state.limiter.limit = 10_000
    SHOP.app = app
    yield app
    SHOP.app = None
    if app.access_log is not None:
        app.access_log.close()


@pytest.fixture
def api(shop: AssembledApp) -> TestClient:
    return TestClient(shop, base_url="https://testserver")


def sign_in(api: TestClient) -> dict[str, str]:
    body = {"email": CUSTOMER["email"], "password": CUSTOMER["password"]}
    response = api.post("/api/v1/auth/sign-in", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def customer(api: TestClient) -> dict[str, str]:
    """A customer registered and signed in through the API: the bearer header."""
    response = api.post("/api/v1/auth/register", json=CUSTOMER)
    assert response.status_code == 202, response.text
    return sign_in(api)


@schema.parametrize()
@RUN
def test_as_an_anonymous_visitor(case: schemathesis.Case[Any], shop: AssembledApp) -> None:
    case.call_and_validate()


@signed_in_schema.parametrize()
@RUN
def test_as_a_signed_in_customer(
    case: schemathesis.Case[Any], api: TestClient, customer: dict[str, str]
) -> None:
    headers = sign_in(api) if case.operation.label in SIGNING_OUT else customer
    case.call_and_validate(headers=headers)


# ---------------------------------------------------------------- what the run led to


def _described(api: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = api.get("/api/openapi.json").json()
    return document


def _field(document: dict[str, Any], model: str, field: str) -> dict[str, Any]:
    described: dict[str, Any] = document["components"]["schemas"][model]["properties"][field]
    return described


def _body_model(document: dict[str, Any], method: str, path: str) -> str:
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
    ref: str = body["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def test_a_link_token_is_described_in_the_one_shape_the_server_takes(api: TestClient) -> None:
    """ST202: any token that is not the shape of a mailed link is refused as "incomplete"."""
    document = _described(api)
    for method, path in [
        ("post", "/api/v1/auth/verify-email"),
        ("post", "/api/v1/auth/email-change/confirm"),
        ("post", "/api/v1/auth/password-reset/confirm"),
    ]:
        described = _field(document, _body_model(document, method, path), "token")
        assert described["pattern"] == links.TOKEN_SHAPE.pattern, path
    pattern = links.TOKEN_SHAPE.pattern
    for token in ["A" * 43, "A" * 42, "A" * 44, "A" * 42 + "="]:
        response = api.post("/api/v1/auth/verify-email", json={"token": token})
        assert response.status_code == 400
        expected = links.INVALID if re.search(pattern, token) else links.INCOMPLETE
        assert response.json()["detail"] == [{"field": "token", "message": expected}]


def test_a_new_address_is_described_as_an_email_and_a_lookup_is_not(
    api: TestClient, customer: dict[str, str]
) -> None:
    """ST202: registering and changing the address check its shape; the reset request
    answers the same for any text, so its description promises no shape."""
    document = _described(api)
    assert _field(document, "RegisterIn", "email")["format"] == "email"
    new_address = _body_model(document, "post", "/api/v1/account/email")
    assert _field(document, new_address, "email")["format"] == "email"
    lookup = _body_model(document, "post", "/api/v1/auth/password-reset")
    assert "format" not in _field(document, lookup, "email")
    assert api.post("/api/v1/account/email", json={"email": "000"}, headers=customer).json() == {
        "error": "invalid_parameter",
        "detail": [{"field": "email", "message": "is not a valid email address"}],
    }
    assert api.post("/api/v1/auth/password-reset", json={"email": "000"}).status_code == 202
    moved = api.post("/api/v1/account/email", json={"email": " ann@example.net "}, headers=customer)
    assert moved.status_code == 202, moved.text


def test_every_schema_has_a_name_of_its_own(api: TestClient) -> None:
    """Two models of one name in two modules get module-path names in the description
    ("quietshop__staff__schemas__SignedInOut"): a client generator sees two shapes of one
    thing. Each model that the API shows has a name no other shares."""
    names = list(_described(api)["components"]["schemas"])
    assert [name for name in names if "__" in name] == []


def test_the_countries_we_ship_to_are_described(api: TestClient, customer: dict[str, str]) -> None:
    """ST202: a country outside the list is refused, so the description lists them."""
    assert _field(_described(api), "AddressIn", "country")["enum"] == sorted(COUNTRIES)
    address = {"kind": "shipping", "name": "Ann", "line1": "1 Main St", "city": "Dublin"}
    for country, status in [("IE", 201), ("ZZ", 400), ("00", 400)]:
        response = api.post(
            "/api/v1/account/addresses", json={**address, "country": country}, headers=customer
        )
        assert response.status_code == status, (country, response.text)


def test_the_described_phone_pattern_is_the_servers_rule(
    api: TestClient, customer: dict[str, str]
) -> None:
    """The description's phone pattern accepts exactly what the service does."""
    document = _described(api)
    pattern = _field(document, "RegisterIn", "phone")["pattern"]
    assert _field(document, "ProfileIn", "phone")["anyOf"][0]["pattern"] == pattern
    for phone in ["", " +1 (555) 010-0000 ", "030/1234.56", "555\t1234", "call me", "+1\n555"]:
        response = api.patch("/api/v1/account", json={"phone": phone}, headers=customer)
        assert (response.status_code == 200) == bool(re.search(pattern, phone)), phone


def test_the_price_bounds_say_how_they_relate(db: Session, api: TestClient) -> None:
    parameters = _described(api)["paths"]["/api/v1/products"]["get"]["parameters"]
    described = {p["name"]: p["description"] for p in parameters if p["name"].startswith("price")}
    assert "not above price_max" in described["price_min"]
    assert "not below price_min" in described["price_max"]
    refused = api.get("/api/v1/products", params={"price_min": 900, "price_max": 500})
    assert refused.status_code == 400 and refused.json()["detail"][0]["field"] == "price_min"


def test_sign_out_needs_a_token_but_a_dead_one_is_already_signed_out(
    api: TestClient, customer: dict[str, str]
) -> None:
    """Why the run does not ask sign-out to refuse a dead token (ignored_auth is off for it
    alone): there is no sign-in left to end, and the description says so."""
    sign_out = "/api/v1/auth/sign-out"
    described = _described(api)["paths"][sign_out]["post"]
    assert "204 all the same" in described["description"] and "401" in described["responses"]
    assert api.post(sign_out).status_code == 401
    assert api.post(sign_out, headers=customer).status_code == 204
    assert api.get("/api/v1/account", headers=customer).status_code == 401
    assert api.post(sign_out, headers=customer).status_code == 204
    assert api.post(sign_out, headers={"Authorization": "Bearer never-issued"}).status_code == 204


def test_the_run_counts_a_body_over_the_limit_as_refused(
    api: TestClient, customer: dict[str, str]
) -> None:
    """ST201 (the CLI, signed in): a schema-violating body over the size limit was answered
    413 unread, which schemathesis does not count as a refusal unless told."""
    operation = schema["/api/v1/account/addresses/{address_id}"]["PUT"]
    for phase in ("coverage", "fuzzing"):
        checks = schema.config.checks_config_for(operation=operation, phase=phase)
        assert "413" in checks.negative_data_rejection.expected_statuses
    response = api.put("/api/v1/account/addresses/1", json={"kind": "x" * 70_000}, headers=customer)
    assert response.status_code == 413 and response.json()["error"] == "payload_too_large"
    assert (
        "413"
        in _described(api)["paths"]["/api/v1/account/addresses/{address_id}"]["put"]["responses"]
    )


def test_the_run_keeps_the_limit_documented(api: TestClient, shop: AssembledApp) -> None:
    """The run raises the per-address limit so a 429 hides nothing; every route that counts
    against it still documents the 429 it can answer."""
    assert shop.state.limiter.limit == 10_000
    limited = [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/sign-in"),
        ("post", "/api/v1/auth/password-reset"),
        ("post", "/api/v1/auth/password-reset/confirm"),
        ("post", "/api/v1/account/password"),
        ("post", "/api/v1/account/email"),
        ("post", "/api/v1/account/verification-mail"),
        ("post", "/api/v1/account/close"),
    ]
    paths = _described(api)["paths"]
    for method, path in limited:
        assert "429" in paths[path][method]["responses"], path
