"""What the retention settings say must go, goes: questions after their days, answered
Idempotency-Keys after their lifetime, card numbers a while after capture."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp
from quietshop.errors import InvalidInput
from quietshop.orders import service
from quietshop.orders.background import forget_due
from quietshop.orders.models import IdempotencyKey, InformationRequest, Order
from quietshop.payments.models import PaymentCard
from quietshop.settings import Settings
from tests.clock import MovableClock
from tests.orders.conftest import Stock, order_body, quote_total


def _count(db: Session, model: type) -> int:
    db.expire_all()
    return int(db.execute(select(func.count()).select_from(model)).scalar_one())


def test_questions_and_keys_are_forgotten_when_due(
    api: TestClient, stock: Stock, db: Session, sessions: sessionmaker[Session],
    shop_settings: Settings, clock: MovableClock,
) -> None:  # fmt: skip
    asked = api.post(
        "/api/v1/information-requests",
        json={"kind": "quote", "product_sku": stock.cable, "name": "Ann",
              "email": "ann@example.org", "question": "A price for 500?", "quantity": 500},
    )  # fmt: skip
    assert asked.status_code == 202, asked.text
    assert f"{shop_settings.info_request_retention_days} days" in asked.json()["message"]
    lines = [{"sku": stock.cable, "quantity": 1}]
    placed = api.post(
        "/api/v1/orders", json=order_body(lines, quote_total(api, lines)),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert placed.status_code == 201
    assert (_count(db, InformationRequest), _count(db, IdempotencyKey)) == (1, 1)

    clock.advance(hours=shop_settings.idempotency_key_hours, seconds=1)
    counts = forget_due(sessions, shop_settings, clock)
    assert counts["idempotency_keys"] == 1 and counts["information_requests"] == 0
    assert _count(db, IdempotencyKey) == 0 and _count(db, InformationRequest) == 1

    clock.advance(days=shop_settings.info_request_retention_days)
    assert forget_due(sessions, shop_settings, clock)["information_requests"] == 1
    assert _count(db, InformationRequest) == 0


def test_a_card_kept_after_capture_is_purged_once_its_hours_pass(
    stock: Stock, db: Session, sessions: sessionmaker[Session], shop_settings: Settings,
    clock: MovableClock, shop: AssembledApp,
) -> None:  # fmt: skip
    keeping = shop_settings.model_copy(update={"card_purge_hours_after_capture": 48})
    with TestClient(shop, base_url="https://testserver") as api:
        lines = [{"sku": stock.cable, "quantity": 1}]
        number = api.post(
            "/api/v1/orders", json=order_body(lines, quote_total(api, lines)),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ).json()["order_number"]  # fmt: skip
    parts = shop.state.part(service.Collaborators)
    service.mark_packed(db, keeping, number, "fulfilment", clock())
    service.mark_shipped(db, keeping, parts, number, carrier="UPS", tracking_number="1Z",
                         actor="fulfilment", now=clock())  # fmt: skip
    db.commit()
    assert db.execute(select(PaymentCard.ciphertext)).scalar_one() is not None
    clock.advance(hours=47)
    assert forget_due(sessions, keeping, clock)["card_numbers"] == 0
    clock.advance(hours=1)
    assert forget_due(sessions, keeping, clock)["card_numbers"] == 1
    db.expire_all()
    row = db.execute(select(PaymentCard)).scalar_one()
    assert row.ciphertext is None and row.key_id is None and row.last4 == "4242"


def test_customer_service_reads_open_questions_and_marks_them_answered(
    db: Session, shop_settings: Settings, clock: MovableClock
) -> None:
    for question in ("Is it shielded?", "Does it bend?"):
        service.ask(
            db, shop_settings, kind="question", product_sku="T-1", name="Ann",
            email="ann@example.org", question=question, quantity=None, now=clock(),
        )  # fmt: skip
    first, second = service.open_questions(db, 10)
    assert (first.question, second.question) == ("Is it shielded?", "Does it bend?")
    service.mark_answered(db, first.id, clock())
    assert [q.question for q in service.open_questions(db, 10)] == ["Does it bend?"]
    for bad in ({"kind": "gossip"}, {"question": " "}, {"question": "x" * 5001},
                {"email": "not-an-address"}, {"name": "Ann\r\nBcc: all"}):  # fmt: skip
        fields = {"kind": "question", "product_sku": None, "name": "Ann",
                  "email": "ann@example.org", "question": "Fine?", "quantity": None}  # fmt: skip
        fields.update(bad)
        try:
            service.ask(db, shop_settings, now=clock(), **fields)  # type: ignore[arg-type]
        except InvalidInput:
            continue
        raise AssertionError(f"accepted {bad}")
    assert len(service.open_questions(db, 10)) == 1


def test_an_invoice_past_the_retention_period_names_nobody(
    api: TestClient, stock: Stock, db: Session, sessions: sessionmaker[Session],
    shop_settings: Settings, clock: MovableClock,
) -> None:  # fmt: skip
    lines = [{"sku": stock.cable, "quantity": 1}]
    placed = api.post(
        "/api/v1/orders", json=order_body(lines, quote_total(api, lines)),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )  # fmt: skip
    assert placed.status_code == 201
    clock.advance(days=shop_settings.order_retention_days - 1)
    assert forget_due(sessions, shop_settings, clock)["orders"] == 0
    clock.advance(days=2)
    assert forget_due(sessions, shop_settings, clock)["orders"] == 1
    db.expire_all()
    order = db.execute(select(Order)).scalar_one()
    assert (order.bill_name, order.ship_line1, order.email, order.customer_id) == ("", "", "", None)
    assert order.pseudonymised_at == clock() and order.total_cents > 0  # the sums stay
    assert forget_due(sessions, shop_settings, clock)["orders"] == 0  # once is enough
