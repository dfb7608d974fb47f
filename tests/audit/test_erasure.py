"""Closing an account keeps its audit entries, unchanged (PCI DSS 10.5): they hold ids, field
names and the stated reason, never a personal value, so nothing of the person is kept in
them and the chain stays intact."""

from __future__ import annotations

from sqlalchemy.orm import Session

from quietshop.accounts import service
from quietshop.app import personal_data_registry
from quietshop.audit import service as audit
from quietshop.audit.models import AuditEntry
from quietshop.privacy.personal_data import personal_columns
from quietshop.settings import Settings
from tests.accounts.factories import PASSWORD, make_customer
from tests.audit.conftest import event
from tests.clock import T0


def test_closing_an_account_keeps_its_entries_and_the_chain(
    db: Session, settings: Settings
) -> None:
    account = make_customer(db, settings, name="Zebulon Quartermaine", email="zeb@example.org")
    customer_id = account.customer.id
    for _ in range(3):
        audit.append(db, event(customer_id=customer_id, subject=f"customer:{customer_id}"), T0)
    before = audit.entries(db, audit.AuditFilter(customer_id=customer_id), 10)

    service.close_account(db, settings, account.signed_in, PASSWORD, T0, personal_data_registry())
    db.flush()

    assert audit.entries(db, audit.AuditFilter(customer_id=customer_id), 10) == before
    assert audit.verify(db).intact
    text = str(before)
    assert "Zebulon" not in text and "zeb@example.org" not in text


def test_the_table_declares_no_personal_column() -> None:
    """Were one declared, tests/privacy would ask for it to be exported and erased: an
    entry holding a personal value would be a mistake to fix, not a row to scrub."""
    assert personal_columns(AuditEntry.__table__) == {}  # type: ignore[arg-type]
