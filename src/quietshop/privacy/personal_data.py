"""Personal data, declared once on the columns that hold it, and the export and erasure
that walk that declaration.

A column that holds personal data says so in its model::

    email: Mapped[str] = mapped_column(String(254), info=personal("contact", erase="placeholder"))

with one of a small closed set of kinds (contact, address, payment, credentials,
activity) and what erasure does to it. Each domain contributes, at assembly, the rows of
its tables that belong to one customer (``SubjectRows``); this module imports no domain.
Export and erasure are then generated from the declaration, so a new personal column is
exported and erased without anyone remembering to; ``tests/privacy`` fails when a table
with personal columns has no contribution. The staff field table and the privacy center
read the same declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, MetaData, RowMapping, Table, delete, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import String

PersonalKind = Literal["contact", "address", "payment", "credentials", "activity"]
PERSONAL_KINDS: frozenset[str] = frozenset(get_args(PersonalKind))

# What erasure does to a column of a row that is kept (rows can also be deleted whole):
#   blank        "" for text, NULL where the column allows it
#   placeholder  erased-<customer number>@erased.invalid, for a unique or address-shaped column
#   keep         left as it is; the declaration must say why
Erasure = Literal["blank", "placeholder", "keep"]
ERASURES: frozenset[str] = frozenset(get_args(Erasure))

SECRET_SHOWN_AS = "(a secret: kept only as a one-way hash or sealed, never shown)"  # noqa: S105


def personal(kind: PersonalKind, *, erase: Erasure = "blank", why_kept: str = "") -> dict[str, Any]:
    """The ``info`` of a column that holds personal data."""
    if kind not in PERSONAL_KINDS:
        raise ValueError(f"unknown kind of personal data {kind!r}")
    if erase not in ERASURES:
        raise ValueError(f"unknown erasure {erase!r}")
    if erase == "keep" and not why_kept:
        raise ValueError("a personal column kept at erasure must say why")
    return {"personal": kind, "erase": erase, "why_kept": why_kept}


def personal_columns(table: Table) -> dict[str, dict[str, Any]]:
    """The declared personal columns of ``table``: name -> declaration."""
    return {column.name: column.info for column in table.columns if "personal" in column.info}


def tables_with_personal_data(metadata: MetaData) -> list[Table]:
    return [table for table in metadata.sorted_tables if personal_columns(table)]


@dataclass(frozen=True)
class DataSubject:
    """The customer whose data is exported or erased."""

    customer_id: int
    customer_number: str
    # The address held before erasure, for rows kept by address rather than by customer
    # (a product question asked before signing in).
    email: str = ""


@dataclass(frozen=True)
class SubjectRows:
    """One domain's table, and which of its rows are about a subject.

    ``on_erase``: "delete" the rows, or "scrub" them (blank their personal columns, keep
    the row: an order record, a sent-mail record). ``before_erase`` lets the domain apply
    its own rule first (the outbox cancels mail not sent yet). ``present`` adjusts a row
    for the export (the outbox says where a link was instead of a placeholder).
    ``exported=False``: erased with the subject but left out of their export (a legal
    disclosure, which some orders forbid telling the customer of: docs/promises.md P2).
    """

    table: Table
    where: Callable[[DataSubject], ColumnElement[bool]]
    on_erase: Literal["delete", "scrub"]
    export_as: str
    before_erase: Callable[[Session, DataSubject, datetime], None] | None = None
    present: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    exported: bool = True


class PersonalDataRegistry:
    """Every domain's contribution, assembled once per app."""

    def __init__(self, contributions: Iterable[SubjectRows]) -> None:
        self.contributions = tuple(contributions)
        names = [c.export_as for c in self.contributions]
        if len(set(names)) != len(names):
            raise ValueError("two contributions export under the same name")
        for contribution in self.contributions:
            _check_declarations(contribution)

    def unregistered_tables(self, metadata: MetaData) -> list[str]:
        """Tables holding personal data that no contribution covers (must be empty)."""
        covered = {c.table.name for c in self.contributions}
        return [t.name for t in tables_with_personal_data(metadata) if t.name not in covered]

    def export(self, session: Session, subject: DataSubject) -> dict[str, list[dict[str, Any]]]:
        """Every row about the subject, table by table; secrets described, not shown."""
        exported: dict[str, list[dict[str, Any]]] = {}
        for contribution in self.contributions:
            if not contribution.exported:
                continue
            table = contribution.table
            rows = session.execute(
                select(table).where(contribution.where(subject)).order_by(*table.primary_key)
            ).mappings()
            exported[contribution.export_as] = [_exported_row(contribution, row) for row in rows]
        return exported

    def erase(self, session: Session, subject: DataSubject, now: datetime) -> None:
        """Delete or scrub every row about the subject, in the caller's transaction."""
        for contribution in self.contributions:
            if contribution.before_erase is not None:
                contribution.before_erase(session, subject, now)
        # Children before parents: a row deleted here may refer to one scrubbed below.
        for contribution in reversed(self.contributions):
            where = contribution.where(subject)
            if contribution.on_erase == "delete":
                session.execute(delete(contribution.table).where(where))
            else:
                values = scrubbed_values(contribution.table, subject.customer_number)
                if values:
                    session.execute(update(contribution.table).where(where).values(**values))
        session.flush()


def _exported_row(contribution: SubjectRows, row: RowMapping) -> dict[str, Any]:
    declared = personal_columns(contribution.table)
    data: dict[str, Any] = {}
    for name, value in row.items():
        if declared.get(name, {}).get("personal") == "credentials":
            data[name] = SECRET_SHOWN_AS if value else None
        else:
            data[name] = value.isoformat() if isinstance(value, datetime) else value
    return contribution.present(data) if contribution.present else data


def scrubbed_values(table: Table, customer_number: str) -> dict[str, Any]:
    """The values that erase a kept row's personal columns (for an UPDATE)."""
    values: dict[str, Any] = {}
    for name, info in personal_columns(table).items():
        column = table.columns[name]
        if info["erase"] == "placeholder":
            values[name] = f"erased-{customer_number}@erased.invalid"
        elif info["erase"] == "blank":
            values[name] = None if column.nullable else ""
    return values


def _check_declarations(contribution: SubjectRows) -> None:
    """A blank that the column cannot hold would fail at the first erasure: fail at start."""
    for name, info in personal_columns(contribution.table).items():
        column = contribution.table.columns[name]
        if info.get("personal") not in PERSONAL_KINDS or info.get("erase") not in ERASURES:
            raise ValueError(f"{contribution.table.name}.{name}: bad personal-data declaration")
        if contribution.on_erase == "delete":
            continue
        text = isinstance(column.type, String)
        if info["erase"] == "blank" and not (column.nullable or text):
            raise ValueError(f"{contribution.table.name}.{name} cannot be blanked")
        if info["erase"] == "placeholder" and not text:
            raise ValueError(f"{contribution.table.name}.{name} cannot hold a placeholder")
