"""P5 in the access log: a private route's line carries the day's visitor hash where a
public one keeps the client's address, and once the day's salt is destroyed no line of a
customer's registration, sign-in and order can be matched to them by address."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, String, Text, create_engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from quietshop.analytics.background import destroy_salts
from quietshop.analytics.models import DailySalt
from quietshop.analytics.visitors import DailySalts, visitor_hash
from quietshop.app import AssembledApp, build_app, log_policy
from quietshop.db import make_session_factory
from quietshop.keyring import Keyring
from quietshop.models import metadata
from quietshop.orders.demo import seed_demo_rates
from quietshop.settings import Settings
from quietshop.web.access_log import LogPolicy
from quietshop.web.privacy import PrivacyMiddleware
from tests.accounts.factories import PASSWORD
from tests.catalog.factories import make_category, make_product
from tests.clock import T0, MovableClock
from tests.web.test_access_log import COMBINED

CUSTOMER_IP = "198.51.100.23"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
POLICY = log_policy()
ADDRESS = {
    "name": "Ann Example", "line1": "1 Main Street", "city": "Springfield",
    "region": "IL", "postcode": "62701", "country": "US",
}  # fmt: skip


def _lines(settings: Settings) -> list[dict[str, str]]:
    parsed = []
    for line in settings.access_log_path.read_text().splitlines():
        match = COMBINED.match(line)
        assert match is not None, line
        parsed.append(match.groupdict())
    return parsed


def _is_private(line: dict[str, str]) -> bool:
    return POLICY.private_prefix(line["target"].split("?")[0]) is not None


def _salt_rows(sessions: sessionmaker[Session]) -> dict[Any, bytes]:
    with sessions() as session:
        return {day: salt for day, salt in session.execute(select(DailySalt.day, DailySalt.salt))}


@pytest.fixture
def shop(
    settings: Settings, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[AssembledApp]:
    shop_settings = settings.model_copy(update={"payment_processor": "simulator"})
    Keyring.create(shop_settings.keyring_path, T0)
    app = build_app(shop_settings, sessions, clock=clock)
    yield app
    if app.access_log is not None:
        app.access_log.close()


@pytest.fixture
def customer(shop: AssembledApp) -> Iterator[TestClient]:
    """A browser at one address, as a customer's is."""
    with TestClient(
        shop, base_url="https://testserver", client=(CUSTOMER_IP, 50123), headers={"User-Agent": UA}
    ) as test_client:
        yield test_client


# ---------------------------------------------------------------- the line


def test_a_private_line_has_the_visitor_hash_and_a_public_one_the_address(
    customer: TestClient, shop: AssembledApp, sessions: sessionmaker[Session]
) -> None:
    assert customer.get("/privacy").status_code == 200
    assert customer.get("/api/v1/account").status_code == 401
    assert customer.get("/account").status_code == 200
    public, private, page = _lines(shop.state.settings)
    assert public["ip"] == CUSTOMER_IP and public["target"] == "/privacy"
    (salt,) = _salt_rows(sessions).values()
    assert private["ip"] == page["ip"] == visitor_hash(salt, CUSTOMER_IP, UA)
    assert CUSTOMER_IP not in private["ip"] and private["agent"] == UA


