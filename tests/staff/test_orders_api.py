"""The back office's order API (issue 9 items 2, 3, 7, 8): the queue and an order as each
role may see them (generated from the need-to-know table and compared with the real
JSON), the shop's moves by the roles that make them, refusals that change nothing and are
in the audit chain, the card reveal, the problem mails and their preview, the customer's
view of who looked, and bad filters.

Real orders (placed through the checkout API with the shop's manual card terminal, so a
payment waits for billing) and real staff (enrolled, signed in through the API).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import build_app
from quietshop.audit import service as audit
from quietshop.catalog.models import ProductVariant
from quietshop.keyring import Keyring
from quietshop.mail.models import OutboxMessage
from quietshop.models import metadata
from quietshop.orders import service as orders
from quietshop.orders.models import Order
from quietshop.payments.models import CardReveal
from quietshop.settings import Settings
from quietshop.staff import access, orders_api, policies
from quietshop.staff.need_to_know import ROLE_ACTIONS, Action, matrix
from quietshop.staff.roles import Role
from tests.clock import T0, MovableClock
from tests.orders.conftest import APPROVED_CARD, GUEST, Stock, order_body, quote_total, stock
from tests.staff.conftest import signed_in
from tests.staff.factories import Staff, audit_entries, make_staff

__all__ = ["stock"]  # the orders tests' shop: a few products in stock, the demo's rates

QUEUE = "/api/v1/staff/orders"
CARD_DIGITS = APPROVED_CARD.replace(" ", "")
ORDER_ROLES = (Role.BILLING, Role.CUSTOMER_SERVICE, Role.FULFILMENT)
NO_ORDER_ROLES = (Role.MARKETING, Role.ANALYST)
READABLE = {(role, name): readable for role, name, readable in matrix(metadata)}


def order_url(number: str, move: str = "") -> str:
    return f"{QUEUE}/{number}" + (f"/{move}" if move else "")


def reads(role: Role, table: str, columns: tuple[str, ...]) -> set[str]:
    """The columns of ``table`` among ``columns`` that the need-to-know matrix grants."""
    return {name for name in columns if READABLE[(role, f"{table}.{name}")]}


# ---------------------------------------------------------------- the shop and its staff


@dataclass(frozen=True)
class Clerk:
    staff: Staff
    headers: dict[str, str]


@pytest.fixture
def clerk(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring
) -> Callable[..., Clerk]:
    """A staff member of ``roles``, enrolled, signed in at T0, and (unless told otherwise)
    having acknowledged the current policies this quarter."""

    def make(*roles: Role, acknowledged: bool = True) -> Clerk:
        name = " ".join(role.value for role in roles)
        member = make_staff(
            db, settings, keyring, roles=frozenset(roles), name=f"Staff {name}",
            email=f"{'.'.join(r.value for r in roles)}.{uuid.uuid4().hex[:6]}@shop.example",
        )  # fmt: skip
        if acknowledged:
            for policy in policies.current_policies(db):
                policies.acknowledge(db, member.id, policy.id, T0 - timedelta(minutes=1))
        db.flush()
        return Clerk(member, signed_in(api, member, T0))

    return make


def place(api: TestClient, stock: Stock, *, email: str = GUEST["email"], quantity: int = 2) -> str:
    """A guest's order of cables, waiting for billing's terminal (the manual processor)."""
    lines = [{"sku": stock.cable, "quantity": quantity}]
    body = order_body(lines, quote_total(api, lines), guest={"name": GUEST["name"], "email": email})
    answer = api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "placed"
    number: str = answer.json()["order_number"]
    return number


@pytest.fixture
def number(api: TestClient, stock: Stock) -> str:
    return place(api, stock)


def order_row(db: Session, number: str) -> Order:
    db.expire_all()
    found = orders.parse_order_number(number)
    return db.execute(select(Order).where(Order.order_number == found)).scalar_one()


def mails_about(db: Session, number: str) -> list[str]:
    """Subjects of the messages queued about an order, oldest first."""
    db.expire_all()
    rows = db.execute(
        select(OutboxMessage.subject)
        .where(OutboxMessage.reference == orders.parse_order_number(number))
        .order_by(OutboxMessage.id)
    ).scalars()
    return list(rows)


def move(api: TestClient, who: Clerk, number: str, step: str, body: Any = None) -> Any:
    answer = api.post(order_url(number, step), headers=who.headers, json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


# ---------------------------------------------------------------- the role x field matrix


@pytest.mark.parametrize("role", ORDER_ROLES)
def test_each_queue_row_holds_exactly_the_columns_the_role_is_granted(
    api: TestClient, stock: Stock, clerk: Callable[..., Clerk], role: Role
) -> None:
    # Given an order in the queue
    place(api, stock)
    who = clerk(role)
    # When the role opens the queue
    answer = api.get(QUEUE, headers=who.headers)
    # Then each row has the granted columns and no other key, not even as null
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["orders"]
    expected = reads(role, "orders", orders.QUEUE_COLUMNS)
    if READABLE[(role, "order_lines.quantity")]:
        expected.add("items_count")
    assert set(row) == expected
    assert row.get("items_count", 2) == 2


def test_the_queue_gives_each_role_what_its_job_needs(
    api: TestClient, db: Session, stock: Stock, clerk: Callable[..., Clerk]
) -> None:
    # Given a guest's order, shipped to and billed at Ann's address
    total = order_row(db, place(api, stock)).total_cents
    rows = {
        role: api.get(QUEUE, headers=clerk(role).headers).json()["orders"][0]
        for role in ORDER_ROLES
    }
    # Then fulfilment sees the shipping name and items, billing the bill name and total,
    # customer service the customer
    assert (rows[Role.FULFILMENT]["ship_name"], rows[Role.FULFILMENT]["items_count"]) == (
        "Ann Example", 2,
    )  # fmt: skip
    assert "email" not in rows[Role.FULFILMENT] and "total_cents" not in rows[Role.FULFILMENT]
    assert rows[Role.BILLING]["bill_name"] == "Ann Example"
    assert (rows[Role.BILLING]["total_cents"], rows[Role.BILLING]["currency"]) == (total, "USD")
    assert "ship_name" not in rows[Role.BILLING]
    assert "email" not in rows[Role.BILLING]
    service_row = rows[Role.CUSTOMER_SERVICE]
    assert (service_row["customer_name"], service_row["email"]) == (GUEST["name"], GUEST["email"])


@pytest.mark.parametrize("role", ORDER_ROLES)
def test_each_part_of_an_order_holds_exactly_the_columns_the_role_is_granted(
    api: TestClient, clerk: Callable[..., Clerk], number: str, role: Role
) -> None:
    who = clerk(role)
    answer = api.get(order_url(number), headers=who.headers)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    order_keys = reads(role, "orders", orders.ORDER_COLUMNS)
    if READABLE[(role, "orders.status")]:
        order_keys.add("status_label")
    assert set(shown["order"]) == order_keys
    assert [set(line) for line in shown["lines"]] == [
        reads(role, "order_lines", orders.LINE_COLUMNS)
    ]
    # The history: the notes only for the roles that read what the customer was told.
    assert [set(event) for event in shown["events"]] == [
        reads(role, "order_events", orders.EVENT_COLUMNS)
    ]
    assert ("note" in shown["events"][0]) is READABLE[(role, "order_events.note")]
    # Payment and the masked card: billing's alone.
    assert ("payment" in shown) is READABLE[(role, "payments.status")]
    assert ("card" in shown) is READABLE[(role, "payment_cards.last4")]
    assert "4242" not in answer.text.replace(shown.get("card", {}).get("masked", ""), "")


def test_billing_sees_the_payment_waiting_and_the_masked_card(
    api: TestClient, clerk: Callable[..., Clerk], number: str
) -> None:
    shown = api.get(order_url(number), headers=clerk(Role.BILLING).headers).json()
    assert shown["payment"] == {"status": "pending_manual"}
    assert shown["card"] == {"masked": "Visa •••• 4242"}
    assert shown["actions"] == ["record_payment", "reveal_card", "flag_payment_problem", "cancel"]
    assert shown["order"]["status_label"] == "Placed"


@pytest.mark.parametrize(
    ("role", "actions"),
    [
        (Role.CUSTOMER_SERVICE, ["flag_availability_problem", "cancel"]),
        (Role.FULFILMENT, ["flag_availability_problem"]),
    ],
)
def test_the_detail_offers_only_the_moves_the_role_may_make_now(
    api: TestClient, clerk: Callable[..., Clerk], number: str, role: Role, actions: list[str]
) -> None:
    assert api.get(order_url(number), headers=clerk(role).headers).json()["actions"] == actions


# ---------------------------------------------------------------- roles without orders


def every_route(number: str) -> Iterator[tuple[str, str, Any]]:
    """Each staff order route with a body it would take."""
    bodies: dict[str, Any] = {
        "payment": {"result": "approved", "authorization_code": "A1"},
        "reveal-card": {"reason": "keying it into the terminal"},
        "ship": {"carrier": "DHL", "tracking_number": "JD0001"},
        "payment-problem": {"detail": "The card was refused."},
        "payment-problem/preview": {"detail": "The card was refused."},
        "availability-problem": {"detail": "The cable comes next week."},
        "availability-problem/preview": {"detail": "The cable comes next week."},
        "cancel": {"reason": ""},
        "refund": {},
    }
    for (method, path), _ in orders_api.STAFF_ROUTE_ACTIONS.items():
        url = path.replace("{number}", number)
        step = path.removeprefix(QUEUE + "/{number}").removeprefix("/")
        yield method, url, bodies.get(step) if method == "POST" else None


@pytest.mark.parametrize("role", NO_ORDER_ROLES)
def test_marketing_and_analyst_are_refused_every_order_route_and_see_no_one(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str, role: Role
) -> None:
    who = clerk(role)
    before = order_row(db, number).status
    routes = list(every_route(number))
    for method, url, body in routes:
        answer = api.request(method, url, headers=who.headers, json=body)
        # Then every one is 403, and no name, email or card digit is in any answer
        assert (answer.status_code, answer.json()["error"]) == (403, "forbidden"), url
        for secret in (GUEST["email"], GUEST["name"], "Ann Example", "ANN EXAMPLE", "4242"):
            assert secret.lower() not in answer.text.lower(), (url, secret)
    # And each attempt is in the chain; nothing moved
    denied = audit_entries(db, staff_id=who.staff.id, action="denied")
    assert len(denied) == len(routes) == 14
    assert all(f"holds {role.value}" in entry.reason for entry in denied)
    assert order_row(db, number).status == before == "placed"
    assert audit_entries(db, staff_id=who.staff.id, action="read") == []


def test_a_forbidden_role_cannot_tell_a_real_order_number_from_a_made_up_one(
    api: TestClient, clerk: Callable[..., Clerk], number: str
) -> None:
    who = clerk(Role.MARKETING)
    real = api.get(order_url(number), headers=who.headers)
    missing = api.get(order_url("QS-0000-00000"), headers=who.headers)
    assert (real.status_code, real.json()) == (missing.status_code, missing.json())


# ---------------------------------------------------------------- moves by the right role


def test_an_order_goes_from_the_terminal_to_a_refund_each_move_by_its_role(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    billing, fulfilment = clerk(Role.BILLING), clerk(Role.FULFILMENT)
    # Billing records the terminal's answer
    paid = move(api, billing, number, "payment",
                {"result": "approved", "authorization_code": "AUTH-7781"})  # fmt: skip
    assert paid["order"]["status"] == "payment_verified"
    assert paid["payment"] == {"status": "authorized"}
    # Fulfilment packs, ships and confirms delivery
    assert move(api, fulfilment, number, "pack")["order"]["status"] == "packed"
    shipped = move(api, fulfilment, number, "ship", {"carrier": "DHL", "tracking_number": "JD014"})
    assert shipped["order"]["status"] == "shipped"
    assert (shipped["order"]["carrier"], shipped["order"]["tracking_number"]) == ("DHL", "JD014")
    assert move(api, fulfilment, number, "deliver")["actions"] == []
    # Billing refunds part, then the rest
    total = order_row(db, number).total_cents
    part = move(api, billing, number, "refund", {"amount_cents": 500, "reason": "A scratch."})
    assert (part["order"]["status"], part["order"]["refunded_cents"]) == ("partially_refunded", 500)
    rest = move(api, billing, number, "refund", {"reason": "Sent back."})
    assert (rest["order"]["status"], rest["order"]["refunded_cents"]) == ("refunded", total)
    # Every move names the staff member by id in the history, and is a change entry
    row = order_row(db, number)
    actors = [(event.to_status, event.actor) for event in row.events]
    b, f = f"staff:{billing.staff.id}", f"staff:{fulfilment.staff.id}"
    assert actors == [
        ("placed", "customer"), ("payment_verified", b), ("packed", f), ("shipped", f),
        ("delivered", f), ("partially_refunded", b), ("refunded", b),
    ]  # fmt: skip
    changes = audit_entries(db, action="change", subject=f"order:{row.id}")
    assert [(entry.role, entry.reason) for entry in changes] == [
        ("billing", "payment recorded: approved"),
        ("fulfilment", "packed"),
        ("fulfilment", "shipped with DHL"),
        ("fulfilment", "delivered"),
        ("billing", "refunded 500 cents: A scratch."),
        ("billing", f"refunded {total - 500} cents: Sent back."),
    ]
    assert {entry.customer_id for entry in changes} == {row.customer_id}
    assert [s.split()[1] for s in mails_about(db, number)] == [
        "received", "confirmed", "order", "order", "refund", "refund",
    ]  # fmt: skip


def test_a_declined_terminal_answer_tells_the_customer_and_a_cancel_gives_the_stock_back(
    api: TestClient, db: Session, stock: Stock, clerk: Callable[..., Clerk], number: str
) -> None:
    billing, service = clerk(Role.BILLING), clerk(Role.CUSTOMER_SERVICE)
    declined = move(api, billing, number, "payment", {"result": "declined", "reason": "Expired."})
    assert declined["order"]["status"] == "payment_problem"
    assert declined["events"][-1]["note"] == "The payment did not go through: Expired."
    cancelled = move(api, service, number, "cancel", {"reason": "The customer rang to cancel."})
    assert cancelled["order"]["status"] == "cancelled"
    db.expire_all()
    stock_left = db.execute(select(ProductVariant.stock).where(ProductVariant.sku == stock.cable))
    assert stock_left.scalar_one() == 10
    assert mails_about(db, number)[-2:] == [
        f"Payment problem with your order {number}",
        f"Your order {number} was cancelled",
    ]


def test_a_return_is_received_by_fulfilment(
    api: TestClient, db: Session, settings: Settings, clerk: Callable[..., Clerk], number: str
) -> None:
    billing, fulfilment = clerk(Role.BILLING), clerk(Role.FULFILMENT)
    move(api, billing, number, "payment", {"result": "approved", "authorization_code": "A1"})
    for step, body in (("pack", None), ("ship", {"carrier": "UPS", "tracking_number": "1Z9"}),
                       ("deliver", None)):  # fmt: skip
        move(api, fulfilment, number, step, body)
    # The guest asks for a return through the link in their mail
    token = orders.order_link_token(settings, orders.parse_order_number(number) or "", T0)
    sku = order_row(db, number).lines[0].sku
    asked = api.post("/api/v1/order-link/return",
                     json={"token": token, "lines": {sku: 1}, "reason": "Too short."})  # fmt: skip
    assert asked.status_code == 200, asked.text
    received = move(api, fulfilment, number, "receive-return")
    assert received["order"]["status"] == "return_received"
    assert received["returns"][0]["status"] == "received"
    assert received["returns"][0]["reason"] == "Too short."  # read where the parcel is opened


WRONG_ROLE_MOVES = [
    (Role.FULFILMENT, "payment", {"result": "approved", "authorization_code": "A1"}),
    (Role.CUSTOMER_SERVICE, "reveal-card", {"reason": "keying it into the terminal"}),
    (Role.CUSTOMER_SERVICE, "pack", None),
    (Role.BILLING, "ship", {"carrier": "DHL", "tracking_number": "JD1"}),
    (Role.BILLING, "deliver", None),
    (Role.FULFILMENT, "payment-problem", {"detail": "Refused."}),
    (Role.BILLING, "availability-problem", {"detail": "Next week."}),
    (Role.BILLING, "availability-problem/preview", {"detail": "Next week."}),
    (Role.FULFILMENT, "cancel", {"reason": ""}),
    (Role.CUSTOMER_SERVICE, "refund", {}),
    (Role.BILLING, "receive-return", None),
]


@pytest.mark.parametrize(("role", "step", "body"), WRONG_ROLE_MOVES)
def test_a_move_by_a_role_without_it_is_refused_recorded_and_changes_nothing(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str,
    role: Role, step: str, body: Any,
) -> None:  # fmt: skip
    who = clerk(role)
    action = orders_api.STAFF_ROUTE_ACTIONS[("POST", f"{QUEUE}/{{number}}/{step}")]
    assert action not in ROLE_ACTIONS[role]
    mails = mails_about(db, number)
    answer = api.post(order_url(number, step), headers=who.headers, json=body)
    assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")
    assert action.value in answer.json()["detail"]
    [denied] = audit_entries(db, staff_id=who.staff.id, action="denied")
    assert denied.reason.startswith(f"POST {QUEUE}/{{number}}/{step} ({action.value}): ")
    row = order_row(db, number)
    assert (row.status, len(row.events), mails_about(db, number)) == ("placed", 1, mails)
    assert audit_entries(db, staff_id=who.staff.id, action="change") == []
    assert db.execute(select(func.count()).select_from(CardReveal)).scalar_one() == 0


def test_a_move_off_the_graph_is_a_conflict_and_writes_no_entry(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    who = clerk(Role.FULFILMENT)
    answer = api.post(order_url(number, "pack"), headers=who.headers)
    assert (answer.status_code, answer.json()["error"]) == (409, "status_conflict")
    assert audit_entries(db, staff_id=who.staff.id, action="change") == []
    assert order_row(db, number).status == "placed"


# ---------------------------------------------------------------- the card reveal


def test_billing_reveals_a_waiting_card_once_with_a_reason_in_the_chain(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    billing = clerk(Role.BILLING)
    reason = "Keying it into the shop's terminal"
    answer = api.post(order_url(number, "reveal-card"), headers=billing.headers,
                      json={"reason": reason})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"card_number": CARD_DIGITS}
    assert answer.headers["cache-control"] == "no-store"
    row = order_row(db, number)
    [entry] = audit_entries(db, action="card_reveal")
    assert (entry.staff_id, entry.role, entry.subject, entry.customer_id, entry.reason) == (
        billing.staff.id, "billing", f"order:{row.id}", row.customer_id, reason,
    )  # fmt: skip
    assert (entry.data_kinds, entry.fields) == (("payment",), ("payment_cards.ciphertext",))
    kept = db.execute(select(CardReveal.actor, CardReveal.reason)).one()
    assert tuple(kept) == (f"staff:{billing.staff.id}", reason)
    # The customer sees that billing revealed the card, and why
    shown = audit.accesses_for_customer(db, row.customer_id or 0)
    assert [(a.action, a.role, a.data_kinds, a.reason) for a in shown if a.action != "read"] == [
        ("card_reveal", "billing", ("payment",), reason)
    ]


@pytest.mark.parametrize("reason", ["", "too short", " " * 40])
def test_a_reveal_without_a_real_reason_is_refused_and_reveals_nothing(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str, reason: str
) -> None:
    answer = api.post(order_url(number, "reveal-card"), headers=clerk(Role.BILLING).headers,
                      json={"reason": reason})  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["field"] == "reason"
    assert CARD_DIGITS not in answer.text
    assert audit_entries(db, action="card_reveal") == []


def test_no_card_is_revealed_once_the_payment_is_in(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    billing = clerk(Role.BILLING)
    move(api, billing, number, "payment", {"result": "approved", "authorization_code": "A1"})
    answer = api.post(order_url(number, "reveal-card"), headers=billing.headers,
                      json={"reason": "keying it in again"})  # fmt: skip
    assert (answer.status_code, answer.json()["error"]) == (409, "status_conflict")
    assert CARD_DIGITS not in answer.text
    assert audit_entries(db, action="card_reveal") == []
    assert db.execute(select(func.count()).select_from(CardReveal)).scalar_one() == 0


# ---------------------------------------------------------------- problem mails


def test_an_availability_problem_mails_the_customer_and_its_preview_mails_nobody(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    service = clerk(Role.CUSTOMER_SERVICE)
    detail = "The braided cable comes back in stock next Tuesday."
    queued = mails_about(db, number)
    # The preview: the mail as it would go, and nothing queued
    preview = move(api, service, number, "availability-problem/preview", {"detail": detail})
    assert preview["subject"] == (f"An item in your order {number} is not available yet")
    assert preview["text"].startswith(f"Hello {GUEST['name']},")
    assert detail in preview["text"] and detail in preview["html"]
    assert orders.PREVIEW_LINK in preview["text"] and "Braided Cable" in preview["text"]
    assert preview["withheld"] == []  # customer service reads all this mail prints
    assert mails_about(db, number) == queued
    assert order_row(db, number).status == "placed"
    # The move: the customer is mailed with the detail
    flagged = move(api, service, number, "availability-problem", {"detail": detail})
    assert flagged["order"]["status"] == "availability_problem"
    assert mails_about(db, number) == [*queued, preview["subject"]]
    db.expire_all()
    body = db.execute(
        select(OutboxMessage.text_body).where(OutboxMessage.subject == preview["subject"])
    ).scalar_one()
    assert detail in body and body.startswith(f"Hello {GUEST['name']},")


def test_fulfilment_previews_the_mail_without_the_customer_s_name_or_the_prices(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    fulfilment = clerk(Role.FULFILMENT)
    preview = move(api, fulfilment, number, "availability-problem/preview",
                   {"detail": "Back next week."})  # fmt: skip
    assert preview["text"].startswith("Hello customer,")
    for hidden in (GUEST["name"], "12.99", "$", order_row(db, number).customer_number or "-"):
        assert hidden not in preview["text"] and hidden not in preview["html"], hidden
    assert "2 \u00d7 Braided Cable" in preview["text"]  # the items are fulfilment's to read
    assert {"name", "customer_number", "total", "lines.unit_price", "lines.line_total"} <= set(
        preview["withheld"]
    )
    # It read no personal data, so it is no read entry
    assert audit_entries(db, staff_id=fulfilment.staff.id, action="read") == []


def test_billing_flags_a_payment_problem_and_the_customer_is_mailed(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    billing = clerk(Role.BILLING)
    preview = move(api, billing, number, "payment-problem/preview",
                   {"detail": "The bank asked us to call you."})  # fmt: skip
    assert "Card: Visa •••• 4242" in preview["text"] and CARD_DIGITS not in preview["text"]
    assert preview["text"].startswith("Hello customer,")  # billing reads no contact data
    flagged = move(api, billing, number, "payment-problem",
                   {"detail": "The bank asked us to call you."})  # fmt: skip
    assert flagged["order"]["status"] == "payment_problem"
    assert mails_about(db, number)[-1] == preview["subject"]


# ---------------------------------------------------------------- customers see who looked


def test_every_read_is_in_the_chain_and_the_customer_sees_role_and_kinds(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    fulfilment, service = clerk(Role.FULFILMENT), clerk(Role.CUSTOMER_SERVICE)
    api.get(QUEUE, headers=fulfilment.headers)
    api.get(order_url(number), headers=service.headers)
    row = order_row(db, number)
    queue_read, detail_read = audit_entries(db, action="read", customer_id=row.customer_id)
    assert (queue_read.staff_id, queue_read.role, queue_read.subject) == (
        fulfilment.staff.id, "fulfilment", f"order:{row.id}",
    )  # fmt: skip
    assert queue_read.fields == ("orders.ship_city", "orders.ship_country", "orders.ship_name")
    assert (queue_read.data_kinds, queue_read.reason) == (("address",), "the order queue")
    assert queue_read.origin == "testclient"
    assert detail_read.role == "customer_service"
    assert {"orders.email", "orders.customer_name", "order_events.note"} <= set(detail_read.fields)
    assert detail_read.data_kinds == ("activity", "address", "contact")
    seen = audit.accesses_for_customer(db, row.customer_id or 0)
    assert [(a.action, a.role, a.data_kinds, a.reason) for a in seen] == [
        ("read", "customer_service", ("activity", "address", "contact"), "the order's page"),
        ("read", "fulfilment", ("address",), "the order queue"),
    ]


def test_a_queue_page_is_one_entry_per_customer_each_finding_their_own(
    api: TestClient, db: Session, stock: Stock, clerk: Callable[..., Clerk]
) -> None:
    first = place(api, stock, email="una@example.org", quantity=1)
    second = place(api, stock, email="una@example.org", quantity=1)
    other = place(api, stock, email="otto@example.org", quantity=1)
    assert api.get(QUEUE, headers=clerk(Role.BILLING).headers).status_code == 200
    una, otto = order_row(db, first), order_row(db, other)
    reads_of = {e.customer_id: e for e in audit_entries(db, action="read")}
    assert set(reads_of) == {una.customer_id, otto.customer_id}
    assert reads_of[otto.customer_id].subject == f"order:{otto.id}"
    ids = sorted((una.id, order_row(db, second).id), reverse=True)
    assert reads_of[una.customer_id].subject == f"orders:{ids[0]},{ids[1]}"
    assert reads_of[una.customer_id].fields == ("orders.bill_name",)
    for customer in (una, otto):
        [seen] = audit.accesses_for_customer(db, customer.customer_id or 0)
        assert (seen.role, seen.data_kinds) == ("billing", ("address",))


# ---------------------------------------------------------------- policies


def test_a_staff_member_with_policies_pending_opens_no_order(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    # Given customer service who has not acknowledged this quarter's privacy policy
    who = clerk(Role.CUSTOMER_SERVICE, acknowledged=False)
    expected = []
    for (method, path), action in orders_api.STAFF_ROUTE_ACTIONS.items():
        # A move that is not the role's is refused as such first; every other is pending
        granted = action in ROLE_ACTIONS[Role.CUSTOMER_SERVICE]
        expected.append((method, path, "policies_pending" if granted else "forbidden"))
    answers = []
    for (method, url, body), (_, path, _) in zip(every_route(number), expected, strict=True):
        answer = api.request(method, url, headers=who.headers, json=body)
        answers.append((method, path, answer.json()["error"]))
        assert answer.status_code == 403 and GUEST["email"] not in answer.text, url
        if answer.json()["error"] == "policies_pending":
            assert [p["kind"] for p in answer.json()["pending"]] == ["privacy"]
    assert answers == expected
    # Billing's and fulfilment's moves: the terminal, the reveal, pack, ship, deliver, the
    # payment problem and its preview, the refund
    assert [error for *_, error in expected].count("forbidden") == 8
    # Then each refusal is in the chain, nothing was read and nothing moved
    denied = audit_entries(db, staff_id=who.staff.id, action="denied")
    assert len(denied) == len(expected)
    pending = [e for e in denied if e.reason.endswith("policies not acknowledged (privacy v1)")]
    assert len(pending) == len(expected) - 8 == 6
    assert audit_entries(db, staff_id=who.staff.id, action="read") == []
    assert order_row(db, number).status == "placed"


# ---------------------------------------------------------------- the queue's filters


def test_the_queue_filters_by_status_and_age_and_pages_by_cursor(
    api: TestClient, db: Session, stock: Stock, clerk: Callable[..., Clerk], clock: MovableClock
) -> None:
    # Given orders placed three days, two days and one hour ago; the oldest gets paid
    numbers = []
    for hours in (72, 48, 1):
        clock.now = T0 - timedelta(hours=hours)
        numbers.append(place(api, stock, email=f"age{hours}@example.org", quantity=1))
    clock.now = T0
    billing = clerk(Role.BILLING)
    move(api, billing, numbers[0], "payment", {"result": "approved", "authorization_code": "A"})

    def shown(query: str) -> list[str]:
        answer = api.get(f"{QUEUE}?{query}", headers=billing.headers)
        assert answer.status_code == 200, answer.text
        return [row["order_number"] for row in answer.json()["orders"]]

    assert shown("") == numbers[::-1]
    assert shown("sort=placed_at") == numbers
    assert shown("status=placed") == [numbers[2], numbers[1]]
    assert shown("status=placed,payment_verified&sort=placed_at") == numbers
    assert shown("status=payment_verified&status=packed") == [numbers[0]]
    assert shown("older_than_hours=24") == [numbers[1], numbers[0]]
    assert shown("newer_than_hours=50") == [numbers[2], numbers[1]]
    assert shown("older_than_hours=2&newer_than_hours=60") == [numbers[1]]
    # Pages of one, by cursor, newest first and oldest first
    for sort, expected in (("-placed_at", numbers[::-1]), ("placed_at", numbers)):
        seen, cursor = [], ""
        for _ in range(4):
            answer = api.get(f"{QUEUE}?limit=1&sort={sort}{cursor}", headers=billing.headers)
            page = answer.json()
            seen += [row["order_number"] for row in page["orders"]]
            if page["next_cursor"] is None:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert seen == expected
    statuses = api.get(QUEUE, headers=billing.headers).json()["statuses"]
    assert [s["code"] for s in statuses] == list(orders.status_labels())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=shipped,lost", "status"),
        ("status=" + "placed," * 80, "status"),
        ("limit=101", "limit"),
        ("limit=1000000000000", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("older_than_hours=-1", "older_than_hours"),
        ("newer_than_hours=1.5", "newer_than_hours"),
        ("older_than_hours=99999999", "older_than_hours"),
        ("sort=total", "sort"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=MTIzNA", "cursor"),  # "1234": no id
        ("cursor=" + "A" * 41, "cursor"),
        ("cursor=%E2%80%AE", "cursor"),
        # A well-formed cursor whose order id is past any Integer key (PostgreSQL's INTEGER
        # would refuse the bound value with an error instead of finding nothing).
        ("cursor=MTcwMDAwMDAwMDAwMDAwMC4yMTQ3NDgzNjQ4", "cursor"),
        ("limit=5&limit=6", "limit"),
        ("order_by=email", "order_by"),
    ],
)
def test_a_malformed_filter_is_a_422_naming_it_and_reads_nothing(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str, query: str, field: str
) -> None:
    who = clerk(Role.CUSTOMER_SERVICE)
    answer = api.get(f"{QUEUE}?{query}", headers=who.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_filter"
    assert answer.json()["detail"][0]["field"] == field
    assert GUEST["email"] not in answer.text
    assert audit_entries(db, staff_id=who.staff.id, action="read") == []


@pytest.mark.parametrize("typed", ["QS-0000-00000", "QS-1234-56789", "not-an-order", "x" * 40])
def test_an_unknown_order_number_is_not_found(
    api: TestClient, clerk: Callable[..., Clerk], number: str, typed: str
) -> None:
    answer = api.get(order_url(typed), headers=clerk(Role.BILLING).headers)
    assert (answer.status_code, answer.json()["error"]) == (404, "not_found")


def test_a_10000_character_tracking_number_is_refused_and_nothing_ships(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    billing, fulfilment = clerk(Role.BILLING), clerk(Role.FULFILMENT)
    move(api, billing, number, "payment", {"result": "approved", "authorization_code": "A1"})
    move(api, fulfilment, number, "pack")
    for body in ({"carrier": "DHL", "tracking_number": "9" * 10_000},
                 {"carrier": "DHL", "tracking_number": ""},
                 {"carrier": "DHL", "tracking_number": "see https://evil.example/"},
                 {"carrier": "DHL", "tracking_number": 12345},
                 {"carrier": "DHL", "tracking_number": "JD1", "note": "extra"}):  # fmt: skip
        answer = api.post(order_url(number, "ship"), headers=fulfilment.headers, json=body)
        assert answer.status_code == 400, body
        assert answer.json()["detail"][0]["field"] in ("tracking_number", "note")
    row = order_row(db, number)
    assert (row.status, row.tracking_number) == ("packed", None)
    assert [e.reason for e in audit_entries(db, staff_id=fulfilment.staff.id, action="change")] == [
        "packed"
    ]


def test_a_terminal_answer_needs_its_code_or_reason(
    api: TestClient, db: Session, clerk: Callable[..., Clerk], number: str
) -> None:
    billing = clerk(Role.BILLING)
    for body, field in (({"result": "approved"}, "authorization_code"),
                        ({"result": "declined"}, "reason"),
                        ({"result": "maybe", "reason": "x"}, "result"),
                        ({"result": "approved", "authorization_code": "A" * 41},
                         "authorization_code")):  # fmt: skip
        answer = api.post(order_url(number, "payment"), headers=billing.headers, json=body)
        assert answer.status_code == 400, body
        assert answer.json()["detail"][0]["field"] == field
    assert order_row(db, number).status == "placed"


# ---------------------------------------------------------------- route coverage

# The staff routes about the session and the staff member's own sign-in, not the shop's
# data: they go through staff_session and need no Action (issue 9 items 1, 5, 6). Any
# other staff route declares the Action it checks (``x-staff-action``).
SESSION_ROUTES = frozenset(
    {
        ("POST", "/api/v1/staff/sign-in/passkey-options"),
        ("POST", "/api/v1/staff/passkeys/options"),
        ("POST", "/api/v1/staff/passkeys"),
        ("GET", "/api/v1/staff/passkeys"),
        ("DELETE", "/api/v1/staff/passkeys/{passkey_id:int}"),
        ("POST", "/api/v1/staff/sign-in"),
        ("POST", "/api/v1/staff/sign-out"),
        ("GET", "/api/v1/staff/me"),
        ("POST", "/api/v1/staff/lock"),
        ("POST", "/api/v1/staff/unlock"),
        ("POST", "/api/v1/staff/enrolment"),
        ("POST", "/api/v1/staff/enrolment/complete"),
        ("GET", "/api/v1/staff/policies"),
        ("POST", "/api/v1/staff/policies"),
        ("GET", "/api/v1/staff/policies/pending"),
        ("GET", "/api/v1/staff/policies/compliance"),
        ("POST", "/api/v1/staff/policies/{policy_id}/acknowledge"),
    }
)


def staff_routes(app: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/v1/staff/") or path == "/api/v1/staff":
            for method in sorted(getattr(route, "methods", None) or ()):
                yield method, path, getattr(route, "openapi_extra", None) or {}


def unaccounted(routes: Iterator[tuple[str, str, dict[str, Any]]]) -> list[str]:
    problems = []
    for method, path, extra in routes:
        declared = extra.get(access.ACTION_KEY)
        if (method, path) in SESSION_ROUTES:
            continue
        if declared is None:
            problems.append(f"{method} {path}: declares no Action and is no session route")
        elif declared not in {action.value for action in Action}:
            problems.append(f"{method} {path}: declares {declared!r}, which is no Action")
    return problems


def test_every_staff_route_is_a_session_route_or_declares_its_action(settings: Settings) -> None:
    # Given the app as it is assembled (no database is touched to list its routes)
    app = build_app(settings, sessionmaker())
    routes = list(staff_routes(app.fastapi))
    assert {path for _, path, _ in routes} >= {QUEUE, "/api/v1/staff/me"}  # the app's own
    assert unaccounted(iter(routes)) == []
    # The order routes declare the actions they check (other screens pin their own)
    declared = {
        (m, p): e[access.ACTION_KEY]
        for m, p, e in routes
        if access.ACTION_KEY in e and p.startswith(QUEUE)
    }
    assert declared == {key: action.value for key, action in orders_api.STAFF_ROUTE_ACTIONS.items()}


def test_the_coverage_check_names_a_route_that_is_neither() -> None:
    routes = [
        ("GET", "/api/v1/staff/customers", {}),
        ("POST", "/api/v1/staff/orders/{number}/gift", {"x-staff-action": "give_away"}),
        ("GET", "/api/v1/staff/me", {}),
    ]
    assert unaccounted(iter(routes)) == [
        "GET /api/v1/staff/customers: declares no Action and is no session route",
        "POST /api/v1/staff/orders/{number}/gift: declares 'give_away', which is no Action",
    ]
