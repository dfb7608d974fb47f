"""Orders test harness: a shop that ships (the demo's rate tables), takes SIMULATED card
payments, has a keyring in its data dir, and a few products in stock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp, build_app
from quietshop.keyring import Keyring
from quietshop.orders.demo import seed_demo_rates
from quietshop.settings import Settings
from tests.catalog.factories import make_category, make_product
from tests.clock import T0, MovableClock

APPROVED_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"
SECURITY_CODE = "737"


@pytest.fixture
def shop_settings(settings: Settings) -> Settings:
    shop = settings.model_copy(update={"payment_processor": "simulator"})
    Keyring.create(shop.keyring_path, T0) if not shop.keyring_path.exists() else None
    return shop


@dataclass(frozen=True)
class Stock:
    cable: str  # one variant, 10 in stock, 12.99
    adapter: str  # one variant, 3 in stock, 5.00
    hdmi: list[str]  # three lengths, 4 each, 10.00 / 11.00 / 12.00


@pytest.fixture
def stock(db: Session) -> Stock:
    category = make_category(db)
    cable = make_product(db, category, name="Braided Cable", price_cents=1299, stock=10)
    adapter = make_product(db, category, name="Tiny Adapter", price_cents=500, stock=3)
    hdmi = make_product(
        db, category, name="HDMI Cable", price_cents=1000, stock=4, lengths=("1m", "2m", "3m")
    )
    seed_demo_rates(db, "USD", T0)
    db.commit()
    return Stock(cable=cable, adapter=adapter, hdmi=[f"{hdmi}-{i}" for i in range(3)])


@pytest.fixture
def shop(
    shop_settings: Settings, sessions: sessionmaker[Session], clock: MovableClock, stock: Stock
) -> Iterator[AssembledApp]:
    app = build_app(shop_settings, sessions, clock=clock)
    yield app
    if app.access_log is not None:
        app.access_log.close()


@pytest.fixture
def api(shop: AssembledApp) -> Iterator[TestClient]:
    with TestClient(shop, base_url="https://testserver") as test_client:
        yield test_client


US_ADDRESS = {
    "name": "Ann Example",
    "line1": "1 Main Street",
    "city": "Springfield",
    "region": "IL",
    "postcode": "62701",
    "country": "US",
}
GUEST = {"name": "Gus Guest", "email": "gus@example.org"}


def card(number: str = APPROVED_CARD, **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "exp_month": 12,
        "exp_year": 2030,
        "name": "ANN EXAMPLE",
        "security_code": SECURITY_CODE,
        **changes,
    }


def order_body(lines: list[dict[str, Any]], total_cents: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lines": lines,
        "guest": GUEST,
        "shipping_address": US_ADDRESS,
        "billing_same_as_shipping": True,
        "shipping_method": "standard",
        "card": card(),
        "expected_total": {"cents": total_cents, "currency": "USD"},
    }
    body.update(changes)
    return body


def quote_total(client: TestClient, lines: list[dict[str, Any]], **changes: Any) -> int:
    body = {"lines": lines, "shipping_country": "US", "shipping_method": "standard", **changes}
    answer = client.post("/api/v1/checkout/quote", json=body)
    assert answer.status_code == 200, answer.text
    total: int = answer.json()["total"]["cents"]
    return total
