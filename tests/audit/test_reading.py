"""Reading the log: the owner's and privacy officer's filtered, paged view, and a
customer's own share of it, which never says who."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.audit.service import AuditFilter
from quietshop.errors import InvalidInput
from tests.audit.conftest import event, seal_all
from tests.clock import T0


def _log(db: Session) -> int:
    """Eight entries, one a minute from T0; what to add to 1..8 to get their ids (on
    PostgreSQL the identity goes on counting across rolled-back tests)."""
    entries = [
        event(staff_id=1, role="customer_service", customer_id=12, subject="customer:12"),
        event(staff_id=2, role="billing", customer_id=12, subject="order:7", action="card_reveal",
              data_kinds=("payment",), fields=("payment_cards.number",), reason="Terminal down"),
        event(staff_id=3, role="marketing", customer_id=12, subject="customer:12",
              action="denied", data_kinds=(), fields=(), reason=""),
        event(staff_id=1, role="customer_service", customer_id=13, subject="customer:13"),
        event(staff_id=1, role="", customer_id=None, subject="", action="sign_in", data_kinds=(),
              fields=(), reason=""),
        event(staff_id=4, role="fulfilment", customer_id=12, subject="order:7",
              data_kinds=("address",), fields=("orders.ship_name", "orders.ship_line1"),
              reason="Packing"),
        event(staff_id=None, role="", customer_id=None, subject="", action="sign_in_failed",
              data_kinds=(), fields=(), reason="", origin="203.0.113.9"),
        event(staff_id=2, role="billing", customer_id=12, subject="order:7", action="change",
              data_kinds=("payment",), fields=("orders.status",), reason="Payment verified"),
    ]  # fmt: skip
    ids = [audit.append(db, entry, T0 + timedelta(minutes=m)) for m, entry in enumerate(entries)]
    assert ids == list(range(ids[0], ids[0] + 8))
    return ids[0] - 1


def _ids(found: list[audit.AuditEntryOut], offset: int) -> list[int]:
    """The entries' places in _log (1..8)."""
    return [entry.id - offset for entry in found]


@pytest.mark.parametrize(
    ("filters", "ids"),
    [
        (AuditFilter(), [8, 7, 6, 5, 4, 3, 2, 1]),
        (AuditFilter(staff_id=1), [5, 4, 1]),
        (AuditFilter(role="billing"), [8, 2]),
        (AuditFilter(action="denied"), [3]),
        (AuditFilter(subject="order:7"), [8, 6, 2]),
        (AuditFilter(customer_id=13), [4]),
        (AuditFilter(staff_id=1, customer_id=12), [1]),
        (AuditFilter(since=T0 + timedelta(minutes=5)), [8, 7, 6]),
        (AuditFilter(until=T0 + timedelta(minutes=2)), [2, 1]),
        (AuditFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)), [3, 2]),
        (AuditFilter(role="owner"), []),
    ],
)
def test_entries_match_every_filter_given_newest_first(
    db: Session, filters: AuditFilter, ids: list[int]
) -> None:
    offset = _log(db)
    assert _ids(audit.entries(db, filters, 50), offset) == ids


def test_pages_follow_each_other_by_the_last_id_seen(db: Session) -> None:
    offset = _log(db)
    first = audit.entries(db, AuditFilter(), 3)
    second = audit.entries(db, AuditFilter(), 3, after_id=first[-1].id)
    third = audit.entries(db, AuditFilter(), 3, after_id=second[-1].id)
    assert [_ids(page, offset) for page in (first, second, third)] == [
        [8, 7, 6], [5, 4, 3], [2, 1],
    ]  # fmt: skip
    assert audit.entries(db, AuditFilter(), 3, after_id=offset + 1) == []


def test_an_entry_reads_back_whole(db: Session) -> None:
    _log(db)
    (reveal,) = audit.entries(db, AuditFilter(action="card_reveal"), 1)
    assert (reveal.staff_id, reveal.role, reveal.subject, reveal.customer_id) == (
        2, "billing", "order:7", 12,
    )  # fmt: skip
    assert (reveal.data_kinds, reveal.fields, reveal.reason) == (
        ("payment",), ("payment_cards.number",), "Terminal down",
    )  # fmt: skip
    assert reveal.at == T0 + timedelta(minutes=1)
    # Not sealed yet: no hashes, no seq. Sealed: its seal's, the shape unchanged.
    assert (reveal.seq, reveal.prev_hash, reveal.hash) == (None, "", "")
    seal_all(db)
    (sealed,) = audit.entries(db, AuditFilter(action="card_reveal"), 1)
    assert sealed.seq == 2 and sealed.prev_hash == audit.entries(db, AuditFilter(), 8)[-1].hash
    assert (
        len(sealed.hash) == 64
        and dataclasses.replace(sealed, seq=None, prev_hash="", hash="") == reveal
    )


@pytest.mark.parametrize(
    ("limit", "after_id", "filters", "field"),
    [
        (0, None, AuditFilter(), "limit"),
        (audit.MAX_PAGE + 1, None, AuditFilter(), "limit"),
        (10**9, None, AuditFilter(), "limit"),
        (10, 0, AuditFilter(), "after_id"),
        (10, 2**40, AuditFilter(), "after_id"),
        (10, None, AuditFilter(action="drop table"), "action"),
        (10, None, AuditFilter(since=T0.replace(tzinfo=None)), "since"),
        (10, None, AuditFilter(since=T0, until=T0 - timedelta(seconds=1)), "until"),
    ],
)
def test_malformed_reading_is_refused_naming_the_parameter(
    db: Session, limit: int, after_id: int | None, filters: AuditFilter, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        audit.entries(db, filters, limit, after_id)
    assert refused.value.field == field


# ---------------------------------------------------------------- a customer's own share


def test_a_customer_sees_when_which_role_what_kind_and_why_of_their_own_data(
    db: Session,
) -> None:
    _log(db)
    accesses = audit.accesses_for_customer(db, 12)
    assert [(a.at, a.action, a.role, a.data_kinds, a.reason) for a in accesses] == [
        (T0 + timedelta(minutes=7), "change", "billing", ("payment",), "Payment verified"),
        (T0 + timedelta(minutes=5), "read", "fulfilment", ("address",), "Packing"),
        (T0 + timedelta(minutes=1), "card_reveal", "billing", ("payment",), "Terminal down"),
        (T0, "read", "customer_service", ("contact",), "Customer called about a late parcel"),
    ]  # the refusal (entry 3) touched nothing of theirs; customer 13's entry is not here
    assert [a.reason for a in audit.accesses_for_customer(db, 13)] == [
        "Customer called about a late parcel"
    ]
    assert audit.accesses_for_customer(db, 99) == []


def test_what_a_customer_is_given_cannot_name_a_staff_member() -> None:
    names = {field.name for field in dataclasses.fields(audit.CustomerAccess)}
    assert names == {"at", "action", "role", "data_kinds", "reason"}


def test_a_customer_gets_at_most_the_limit_newest_first(db: Session) -> None:
    for minute in range(5):
        audit.append(db, event(reason=f"call {minute}"), T0 + timedelta(minutes=minute))
    assert [a.reason for a in audit.accesses_for_customer(db, 12, limit=2)] == ["call 4", "call 3"]
    with pytest.raises(InvalidInput):
        audit.accesses_for_customer(db, 12, limit=0)
