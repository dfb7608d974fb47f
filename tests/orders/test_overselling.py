"""No order oversells, whatever the concurrency (issue 8, item 5): 50 guests order the last
10 units at the same moment through two real server processes sharing one database, on
a SQLite file and on PostgreSQL. Exactly 10 orders are placed, the other 40 are told
"out_of_stock", nothing else is answered, and the database holds exactly what the 10
placed orders took and queued: stock 0, 10 orders, 10 payments, 10 cards, 10 mails.

The servers are started by tests/orders/live_shop.py (why a real shop and not the demo,
and why two processes on two ports, is written there). Requests alternate between the
two processes and are released together from a barrier, so the two processes' writes
meet on the same row; the test counts each process's answers to show both took part.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from quietshop.accounts.models import Customer
from quietshop.catalog.models import Product, ProductVariant
from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.mail.models import OutboxMessage
from quietshop.orders.demo import seed_demo_rates
from quietshop.orders.models import IdempotencyKey, Order, OrderLine
from quietshop.payments.models import Payment, PaymentCard
from quietshop.settings import Settings
from tests.catalog.factories import make_category, make_product
from tests.clock import T0
from tests.conftest import POSTGRES_URL, _postgres_engine
from tests.orders.conftest import US_ADDRESS, card
from tests.orders.live_shop import LiveShop, live_settings, postgres_schema_url, running_shop

UNITS = 10
BUYERS = 50
RECEIVED_SUBJECT = "We received your order"


@dataclass(frozen=True)
class SharedDatabase:
    engine: Engine  # the test's own connections, to seed and to count
    settings: Settings  # what every server process is started with


def _seed(engine: Engine) -> str:
    """One product with one variant of UNITS units, and the demo's shipping and tax."""
    with make_session_factory(engine)() as session:
        sku = make_product(
            session, make_category(session), name="Last Cable", price_cents=1299, stock=UNITS
        )
        seed_demo_rates(session, "USD", T0)
        session.commit()
    return sku


def _sqlite(data_dir: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{data_dir / 'quietshop.db'}")
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SharedDatabase]:
    """A migrated database that commits for real, and the settings pointing at it."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    engines = _sqlite(data_dir) if request.param == "sqlite" else _postgres_engine("_oversell")
    for engine in engines:
        if engine.dialect.name == "sqlite":
            url = str(engine.url)
        else:
            with engine.connect() as connection:
                schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            url = postgres_schema_url(POSTGRES_URL, schema)
        yield SharedDatabase(engine, live_settings(data_dir, url))


@dataclass(frozen=True)
class Answer:
    server: int
    status: int
    body: dict[str, Any]


def _order(index: int, sku: str, total_cents: int) -> dict[str, Any]:
    """Guest ``index`` orders one unit, expecting the total the shop quoted."""
    return {
        "lines": [{"sku": sku, "quantity": 1}],
        "guest": {"name": f"Guest {index}", "email": f"guest{index}@example.org"},
        "shipping_address": US_ADDRESS,
        "billing_same_as_shipping": True,
        "shipping_method": "standard",
        "card": card(),
        "expected_total": {"cents": total_cents, "currency": "USD"},
    }


def _quote(client: httpx2.Client, sku: str) -> int:
    answer = client.post(
        "/api/v1/checkout/quote",
        json={"lines": [{"sku": sku, "quantity": 1}], "shipping_country": "US"},
    )
    assert answer.status_code == 200, answer.text
    total: int = answer.json()["total"]["cents"]
    return total


def _race(shop: LiveShop, sku: str, total_cents: int) -> list[Answer]:
    """BUYERS orders at once, every other one to the other process."""
    clients = [shop.client(0), shop.client(1)]
    start = threading.Barrier(BUYERS)

    def place(index: int) -> Answer:
        server = index % 2
        body = _order(index, sku, total_cents)
        start.wait(timeout=30)
        answer = clients[server].post(
            "/api/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        is_json = answer.headers.get("content-type", "").startswith("application/json")
        return Answer(server, answer.status_code, answer.json() if is_json else {})

    try:
        with ThreadPoolExecutor(max_workers=BUYERS) as pool:
            return list(pool.map(place, range(BUYERS)))
    finally:
        for client in clients:
            client.close()


def _count(session: Session, model: Any) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_fifty_buyers_of_ten_units_on_two_processes_get_ten_orders(
    shared: SharedDatabase,
) -> None:
    sku = _seed(shared.engine)
    with running_shop(shared.settings, processes=2) as shop:
        with shop.client(0) as client:
            total = _quote(client, sku)
        answers = _race(shop, sku, total)
        logs = shop.log_text()

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: UNITS, 409: BUYERS - UNITS}, f"{statuses}\n{logs}"
    # Both processes took part in the race: each answered its half, with nothing else.
    assert Counter(a.server for a in answers) == {0: BUYERS // 2, 1: BUYERS // 2}
    refused = [a.body for a in answers if a.status == 409]
    assert {body["error"] for body in refused} == {"out_of_stock"}
    assert all(body["shortages"] == {sku: 0} for body in refused), refused
    placed = [a.body for a in answers if a.status == 201]
    assert {body["status"] for body in placed} == {"payment_verified"}
    assert {body["total"]["cents"] for body in placed} == {total}
    assert len({body["order_number"] for body in placed}) == UNITS
    if shared.engine.dialect.name == "postgresql":
        # The workers got the PostgreSQL URL: no process fell back to SQLite in data_dir.
        assert not (shared.settings.data_dir / "quietshop.db").exists()

    with make_session_factory(shared.engine)() as session:
        variant = session.execute(select(ProductVariant).where(ProductVariant.sku == sku))
        assert variant.scalar_one().stock == 0
        assert session.execute(select(Product.stock)).scalar_one() == 0
        assert _count(session, Order) == UNITS
        assert session.execute(select(func.sum(OrderLine.quantity))).scalar_one() == UNITS
        assert _count(session, Payment) == UNITS
        assert _count(session, PaymentCard) == UNITS
        mails = session.execute(select(OutboxMessage.subject, OutboxMessage.status)).all()
        assert len(mails) == UNITS
        assert all(s.startswith(RECEIVED_SUBJECT) and st == "queued" for s, st in mails), mails
        # A refused order changed nothing: only the 10 buyers became guest customers.
        assert _count(session, Customer) == UNITS
        # Every answer, 201 or 409, is kept under its key for a retry to replay.
        keys = session.execute(select(IdempotencyKey.status, IdempotencyKey.response_status))
        assert Counter(tuple(row) for row in keys) == {
            ("done", 201): UNITS,
            ("done", 409): BUYERS - UNITS,
        }
