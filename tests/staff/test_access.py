"""The one road from staff routes to a customer's data (staff/access.py), without HTTP: what
a role is shown of a row, the one audit entry per record (its fields, kinds, role,
customer, subject, reason and origin), one entry per customer of a list, a change's entry
in the change's own transaction, refusals that append nothing, and the policy gate.

Rows are mappings of the real tables' columns, as the services hand them over; the audit
chain and the policies are the real ones, in the test's rolled-back transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import access, policies
from quietshop.staff.access import Listed, table
from quietshop.staff.need_to_know import AccessDenied, Action, computed
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff
from tests.clock import T0
from tests.staff.factories import audit_entries, make_staff

ORIGIN = "203.0.113.7"
ORDER: dict[str, Any] = {
    "order_number": "QS-4821-93057",
    "status": "placed",
    "customer_name": "Gus Guest",
    "email": "gus@example.org",
    "ship_name": "Ann Example",
    "ship_city": "Springfield",
    "bill_name": "Ann Example",
    "total_cents": 2598,
}


def staff_of(db: Session, settings: Settings, keyring: Keyring, *roles: Role,
             acknowledged: bool = True) -> SignedInStaff:  # fmt: skip
    member = make_staff(db, settings, keyring, roles=frozenset(roles))
    if acknowledged:
        for policy in policies.current_policies(db):
            policies.acknowledge(db, member.id, policy.id, T0 - timedelta(minutes=1))
    return SignedInStaff(member.id, member.name, member.email, member.roles, 1, ORIGIN, T0)


def read_order(db: Session, who: SignedInStaff, row: dict[str, Any] = ORDER) -> dict[str, Any]:
    return access.read(
        db, who, Action.VIEW_ORDER_QUEUE, table("orders"), row, customer_id=41,
        subject="order:7", reason="the order's page", now=T0,
    )  # fmt: skip


# ---------------------------------------------------------------- one record


def test_a_read_shows_the_granted_columns_and_names_them_in_one_entry(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.FULFILMENT)
    # When fulfilment reads an order
    shown = read_order(db, who)
    # Then the contact data and the amounts are absent, not null
    assert shown == {
        "order_number": "QS-4821-93057", "status": "placed", "ship_name": "Ann Example",
        "ship_city": "Springfield",
    }  # fmt: skip
    # And one entry says who read which fields of whom, in which role, why, from where
    [entry] = audit_entries(db, action="read")
    assert (entry.staff_id, entry.role, entry.subject, entry.customer_id) == (
        who.id, "fulfilment", "order:7", 41,
    )  # fmt: skip
    assert entry.fields == ("orders.ship_city", "orders.ship_name")
    assert (entry.data_kinds, entry.reason, entry.origin) == (
        ("address",),
        "the order's page",
        ORIGIN,
    )
    [seen] = audit.accesses_for_customer(db, 41)
    assert (seen.action, seen.role, seen.data_kinds) == ("read", "fulfilment", ("address",))


def test_a_read_of_nothing_personal_is_no_entry(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.FULFILMENT)
    shown = read_order(db, who, {"order_number": "QS-4821-93057", "status": "packed"})
    assert shown == {"order_number": "QS-4821-93057", "status": "packed"}
    assert audit_entries(db, action="read") == []


def test_a_record_of_several_parts_is_one_entry_in_the_role_that_exposed_most(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    # Given someone who both bills and ships
    who = staff_of(db, settings, keyring, Role.BILLING, Role.FULFILMENT)
    parts = [
        (table("orders"), [{"ship_name": "Ann", "ship_city": "Springfield", "bill_name": "Ann"}]),
        (table("order_events"), [{"to_status": "placed", "note": "Welcome."}]),
        (table("payment_cards"), [{"masked": computed("Visa •••• 4242", "brand", "last4")}]),
    ]
    # When the order is read with its history and card
    order, events, card = access.read_record(
        db, who, Action.VIEW_ORDER_QUEUE, parts, customer_id=9, subject="order:3",
        reason="the order's page", now=T0,
    )  # fmt: skip
    # Then both roles' fields are shown, and one entry lists them all
    assert order == [{"ship_name": "Ann", "ship_city": "Springfield", "bill_name": "Ann"}]
    assert events == [{"to_status": "placed", "note": "Welcome."}]
    assert card == [{"masked": "Visa •••• 4242"}]
    [entry] = audit_entries(db, action="read")
    assert entry.fields == (
        "order_events.note", "orders.bill_name", "orders.ship_city", "orders.ship_name",
        "payment_cards.last4",
    )  # fmt: skip
    assert entry.data_kinds == ("activity", "address", "payment")
    # billing grants bill_name, the note and the card (3); fulfilment the ship name and city (2)
    assert entry.role == "billing"


# ---------------------------------------------------------------- lists


def test_a_list_is_one_entry_per_customer_with_their_orders_and_fields(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.BILLING)
    lines = table("order_lines")
    listed = [
        Listed(
            {**ORDER, "bill_name": "Una"}, 5, "order:11", ((lines, {"n": computed(2, "quantity")}),)
        ),
        Listed({**ORDER, "bill_name": "Otto"}, 6, "order:12"),
        Listed({**ORDER, "bill_name": "Una"}, 5, "order:13"),
        Listed({"order_number": "QS-1", "status": "refunded", "bill_name": ""}, None, "order:2"),
    ]
    shown = access.read_list(
        db, who, Action.VIEW_ORDER_QUEUE, table("orders"), listed, reason="the order queue", now=T0
    )
    assert [row.get("bill_name") for row in shown] == ["Una", "Otto", "Una", ""]
    assert shown[0]["n"] == 2 and "email" not in shown[0]
    entries = {entry.customer_id: entry for entry in audit_entries(db, action="read")}
    assert set(entries) == {5, 6, None}
    assert entries[5].subject == "orders:11,13"
    assert entries[6].subject == "order:12"
    assert entries[None].subject == "order:2"  # a pseudonymised order: nobody to tell
    assert {entry.fields for entry in entries.values()} == {("orders.bill_name",)}
    assert [a.role for a in audit.accesses_for_customer(db, 5)] == ["billing"]


def test_a_list_s_subject_is_cut_to_the_chain_s_limit_saying_how_many() -> None:
    subjects = [f"order:{1_000_000 + n}" for n in range(100)]
    text = access._subjects(subjects)
    assert len(text) <= audit.MAX_SUBJECT
    assert text.startswith("orders:1000000,1000001,") and text.endswith(",+100")
    assert access._subjects(["order:4"]) == "order:4"


def test_an_empty_list_reads_nothing_and_asks_for_no_policy(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.BILLING, acknowledged=False)
    shown = access.read_list(
        db, who, Action.VIEW_ORDER_QUEUE, table("orders"), [], reason="the order queue", now=T0
    )
    assert shown == [] and audit_entries(db, action="read") == []


# ---------------------------------------------------------------- refusals


def test_a_role_without_the_action_is_refused_before_anything_is_read(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.MARKETING)
    with pytest.raises(AccessDenied) as refused:
        read_order(db, who)
    assert (refused.value.status_code, refused.value.action) == (403, Action.VIEW_ORDER_QUEUE)
    with pytest.raises(AccessDenied):
        access.change(db, who, Action.SHIP, customer_id=41, subject="order:7", now=T0)
    # No entry: the door that opened the route records the denial, in its own transaction
    assert [e.action for e in audit_entries(db) if e.action in ("read", "change")] == []


def test_personal_data_waits_for_the_current_policies(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.FULFILMENT, acknowledged=False)
    with pytest.raises(policies.PoliciesPending) as pending:
        read_order(db, who)
    assert [p.kind for p in pending.value.pending] == ["privacy"]
    with pytest.raises(policies.PoliciesPending):
        access.change(db, who, Action.SHIP, customer_id=41, subject="order:7", now=T0)
    # A table with nothing personal in it for the role needs no acknowledgement
    [[line]] = access.read_record(
        db, who, Action.VIEW_ORDER_QUEUE, [(table("order_lines"), [{"sku": "C-1"}])],
        customer_id=41, subject="order:7", now=T0,
    )  # fmt: skip
    assert line == {"sku": "C-1"}
    assert [e.action for e in audit_entries(db) if e.action in ("read", "change")] == []


def test_an_acknowledgement_from_last_quarter_does_not_count(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.FULFILMENT)
    next_quarter = policies.next_quarter_start(T0)
    with pytest.raises(policies.PoliciesPending):
        access.read(
            db, who, Action.VIEW_ORDER_QUEUE, table("orders"), ORDER, customer_id=41,
            subject="order:7", now=next_quarter,
        )  # fmt: skip


# ---------------------------------------------------------------- changes


def test_a_change_s_entry_commits_with_the_change_or_not_at_all(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.FULFILMENT)
    before = audit.entry_count(db)
    # A change whose transaction rolls back leaves no entry
    with db.begin_nested() as attempt:
        access.change(db, who, Action.SHIP, customer_id=41, subject="order:7",
                      fields=("orders.status",), reason="shipped with DHL", now=T0)  # fmt: skip
        assert audit.entry_count(db) == before + 1
        attempt.rollback()
    assert audit.entry_count(db) == before
    # One that commits keeps its entry, in the role granting the action
    access.change(db, who, Action.SHIP, customer_id=41, subject="order:7",
                  fields=("orders.status",), reason="shipped with DHL", now=T0)  # fmt: skip
    [entry] = audit_entries(db, action="change")
    assert (entry.role, entry.subject, entry.customer_id, entry.fields, entry.reason) == (
        "fulfilment", "order:7", 41, ("orders.status",), "shipped with DHL",
    )  # fmt: skip
    assert entry.origin == ORIGIN


def test_a_card_reveal_is_its_own_kind_of_entry(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.BILLING)
    access.change(
        db, who, Action.REVEAL_CARD, customer_id=41, subject="order:7",
        fields=("payment_cards.ciphertext",), kinds=("payment",),
        reason="keying it into the terminal", now=T0, entry="card_reveal",
    )  # fmt: skip
    [entry] = audit_entries(db, action="card_reveal")
    assert (entry.role, entry.data_kinds, entry.reason) == (
        "billing", ("payment",), "keying it into the terminal",
    )  # fmt: skip


@pytest.mark.parametrize("reason", ["x" * 501, "line\x00break", "\u202eevil"])
def test_a_hostile_or_huge_reason_is_refused_and_nothing_is_appended(
    db: Session, settings: Settings, keyring: Keyring, reason: str
) -> None:
    who = staff_of(db, settings, keyring, Role.BILLING)
    with pytest.raises(audit.AuditEntryRefused) as refused:
        access.change(db, who, Action.REFUND, customer_id=41, subject="order:7",
                      reason=reason, now=T0)  # fmt: skip
    assert refused.value.field == "reason"
    assert audit_entries(db, action="change") == []


# ---------------------------------------------------------------- values a route renders


def test_sources_are_cut_like_columns_and_read_like_them(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    who = staff_of(db, settings, keyring, Role.FULFILMENT)
    orders_table, lines = table("orders"), table("order_lines")
    sources = {
        "name": (orders_table, ("customer_name",)),
        "customer_number": (orders_table, ("customer_number",)),
        "total": (orders_table, ("total_cents", "currency")),
        "ship_to": (orders_table, ("ship_name", "ship_city")),
        "lines.name": (lines, ("product_name",)),
    }
    shown = access.read_sources(
        db, who, Action.FLAG_AVAILABILITY_PROBLEM, sources, customer_id=41, subject="order:7",
        reason="a preview", now=T0,
    )  # fmt: skip
    assert shown == {"ship_to", "lines.name"}
    [entry] = audit_entries(db, action="read")
    assert entry.fields == ("orders.ship_city", "orders.ship_name")


def test_a_list_reads_subject_names_its_own_kind_of_record() -> None:
    assert access._subjects(["question:4", "question:7"]) == "questions:4,7"
    assert access._subjects(["order:3", "order:9"]) == "orders:3,9"
    assert access._subjects(["order:3", "mail:5"]) == "order:3,mail:5"
