"""Entries for the audit tests: a typical staff read, varied by keyword; sealing inside the
test's rolled-back transaction; tampering by plain SQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.audit.service import AuditEvent
from tests.clock import T0

READ = AuditEvent(
    action="read",
    staff_id=5,
    role="customer_service",
    subject="customer:12",
    customer_id=12,
    data_kinds=("contact",),
    fields=("customers.name", "customers.email"),
    reason="Customer called about a late parcel",
    origin="192.0.2.10",
)


def event(**changes: Any) -> AuditEvent:
    return replace(READ, **changes)


def seal_all(db: Session, now: datetime = T0, **options: Any) -> audit.SealRun:
    """Run the sealer in the test's own connection (its commits become savepoints of the
    test's transaction, rolled back with it)."""
    sessions = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    run = audit.seal(sessions, now, **options)
    db.expire_all()
    return run


def raw(session: Session | Connection, sql: str, **params: Any) -> None:
    """Tampering as someone with database access would: plain SQL, no Quietshop code."""
    session.execute(text(sql), params)
