"""The audit log's two tables, both insert-only: no code updates or deletes a row, and on
PostgreSQL the shop's database user can be refused UPDATE and DELETE on both
(docs/deployment.md).

- ``audit_entries``: what happened. An append writes one row and nothing else, so it is
  one statement and takes no lock (issue 9: < 1 ms at p99 with two writers).
- ``audit_seals``: the hash chain over the entries, written afterwards by the sealer
  (``sealer.py``), one row per entry, in the order it sealed them (``seq``). The chain
  order is the seal order, not the id order: an entry whose transaction committed after a
  later id's is sealed on a later run, with a later seq.

Nothing here is a customer's personal data: an entry names internal ids (``customer_id``,
``staff_id``), the kinds and names of the fields touched ("orders.ship_name"), never their
values, and the reason a staff member stated. So no column is declared ``personal`` and an
erasure leaves the entries as they are: an audit trail of staff access is kept by law
(PCI DSS 10.5). ``origin`` is the staff session's address, which P5 allows for employees.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Identity, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quietshop.db import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        # Also what the sealer in `serve` looks up: the unsealed entries of the last minutes.
        Index("ix_audit_entries_at", "at"),
        # What the customer's own history and the readers' filters look up, newest first.
        Index("ix_audit_entries_customer", "customer_id", "id"),
        Index("ix_audit_entries_staff", "staff_id", "id"),
        Index("ix_audit_entries_subject", "subject", "id"),
    )

    # Given by the database at the insert (an identity on PostgreSQL, the rowid on SQLite):
    # the append needs no lock and no read. Ids are unique, not gapless (a rolled-back
    # append leaves a gap on PostgreSQL); the seals, not the ids, are the chain's order.
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
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


class AuditSeal(Base):
    """One link of the chain: entry ``entry_id`` sealed as the ``seq``-th, with the hash of
    the seal before it and its own (``chain.py`` defines the hashed form). No foreign key,
    as on the entries: a seal must never change because another row did."""

    __tablename__ = "audit_seals"

    # Given by the sealer (the previous seq + 1, under the append lock): 1, 2, 3, ...
    # without a gap, so a removed seal shows even before its hash is checked.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Unique: an entry is sealed once, even by two sealers that skipped the lock.
    entry_id: Mapped[int] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
