"""The back office's first screen (issue 9): each role's sections and nothing more, counts
that match what the shop holds, and no personal data in any answer.

Real orders (placed through the checkout API as guests, then moved to the states counted),
real customers, questions, mailings and staff, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.catalog.models import ProductVariant
from quietshop.keyring import Keyring
from quietshop.mail import service as mail
from quietshop.orders import service as orders
from quietshop.orders.models import Order
from quietshop.orders.numbers import parse_order_number
from quietshop.settings import Settings
from quietshop.staff import dashboard_api, policies
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.accounts.factories import make_customer
from tests.catalog.factories import make_category, make_product
from tests.clock import T0, MovableClock
from tests.orders.conftest import Stock, order_body, quote_total, stock
from tests.staff.conftest import signed_in
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk
from tests.staff.factories import audit_entries, make_staff

__all__ = ["cheap_customer_hashes", "clerk", "stock"]

DASHBOARD = "/api/v1/staff/dashboard"
MIDNIGHT = datetime(2026, 11, 25, tzinfo=UTC)  # T0's day

# What each role's dashboard holds, as the need-to-know table's actions open the sections.
SECTIONS: dict[Role, set[str]] = {
    Role.OWNER: {"owner", "audit", "orders_per_day"},
    Role.BILLING: {"billing"},
    Role.CUSTOMER_SERVICE: {"customer_service"},
    Role.FULFILMENT: {"fulfilment"},
    Role.CATALOG: {"catalog"},
    Role.MARKETING: {"marketing", "orders_per_day"},
    Role.ANALYST: {"orders_per_day"},
    Role.PRIVACY_OFFICER: {"audit"},
}
BUYERS = [
    ("Quentin Ordermann", "quentin.o@example.org"),
    ("Rosalind Buyworth", "ros.b@example.net"),
]
SUBSCRIBERS = [
    ("Zelda Quillfeather", "zelda.q@example.org"),
    ("Yusuf Brandt", "yusuf.b@example.net"),
]
ASKER = ("Ingrid Askwell", "ingrid.a@example.com")


def sections(answer: dict[str, object]) -> set[str]:
    return set(answer) - {"as_of"}


# ---------------------------------------------------------------- the shop's day


def place(api: TestClient, stock: Stock, buyer: tuple[str, str]) -> str:
    lines = [{"sku": stock.cable, "quantity": 1}]
    guest = {"name": buyer[0], "email": buyer[1]}
    body = order_body(lines, quote_total(api, lines), guest=guest)
    answer = api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 201, answer.text
    number: str = answer.json()["order_number"]
    return number


def move(db: Session, number: str, status: str, placed_at: datetime) -> None:
    """Put an order in ``status``, placed at ``placed_at``: the counts are what is read
    here, the moves themselves have their own tests."""
    db.execute(
        update(Order)
        .where(Order.order_number == parse_order_number(number))
        .values(status=status, placed_at=placed_at)
    )


# (status, when placed): two awaiting payment, one payment problem, three paid to pack, one
# packed, one waiting on the customer's choice, one shipped; and two older than 14 days.
ORDERS = [
    ("placed", T0),
    ("placed", MIDNIGHT),  # the first moment of today
    ("payment_problem", MIDNIGHT - timedelta(seconds=1)),  # the last of yesterday
    ("payment_verified", T0 - timedelta(days=1)),
    ("payment_verified", T0 - timedelta(days=1, hours=2)),
    ("payment_verified", T0 - timedelta(days=5)),
    ("packed", MIDNIGHT - timedelta(days=13)),  # the first of the 14 days
    ("availability_problem", MIDNIGHT - timedelta(days=13, seconds=1)),  # the day before
    ("shipped", T0 - timedelta(days=40)),
]
PER_DAY = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 2]  # 2026-11-12 .. 2026-11-25


@pytest.fixture
def shop_day(
    api: TestClient, db: Session, settings: Settings, stock: Stock, keyring: Keyring
) -> list[str]:
    """Orders in each counted state, stock running out, questions, subscribers and
    mailings, a published policy one person has not acknowledged, and audit entries of
    yesterday and today. Returns the order numbers."""
    numbers = []
    for n, (status, placed_at) in enumerate(ORDERS):
        number = place(api, stock, BUYERS[n % 2])
        move(db, number, status, placed_at)
        numbers.append(number)
    # Stock: the cable and one HDMI length gone, the adapter and another length low
    stocks = {stock.cable: 0, stock.adapter: 3, stock.hdmi[0]: 0, stock.hdmi[1]: 9,
              stock.hdmi[2]: 10}  # fmt: skip
    for sku, left in stocks.items():
        db.execute(update(ProductVariant).where(ProductVariant.sku == sku).values(stock=left))
    retired = make_product(db, make_category(db), name="Retired Plug", stock=0)
    catalog.set_product_active(db, retired, False)  # off sale: not counted
    # Questions: two asked, one answered
    for question in ("Does it bend?", "Ten by Friday?"):
        orders.ask(db, settings, now=T0, kind="question", product_sku=None, name=ASKER[0],
                   email=ASKER[1], question=question, quantity=None)  # fmt: skip
    orders.mark_answered(db, orders.open_questions(db, 1)[0].id, T0)
    # Two subscribers, one who never confirmed; one mailing sent, two drafted
    for name, email in SUBSCRIBERS:
        make_customer(db, settings, name=name, email=email, opt_in=True, verified=True)
    make_customer(db, settings, name="Xenia Unconfirmed", email="xenia.u@example.com", opt_in=True)
    sent = mail.create_mailing(db, "Autumn", "Hello.", T0 - timedelta(days=60))
    mail.send_mailing(db, settings, sent.id, T0 - timedelta(days=60))
    mail.create_mailing(db, "Winter", "Hello.", T0)
    mail.create_mailing(db, "Spring", "Hello.", T0)
    # A policy everyone signed in below acknowledges, and one member who has not
    policies.publish_policy(db, settings, "security", "Security", "Lock your screen.", T0)
    make_staff(db, settings, keyring, roles=frozenset({Role.CATALOG}), name="Late Reader",
               email="late.reader@shop.example")  # fmt: skip
    # The chain verified two hours ago, and an entry of yesterday
    for at, subject in ((MIDNIGHT - timedelta(hours=1), "audit:head"),
                        (T0 - timedelta(hours=2), audit.VERIFY_SUBJECT)):  # fmt: skip
        audit.append(db, audit.AuditEvent(action="audit_read", staff_id=None, role="operator",
                                          subject=subject, customer_id=None,
                                          reason="quietshop audit", origin="cli"), at)  # fmt: skip
    db.commit()
    return numbers


def test_each_count_is_what_the_shop_holds(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, shop_day: list[str]
) -> None:
    # Given one person holding every role
    everyone = clerk(*Role)

    # When they open the dashboard
    answer = api.get(DASHBOARD, headers=everyone.headers)

    # Then every section is there, with the shop's counts
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["as_of"] == "2026-11-25T12:00:00Z"
    assert found["billing"] == {"awaiting_payment": 2, "payment_problems": 1}
    assert found["fulfilment"] == {"to_pack": 3, "to_ship": 1}
    assert found["customer_service"] == {"open_questions": 1, "availability_problems": 1}
    assert found["catalog"] == {"out_of_stock": 2, "low_stock": 2, "low_stock_below": 10}
    # Only the late reader has not acknowledged the policy (everyone did, at creation);
    # the access review was never confirmed, so it is due now
    assert found["owner"] == {
        "policies_not_acknowledged": 1,
        "access_review_due_at": None,
        "access_review_due": True,
    }
    assert found["marketing"] == {"subscribers": 2, "mailings_drafted": 2}
    days = found["orders_per_day"]["days"]
    assert [d["day"] for d in days] == [f"2026-11-{day}" for day in range(12, 26)]
    assert [d["orders"] for d in days] == PER_DAY
    # The chain: today's entries (sign-ins, acknowledgements, the verify), nothing sealed
    # yet (the sealer has not run), and the last verify
    everything = audit_entries(db)
    today = [entry for entry in everything if entry.at >= MIDNIGHT]
    assert 0 < len(today) < len(everything)  # yesterday's entry is not counted
    assert found["audit"] == {
        "entries_today": len(today),
        "head_seq": None,
        "head_hash": None,
        "sealed_through": None,
        "unsealed": len(everything),
        "last_verified_at": "2026-11-25T10:00:00Z",
    }


def test_the_audit_section_shows_the_sealed_head(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, sessions: sessionmaker[Session]
) -> None:
    officer = clerk(Role.PRIVACY_OFFICER)
    run = audit.seal(sessions, T0)
    head = audit.chain_head(db)
    assert run.sealed > 0 and head is not None
    found = api.get(DASHBOARD, headers=officer.headers).json()["audit"]
    assert (found["head_seq"], found["head_hash"]) == (head.seq, head.hash)
    assert (found["sealed_through"], found["unsealed"]) == (head.entry_id, 0)
    assert found["last_verified_at"] is None


def test_an_empty_shop_counts_nothing(api: TestClient, clerk: Callable[..., Clerk]) -> None:
    found = api.get(DASHBOARD, headers=clerk(*Role).headers).json()
    assert found["billing"] == {"awaiting_payment": 0, "payment_problems": 0}
    assert found["fulfilment"] == {"to_pack": 0, "to_ship": 0}
    assert found["customer_service"] == {"open_questions": 0, "availability_problems": 0}
    assert found["catalog"] == {"out_of_stock": 0, "low_stock": 0, "low_stock_below": 10}
    assert found["marketing"] == {"subscribers": 0, "mailings_drafted": 0}
    assert [d["orders"] for d in found["orders_per_day"]["days"]] == [0] * 14
    assert found["audit"]["last_verified_at"] is None


def test_the_days_follow_the_clock(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, shop_day: list[str],
    clock: MovableClock,
) -> None:  # fmt: skip
    # Just before midnight (signed in again then), today's two orders are the last day's
    analyst = clerk(Role.ANALYST).staff
    clock.now = MIDNIGHT + timedelta(hours=23, minutes=59)
    headers = signed_in(api, analyst, clock.now)
    days = api.get(DASHBOARD, headers=headers).json()["orders_per_day"]["days"]
    assert (days[-1]["day"], days[-1]["orders"]) == ("2026-11-25", 2)
    # Two minutes later they have moved back one day, and the oldest day has gone
    clock.advance(minutes=2)
    days = api.get(DASHBOARD, headers=headers).json()["orders_per_day"]["days"]
    assert (days[-1]["day"], days[-1]["orders"]) == ("2026-11-26", 0)
    assert [d["orders"] for d in days] == [*PER_DAY[1:], 0]


# ---------------------------------------------------------------- who sees what


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_sections_and_no_personal_data(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, shop_day: list[str], role: Role
) -> None:
    answer = api.get(DASHBOARD, headers=clerk(role).headers)
    assert answer.status_code == 200, answer.text
    assert sections(answer.json()) == SECTIONS[role]
    raw = answer.content
    people = [*BUYERS, *SUBSCRIBERS, ASKER]
    leaked = [v for person in people for v in (*person, *person[0].split()) if v.encode() in raw]
    assert leaked == []
    assert b"@" not in raw
    assert [number for number in shop_day if number.encode() in raw] == []
    # Counts name no one: nothing was read of anyone
    assert audit_entries(db, action="read") == []


def test_a_section_follows_its_action_in_the_need_to_know_table() -> None:
    for role, expected in SECTIONS.items():
        opened = {
            name
            for name, action in dashboard_api.SECTION_ACTIONS.items()
            if role in ACTION_ROLES[action]
        }
        assert opened == expected, role
    assert ACTION_ROLES[Action.VIEW_DASHBOARD] == frozenset(Role)


def test_someone_with_roles_combined_sees_the_union(
    api: TestClient, clerk: Callable[..., Clerk]
) -> None:
    both = clerk(Role.BILLING, Role.FULFILMENT)
    assert sections(api.get(DASHBOARD, headers=both.headers).json()) == {"billing", "fulfilment"}


def test_before_the_policies_are_acknowledged_it_is_refused_and_recorded(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, settings: Settings
) -> None:
    policies.publish_policy(db, settings, "security", "Security", "Lock your screen.", T0)
    db.commit()
    late = clerk(Role.BILLING, acknowledged=False)
    answer = api.get(DASHBOARD, headers=late.headers)
    assert answer.status_code == 403
    assert answer.json()["error"] == "policies_pending"
    denied = audit_entries(db, action="denied", staff_id=late.staff.id)
    assert [entry.reason.split(":")[0] for entry in denied] == [f"GET {DASHBOARD} (view_dashboard)"]


def test_hostile_requests(api: TestClient, clerk: Callable[..., Clerk]) -> None:
    assert api.get(DASHBOARD).status_code == 401
    assert (
        api.get(DASHBOARD, headers={"Authorization": "Bearer qs_staff_forged"}).status_code == 401
    )
    who = clerk(Role.ANALYST)
    # Query parameters it does not take change nothing; other methods are not allowed
    plain = api.get(DASHBOARD, headers=who.headers).json()
    tricked = api.get(DASHBOARD, params={"role": "owner", "section": "audit"}, headers=who.headers)
    assert tricked.json() == plain
    assert api.post(DASHBOARD, headers=who.headers).status_code == 405
