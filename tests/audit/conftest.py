"""Entries for the audit tests: a typical staff read, varied by keyword."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from quietshop.audit.service import AuditEvent

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


def raw(session: Session | Connection, sql: str, **params: Any) -> None:
    """Tampering as someone with database access would: plain SQL, no Quietshop code."""
    session.execute(text(sql), params)
