"""Legal disclosure (design.md P2: "a recorded workflow"): only the privacy officer
discloses, with the legal basis; what is handed over is the customer's own data export; the
disclosure is an audit entry and a row of legal_disclosures that the officer lists; the
customer is not shown it (the shop's decision, docs/promises.md P2); closing the account
detaches it. Bad input: a missing, huge, hostile or identifying basis, a mistyped, unknown
or closed customer number.

Real customers (registered through the accounts service) and real staff (enrolled, signed
in through the API), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session

from quietshop.accounts import service as accounts
from quietshop.accounts.numbers import format_customer_number
from quietshop.app import personal_data_registry
from quietshop.models import metadata
from quietshop.settings import Settings
from quietshop.staff import disclosure_api, policies
from quietshop.staff.models import LegalDisclosure
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.accounts.factories import PASSWORD, Account, make_customer
from tests.clock import T0
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk
from tests.staff.factories import audit_entries

__all__ = ["cheap_customer_hashes", "clerk"]

LIST = "/api/v1/staff/legal-disclosures"
NAME = "Zebulon Quartermaine"
EMAIL = "zebulon.q@example.org"
BASIS = {"authority": "District Court of Springfield", "reference": "Court order 2026/123"}


def url(number: str) -> str:
    return f"/api/v1/staff/customers/{number}/legal-disclosure"


def disclose(api: TestClient, who: Clerk, number: str, **body: Any) -> Any:
    return api.post(url(number), json={**BASIS, **body}, headers=who.headers)


def recorded(db: Session) -> list[LegalDisclosure]:
    db.expire_all()
    return list(db.execute(select(LegalDisclosure).order_by(LegalDisclosure.id)).scalars())


@pytest.fixture
def zeb(db: Session, settings: Settings) -> Account:
    account = make_customer(db, settings, name=NAME, email=EMAIL)
    accounts.update_profile(db, account.signed_in, None, "+1 555 0199 7731")
    db.commit()
    return account


@pytest.fixture
def officer(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.PRIVACY_OFFICER)


# ---------------------------------------------------------------- who may disclose


def test_only_the_privacy_officer_discloses_or_lists(
    api: TestClient, db: Session, zeb: Account, clerk: Callable[..., Clerk]
) -> None:
    assert ACTION_ROLES[Action.LEGAL_DISCLOSURE] == frozenset({Role.PRIVACY_OFFICER})
    number = zeb.customer.customer_number
    for role in (r for r in Role if r is not Role.PRIVACY_OFFICER):
        who = clerk(role)
        # When anyone else asks, for a real customer or a number that cannot be one
        answers = [
            disclose(api, who, number),
            disclose(api, who, "0000000000"),
            api.get(LIST, headers=who.headers),
        ]
        # Then each is refused alike, and the chain keeps every refusal
        assert [a.status_code for a in answers] == [403] * 3, role
        denied = audit_entries(db, action="denied", staff_id=who.staff.id)
        assert len(denied) == 3
        assert all("(legal_disclosure)" in entry.reason for entry in denied)
    # And nothing was handed over or recorded
    assert recorded(db) == []
    assert audit_entries(db, action="legal_disclosure") == []


def test_even_a_privacy_officer_must_have_acknowledged_the_policies(
    api: TestClient, db: Session, settings: Settings, zeb: Account, clerk: Callable[..., Clerk]
) -> None:
    policies.publish_policy(db, settings, "security", "Security", "Lock your screen.", T0)
    db.commit()
    who = clerk(Role.PRIVACY_OFFICER, acknowledged=False)
    answer = disclose(api, who, zeb.customer.customer_number)
    assert (answer.status_code, answer.json()["error"]) == (403, "policies_pending")
    assert NAME not in answer.text
    assert recorded(db) == []
    assert audit_entries(db, action="denied", staff_id=who.staff.id)


# ---------------------------------------------------------------- disclosing


def test_the_authority_gets_the_customers_own_export_and_the_disclosure_is_recorded(
    api: TestClient, db: Session, zeb: Account, officer: Clerk
) -> None:
    answer = disclose(api, officer, format_customer_number(zeb.customer.customer_number))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    # Then what is handed over is exactly what Zeb's own "download my data" gives
    own = accounts.export_data(db, zeb.signed_in, personal_data_registry(), T0)
    assert body["data"] == own
    assert body["data"]["data"]["account"][0]["name"] == NAME
    disclosure = body["disclosure"]
    assert disclosure["authority"] == BASIS["authority"]
    assert disclosure["reference"] == BASIS["reference"]
    assert disclosure["customer_number"] == zeb.customer.customer_number
    assert "contact" in disclosure["kinds"]
    # And the chain holds one legal_disclosure entry with the basis and the kinds
    (entry,) = audit_entries(db, action="legal_disclosure")
    assert (entry.staff_id, entry.role, entry.customer_id, entry.subject) == (
        officer.staff.id, "privacy_officer", zeb.customer.id, f"customer:{zeb.customer.id}",
    )  # fmt: skip
    assert entry.reason == "Required by District Court of Springfield, Court order 2026/123"
    assert list(entry.data_kinds) == disclosure["kinds"]
    # And the record keeps when, who, whose, the basis and the kinds
    (row,) = recorded(db)
    assert (row.disclosed_at, row.staff_id, row.customer_id) == (
        T0, officer.staff.id, zeb.customer.id,
    )  # fmt: skip
    assert (row.authority, row.reference, row.id) == (*BASIS.values(), disclosure["id"])


def test_the_customer_is_not_shown_the_disclosure(
    api: TestClient, db: Session, zeb: Account, officer: Clerk
) -> None:
    """The shop's decision for now (docs/promises.md P2): some orders forbid telling."""
    assert disclose(api, officer, zeb.customer.customer_number).status_code == 201
    api.get(LIST, headers=officer.headers)
    seen = accounts.staff_access(db, zeb.signed_in)
    assert [access.action for access in seen] == []
    own = accounts.export_data(db, zeb.signed_in, personal_data_registry(), T0)
    assert "legal_disclosures" not in own["data"]
    assert "Court order" not in str(own)


