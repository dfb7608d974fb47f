"""Customers see who at the shop looked (issue 9 item 4): every staff access to their data,
from the audit chain, with the role, the kind of data and the purpose — never the person."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.accounts import service
from quietshop.app import personal_data_registry
from quietshop.audit import service as audit
from quietshop.settings import Settings
from tests.accounts.factories import make_customer, token_for
from tests.clock import T0

ROUTE = "/api/v1/account/staff-access"
STAFF_ORIGIN = "198.51.100.23"


def _access(customer_id: int, **changes: object) -> audit.AuditEvent:
    values: dict[str, object] = {
        "action": "read", "staff_id": 4242, "role": "customer_service",
        "subject": f"customer:{customer_id}", "customer_id": customer_id,
        "data_kinds": ("contact",), "fields": ("customers.email",),
        "reason": "Asked about a delivery", "origin": STAFF_ORIGIN, **changes,
    }  # fmt: skip
    return audit.AuditEvent(**values)  # type: ignore[arg-type]


def _two_customers_looked_at(db: Session, settings: Settings) -> tuple[str, str]:
    """Ann's data read, revealed and once refused; Bob's read once. Their tokens."""
    ann = make_customer(db, settings, name="Ann Example")
    bob = make_customer(db, settings, name="Bob Example")
    a, b = ann.customer.id, bob.customer.id
    audit.append(db, _access(a), T0)
    audit.append(db, _access(b, reason="Bob's own call"), T0 + timedelta(minutes=1))
    audit.append(db, _access(a, action="denied", role="marketing", data_kinds=()), T0)
    audit.append(
        db,
        _access(a, action="card_reveal", role="billing", data_kinds=("payment",),
                fields=("payment_cards.number",), reason="Terminal offline", staff_id=7),
        T0 + timedelta(minutes=2),
    )  # fmt: skip
    audit.append(db, _access(None, action="sign_in", subject="", data_kinds=()), T0)  # type: ignore[arg-type]
    db.commit()
    return token_for(db, settings, ann), token_for(db, settings, bob)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_customer_sees_their_own_accesses_newest_first(
    client: TestClient, db: Session, settings: Settings
) -> None:
    ann, _ = _two_customers_looked_at(db, settings)
    response = client.get(ROUTE, headers=_bearer(ann))
    assert response.status_code == 200
    assert response.json() == [
        {
            "at": "2026-11-25T12:02:00Z", "role": "billing", "role_label": "Billing",
            "action": "card_reveal", "action_label": "saw the full card number",
            "data_kinds": ["payment"], "data_label": "payment details",
            "purpose": "Terminal offline",
        },
        {
            "at": "2026-11-25T12:00:00Z", "role": "customer_service",
            "role_label": "Customer service", "action": "read", "action_label": "looked at",
            "data_kinds": ["contact"], "data_label": "contact details",
            "purpose": "Asked about a delivery",
        },
    ]  # the refusal touched nothing of hers, and Bob's entry is his  # fmt: skip


def test_no_staff_identity_reaches_the_customer(
    client: TestClient, db: Session, settings: Settings
) -> None:
    ann, _ = _two_customers_looked_at(db, settings)
    body = client.get(ROUTE, headers=_bearer(ann)).text
    for who in ("4242", STAFF_ORIGIN, "staff_id", "origin", "customer.email", "customer:"):
        assert who not in body


def test_another_customers_accesses_are_never_shown(
    client: TestClient, db: Session, settings: Settings
) -> None:
    ann, bob = _two_customers_looked_at(db, settings)
    bobs = client.get(ROUTE, headers=_bearer(bob)).json()
    assert [entry["purpose"] for entry in bobs] == ["Bob's own call"]
    assert "Terminal offline" not in client.get(ROUTE, headers=_bearer(bob)).text
    assert "Bob's own call" not in client.get(ROUTE, headers=_bearer(ann)).text


def test_no_accesses_is_an_empty_list(client: TestClient, db: Session, settings: Settings) -> None:
    account = make_customer(db, settings)
    token = token_for(db, settings, account)
    db.commit()
    assert client.get(ROUTE, headers=_bearer(token)).json() == []


def test_without_a_valid_token_it_is_401(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        response = client.get(ROUTE, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_the_export_holds_the_customers_share_of_the_chain(db: Session, settings: Settings) -> None:
    account = make_customer(db, settings)
    audit.append(db, _access(account.customer.id), T0)
    exported = service.export_data(db, account.signed_in, personal_data_registry(), T0)
    assert exported["staff_access"] == [
        {
            "at": "2026-11-25T12:00:00+00:00", "role": "Customer service",
            "action": "looked at", "data_kinds": ["contact"],
            "purpose": "Asked about a delivery",
        }
    ]  # fmt: skip


def test_the_account_page_has_the_section(client: TestClient) -> None:
    page = client.get("/account").text
    assert "Who at the shop looked at your data" in page
    assert "data-staff-access-rows" in page


def test_every_staff_role_has_a_customer_facing_label() -> None:
    """The customer's wording names every role the back office has, as staff/ names it."""
    from quietshop.staff.roles import ROLE_LABELS

    assert {role.value: label for role, label in ROLE_LABELS.items()} == service.STAFF_ROLE_LABELS
