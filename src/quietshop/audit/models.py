"""The audit log's one table. Rows are only ever inserted: no code updates or deletes one,
and on PostgreSQL the shop's database user can be refused UPDATE and DELETE on it
(docs/deployment.md).

Nothing here is a customer's personal data: an entry names internal ids (``customer_id``,
``staff_id``), the kinds and names of the fields touched ("orders.ship_name"), never their
values, and the reason a staff member stated. So no column is declared ``personal`` and an
erasure leaves the entries as they are: an audit trail of staff access is kept by law
(PCI DSS 10.5). ``origin`` is the staff session's address, which P5 allows for employees.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        # What the customer's own history and the readers' filters look up, newest first.
        Index("ix_audit_entries_customer", "customer_id", "id"),
        Index("ix_audit_entries_staff", "staff_id", "id"),
        Index("ix_audit_entries_subject", "subject", "id"),
    )

    # Given by the writer (the previous id + 1, under the append lock), never a sequence:
    # the id is part of the hashed form, so it must be known before the row is written.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(40))
    staff_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(120))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    # JSON arrays of strings, so ("a,b",) and ("a", "b") are two different values.
    data_kinds: Mapped[str] = mapped_column(Text)
    fields: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