def test_sql_looking_text_in_a_basis_is_kept_as_text(
    api: TestClient, db: Session, zeb: Account, officer: Clerk
) -> None:
    typed = "Order 7'); DROP TABLE customers; --"
    answer = disclose(api, officer, zeb.customer.customer_number, reference=typed)
    assert answer.status_code == 201
    assert recorded(db)[0].reference == typed
    assert db.execute(select(LegalDisclosure.id)).all()  # every table still there


def test_white_space_in_a_basis_is_folded(
    api: TestClient, db: Session, zeb: Account, officer: Clerk
) -> None:
    answer = disclose(api, officer, zeb.customer.customer_number, authority="  High   Court ")
    assert answer.json()["disclosure"]["authority"] == "High Court"


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"authority": ""}, 400, "authority"),
        ({"reference": "x" * 20_000}, 400, "reference"),  # huge: refused, not cut
        ({"authority": 42}, 400, "authority"),  # JSON types are strict
        ({"authority": None}, 400, "authority"),
        ({"court": "Supreme"}, 400, "court"),  # unknown fields refused
        ({"authority": "   "}, 422, "authority"),
        ({"reference": "Order 1\r\nX-Injected: yes"}, 422, "reference"),
        ({"reference": "Order \x1b[31m1"}, 422, "reference"),
        ({"authority": "Court\u202e txet"}, 422, "authority"),  # a bidi override
        ({"authority": "Court\u200b"}, 422, "authority"),  # a zero-width space
    ],
)
def test_a_bad_basis_is_refused_and_nothing_is_disclosed(
    api: TestClient,
    db: Session,
    zeb: Account,
    officer: Clerk,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    answer = disclose(api, officer, zeb.customer.customer_number, **body)
    assert answer.status_code == status, answer.text
    assert field in str(answer.json()["detail"])
    assert "data" not in answer.json()
    assert recorded(db) == []
    assert audit_entries(db, action="legal_disclosure") == []


def test_a_basis_without_its_authority_is_refused(
    api: TestClient, zeb: Account, officer: Clerk
) -> None:
    answer = api.post(
        url(zeb.customer.customer_number), json={"reference": "X"}, headers=officer.headers
    )
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["field"] == "authority"


def test_a_basis_that_names_the_customer_is_refused(
    api: TestClient, db: Session, zeb: Account, officer: Clerk
) -> None:
    """The basis outlives the customer's data: it must not name them."""
    number = zeb.customer.customer_number
    for field, text in (
        ("reference", f"State v. {NAME}"),
        ("reference", "re: ZEBULON.Q@EXAMPLE.ORG"),
        ("authority", f"Court, about {format_customer_number(number)}"),
        ("reference", f"file {'-'.join(format_customer_number(number).split())}"),
    ):
        answer = disclose(api, officer, number, **{field: text})
        assert answer.status_code == 422, text
        assert answer.json()["error"] == "invalid_basis"
        assert answer.json()["detail"][0]["field"] == field
    assert recorded(db) == []


def test_a_mistyped_an_unknown_or_a_closed_customer_number(
    api: TestClient, db: Session, settings: Settings, zeb: Account, officer: Clerk
) -> None:
    number = zeb.customer.customer_number
    wrong_digit = number[:-1] + str((int(number[-1]) + 1) % 10)
    answer = disclose(api, officer, wrong_digit)
    assert answer.status_code == 400
    assert answer.json()["detail"][0]["field"] == "customer_number"
    assert disclose(api, officer, "not-a-number").status_code == 400
    assert disclose(api, officer, "1" * 41).status_code == 400  # longer than a path allows
    other = make_customer(db, settings, email="other@example.org")
    accounts.close_account(db, settings, other.signed_in, PASSWORD, T0, personal_data_registry())
    db.commit()
    closed = disclose(api, officer, other.customer.customer_number)
    assert closed.status_code == 404  # erased: nothing to hand over
    assert recorded(db) == []
    assert audit_entries(db, action="legal_disclosure") == []


# ---------------------------------------------------------------- the list


def test_the_privacy_officer_lists_past_disclosures_newest_first(
    api: TestClient, db: Session, settings: Settings, zeb: Account, officer: Clerk
) -> None:
    other = make_customer(db, settings, name="Other Person", email="other@example.org")
    db.commit()
    disclose(api, officer, zeb.customer.customer_number)
    disclose(api, officer, other.customer.customer_number, reference="Warrant 9")
    first = api.get(LIST, params={"limit": 1}, headers=officer.headers).json()
    (newest,) = first["disclosures"]
    assert (newest["customer_number"], newest["reference"]) == (
        other.customer.customer_number, "Warrant 9",
    )  # fmt: skip
    assert newest["staff_name"] == officer.staff.name
    rest = api.get(
        LIST, params={"limit": 1, "before": first["next_before"]}, headers=officer.headers
    ).json()
    assert [d["customer_id"] for d in rest["disclosures"]] == [zeb.customer.id]
    assert rest["next_before"] is None
    # Each look names whose disclosure was read, in the chain only
    reads = audit_entries(db, action="audit_read", staff_id=officer.staff.id)
    assert [e.customer_id for e in reads] == [other.customer.id, zeb.customer.id]
    assert reads[0].fields == ("legal_disclosures.customer_id", "legal_disclosures.customer_number")
    assert accounts.staff_access(db, zeb.signed_in) == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 10_000}, {"before": -1}])