def _middleware_log(private_client: Any) -> tuple[TestClient, list[str]]:
    async def hello(_: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    lines: list[str] = []
    inner = Starlette(routes=[Route("/account", hello), Route("/", hello)])
    app = PrivacyMiddleware(
        inner,
        strict=True,
        write_log=lines.append,
        log_policy=LogPolicy(private_prefixes=("/account",)),
        clock=lambda: T0,
        private_client=private_client,
    )
    return TestClient(app, client=(CUSTOMER_IP, 50123)), lines


def test_without_a_salt_a_private_line_shows_a_dash_never_the_address() -> None:
    def unreachable() -> Any:
        raise sqlite3.OperationalError("unable to open database file")

    down = DailySalts(make_session_factory(create_engine("sqlite://", creator=unreachable)))
    client, lines = _middleware_log(down.visitor)
    client.get("/account")
    client.get("/")
    assert lines[0].startswith('- - - [25/Nov/2026:12:00:00 +0000] "GET /account HTTP/1.1" 200')
    assert lines[1].startswith(f"{CUSTOMER_IP} - - ")


@pytest.mark.parametrize(
    "private_client",
    [
        None,  # no hasher handed over
        lambda ip, ua, when: 1 / 0,  # a hasher that fails
        lambda ip, ua, when: ip,  # one that hands the address back
        lambda ip, ua, when: 'v-1 "GET / HTTP/1.1"',  # or would forge fields
    ],
)
def test_a_private_line_never_falls_back_to_the_address(private_client: Any) -> None:
    client, lines = _middleware_log(private_client)
    client.get("/account")
    assert lines[0].startswith("- - - [") and CUSTOMER_IP not in lines[0]


def test_the_hasher_gets_the_address_browser_and_the_lines_time() -> None:
    seen: list[tuple[str, str, datetime]] = []

    def hasher(ip: str, ua: str, when: datetime) -> str:
        seen.append((ip, ua, when))
        return "v-0123456789abcdef"

    client, lines = _middleware_log(hasher)
    client.get("/account", headers={"User-Agent": UA})
    client.get("/")
    assert seen == [(CUSTOMER_IP, UA, T0)]  # public lines are not hashed
    assert lines[0].startswith("v-0123456789abcdef - - [")


# ---------------------------------------------------------------- end to end


def _text_values(db: Session) -> Iterator[tuple[str, str]]:
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        for row in db.execute(select(*columns)).all() if columns else []:
            for column, value in zip(columns, row, strict=True):
                if value is not None:
                    yield f"{table.name}.{column.name}", str(value)


@dataclass(frozen=True)
class Journey:
    email: str
    token: str
    order_number: str
    customer_number: str


def look_register_sign_in_and_order(
    customer: TestClient, db: Session, clock: MovableClock
) -> Journey:
    """A customer at one address and browser looks around, registers, signs in and
    orders, each step a few minutes after the last, as a real one would."""
    category = make_category(db)
    sku = make_product(db, category, name="Braided Cable", price_cents=1299, stock=10)
    seed_demo_rates(db, "USD", T0)
    db.commit()
    email = "ann@example.org"
    assert customer.get("/privacy").status_code == 200
    registered = customer.post(
        "/api/v1/auth/register", json={"name": "Ann Example", "email": email, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text
    clock.advance(minutes=2)
    signed_in = customer.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    clock.advance(minutes=1)
    lines = [{"sku": sku, "quantity": 1}]
    quote = customer.post(
        "/api/v1/checkout/quote", json={"lines": lines, "shipping_country": "US"}
    ).json()
    order = {
        "lines": lines, "shipping_address": ADDRESS, "billing_same_as_shipping": True,
        "shipping_method": "standard", "expected_total": quote["total"],
        "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030,
                 "name": "ANN EXAMPLE", "security_code": "737"},
    }  # fmt: skip
    placed = customer.post(
        "/api/v1/orders", json=order, headers={**auth, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert placed.status_code == 201, placed.text
    assert customer.get("/api/v1/orders", headers=auth).status_code == 200
    account = customer.get("/api/v1/account", headers=auth)
    assert account.status_code == 200, account.text
    return Journey(email, token, placed.json()["order_number"], account.json()["customer_number"])


def test_a_customers_journey_cannot_be_matched_by_address_once_the_salt_is_gone(
    customer: TestClient,
    shop: AssembledApp,
    sessions: sessionmaker[Session],
    db: Session,
    clock: MovableClock,
) -> None:
    # Given a shop with something to sell, and a customer at one address and browser,
    # when they look around, register, sign in and order:
    look_register_sign_in_and_order(customer, db, clock)

    log = _lines(shop.state.settings)
    private = [line for line in log if _is_private(line)]
    targets = {line["target"] for line in private}
    assert {"/api/v1/auth/register", "/api/v1/auth/sign-in", "/api/v1/orders"} <= targets
    # Then no private line holds the address: each holds the one visitor hash of the day,
    assert all(line["ip"] != CUSTOMER_IP for line in private)
    (hashed,) = {line["ip"] for line in private}
    # and the public ones keep it, for the retention period.
    assert [line["ip"] for line in log if not _is_private(line)] == [CUSTOMER_IP]
    # No table holds the address beside the customer's record either.
    assert [where for where, value in _text_values(db) if CUSTOMER_IP in value] == []

    # While the day is open the shop could still test an address against the hash...
    (day_salt,) = _salt_rows(sessions).values()
    assert visitor_hash(day_salt, CUSTOMER_IP, UA) == hashed

    # ...but once the day has closed and its salt is destroyed, nothing can.
    clock.advance(days=1)
    assert destroy_salts(sessions, clock) == 1
    left = _salt_rows(sessions)
    assert T0.date() not in left and day_salt not in left.values()
    assert all(visitor_hash(salt, CUSTOMER_IP, UA) != hashed for salt in left.values())
    # Nor does a late line of that day bring a salt back for it.
    assert DailySalts(sessions).salt_for(T0) is None
    assert T0.date() not in _salt_rows(sessions)
    assert all(
        line["ip"] != CUSTOMER_IP for line in _lines(shop.state.settings) if _is_private(line)
    )