def test_the_list_refuses_a_bad_page(
    api: TestClient, officer: Clerk, params: dict[str, int]
) -> None:
    assert api.get(LIST, params=params, headers=officer.headers).status_code == 400


# ---------------------------------------------------------------- erasure


def _texts(db: Session) -> list[tuple[str, str, str]]:
    found = []
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
        for row in db.execute(select(*columns)).all() if columns else []:
            found += [(table.name, c.name, str(v)) for c, v in zip(columns, row, strict=True) if v]
    return found


def test_closing_the_account_detaches_its_disclosures(
    api: TestClient, db: Session, settings: Settings, zeb: Account, officer: Clerk
) -> None:
    assert disclose(api, officer, zeb.customer.customer_number).status_code == 201
    api.get(LIST, headers=officer.headers)
    accounts.close_account(db, settings, zeb.signed_in, PASSWORD, T0, personal_data_registry())
    db.commit()
    # The record that a disclosure was made stays, and names no one
    (row,) = recorded(db)
    assert (row.customer_id, row.customer_number) == (None, "")
    assert (row.authority, row.reference, row.staff_id) == (*BASIS.values(), officer.staff.id)
    # No table holds Zeb's name or address any more (the goodbye mail aside, until sent)
    holding = {
        (table, column)
        for table, column, value in _texts(db)
        if NAME.casefold() in value.casefold() or EMAIL in value.casefold()
    }
    assert holding <= {
        ("mail_outbox", "recipient"), ("mail_outbox", "recipient_name"),
        ("mail_outbox", "text_body"), ("mail_outbox", "html_body"),
    }  # fmt: skip
    # And the list shows the detached record without a customer
    (shown,) = api.get(LIST, headers=officer.headers).json()["disclosures"]
    assert (shown["customer_id"], shown["customer_number"]) == (None, "")


# ---------------------------------------------------------------- the routes


def test_every_disclosure_route_declares_legal_disclosure() -> None:
    assert {
        ("POST", "/api/v1/staff/customers/{number}/legal-disclosure"): Action.LEGAL_DISCLOSURE,
        ("GET", LIST): Action.LEGAL_DISCLOSURE,
    } == disclosure_api.STAFF_ROUTE_ACTIONS
