"""The one road from a staff route to a customer's data (P6, issue 9 items 2 and 3).

Every staff route that shows or changes a customer's records goes through here, as every
staff route goes through ``staff.auth.staff_session``:

- ``staff_access(request, action)`` opens the route's transaction for a live staff member
  whose roles grant ``action`` (``need_to_know.acting_role``) and who has acknowledged the
  current policies this quarter (P7). A refusal, here or anywhere in the block, rolls the
  block back and is appended to the audit chain as ``denied`` in a transaction of its own
  (the refused request's own is gone), then answered 403 ``forbidden`` or
  ``policies_pending``. The action is checked before any record is looked up, so a role
  without it learns nothing, not even whether an order number exists;
- ``read`` / ``read_record`` / ``read_list`` cut rows through ``need_to_know.serialise``
  (a column the role is not granted is absent from the answer) and append one ``read``
  entry per record shown with personal data: its fields, their kinds, the role that
  exposed them, the customer, and the staff session's origin. A list appends one entry
  per customer in it, so every customer finds the look in their account
  (``audit.accesses_for_customer``), not only the first one;
- ``change`` appends the ``change`` entry (or ``card_reveal``) of a change in the change's
  own transaction: both commit, or neither.

Entries are appended in the caller's transaction, which is therefore a writing one
(``staff_access`` opens one): the answer leaves only once its entries are committed.
``audit`` offers one entry per call, so a list of 50 customers is 50 appends (each a read
of the chain's head and an insert, straight to the driver).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Table
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.db import Base
from quietshop.staff import policies
from quietshop.staff.auth import staff_session
from quietshop.staff.need_to_know import (
    AccessDenied,
    Action,
    Serialised,
    acting_role,
    computed,
    readable_columns,
    serialise,
)
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff
from quietshop.staff.trail import roles_text, staff_event
from quietshop.web.dependencies import now
from quietshop.web.state import app_state

__all__ = [
    "ACTION_KEY",
    "Listed",
    "Office",
    "Part",
    "change",
    "declares",
    "read",
    "read_list",
    "read_record",
    "read_sources",
    "staff_access",
    "table",
]

# Where a staff route declares the one Action it checks: in its API description, as
# ``openapi_extra=declares(action)``; the route-coverage test reads it from every route.
ACTION_KEY = "x-staff-action"


def declares(action: Action) -> dict[str, Any]:
    return {ACTION_KEY: action.value}


Row = Mapping[str, Any]
Part = tuple[Table, Sequence[Row]]  # one table's rows of a record: an order and its lines
_POLICIES_CHECKED = "quietshop.staff.policies_acknowledged"  # Session.info: staff id


@dataclass(frozen=True)
class Listed:
    """One row of a list (the order queue), with whose data it is and what it is.
    ``more``: values from other tables shown in the same row (the count of an order's
    items, from its lines), each cut through the table it comes from."""

    row: Row
    customer_id: int | None
    subject: str  # "order:34"
    more: tuple[tuple[Table, Row], ...] = ()


def table(name: str) -> Table:
    """A table by name, as the need-to-know table names it: staff routes know no models,
    and every domain's tables are on the one metadata."""
    return Base.metadata.tables[name]


def _personal(table: Table, column: str) -> bool:
    return "personal" in table.columns[column].info


def _opens_personal_data(roles: frozenset[Role], tables: Sequence[Table]) -> bool:
    return any(
        _personal(part, column) for part in tables for column in readable_columns(roles, part)
    )


def require_policies(session: Session, staff: SignedInStaff, at: datetime) -> None:
    """PoliciesPending (403) unless every current policy is acknowledged this quarter;
    asked once per transaction."""
    if session.info.get(_POLICIES_CHECKED) == staff.id:
        return
    policies.require_acknowledged(session, staff.id, at)
    session.info[_POLICIES_CHECKED] = staff.id


@functools.cache
def _reads(role: Role, part: Table) -> frozenset[str]:
    return readable_columns((role,), part)  # the table is fixed at import: safe to keep


def _entry_role(held: frozenset[Role], fields: Mapping[Table, set[str]]) -> Role:
    """The held role granting the most of the fields read (ties: Role's order), as
    need_to_know names the role of one row, over a record of several tables."""
    ordered = [role for role in Role if role in held]
    return max(
        ordered,
        key=lambda role: sum(len(names & _reads(role, part)) for part, names in fields.items()),
    )


def _read_event(
    staff: SignedInStaff,
    fields: Mapping[Table, set[str]],
    *,
    customer_id: int | None,
    subject: str,
    reason: str,
) -> audit.AuditEvent:
    names = sorted(f"{part.name}.{name}" for part, columns in fields.items() for name in columns)
    kinds = sorted(
        {str(part.columns[name].info["personal"]) for part, cols in fields.items() for name in cols}
    )
    return audit.AuditEvent(
        action="read",
        staff_id=staff.id,
        role=_entry_role(staff.roles, fields).value,
        subject=subject[: audit.MAX_SUBJECT],
        customer_id=customer_id,
        data_kinds=tuple(kinds),
        fields=tuple(names[: audit.MAX_NAMES]),
        reason=reason,
        origin=staff.origin[: audit.MAX_ORIGIN],
    )


def _cut(
    session: Session, staff: SignedInStaff, action: Action, parts: Sequence[Part], at: datetime
) -> list[list[Serialised]]:
    acting_role(staff.roles, action)
    if _opens_personal_data(staff.roles, [part for part, _ in parts]):
        require_policies(session, staff, at)
    return [[serialise(staff.roles, part, row) for row in rows] for part, rows in parts]


def _personal_fields(parts: Sequence[Part], shown: list[list[Serialised]]) -> dict[Table, set[str]]:
    fields: dict[Table, set[str]] = {}
    for (part, _), rows in zip(parts, shown, strict=True):
        for row in rows:
            if row.personal_fields:
                names = {name.split(".", 1)[1] for name in row.personal_fields}
                fields.setdefault(part, set()).update(names)
    return fields


def read_record(
    session: Session,
    staff: SignedInStaff,
    action: Action,
    parts: Sequence[Part],
    *,
    customer_id: int | None,
    subject: str,
    reason: str = "",
    now: datetime,
) -> list[list[dict[str, Any]]]:
    """One record of several parts (an order, its lines, its history) as ``staff`` may see
    it, part by part and row by row; one ``read`` entry when any personal field is in it.
    AccessDenied (403) without ``action``; PoliciesPending (403) when the record would
    show personal data before the current policies are acknowledged."""
    shown = _cut(session, staff, action, parts, now)
    fields = _personal_fields(parts, shown)
    if fields:
        event = _read_event(staff, fields, customer_id=customer_id, subject=subject, reason=reason)
        audit.append(session, event, now)
    return [[row.values for row in rows] for rows in shown]


def read(
    session: Session,
    staff: SignedInStaff,
    action: Action,
    part: Table,
    row: Row,
    *,
    customer_id: int | None,
    subject: str,
    reason: str = "",
    now: datetime,
) -> dict[str, Any]:
    """One row, as ``read_record`` reads a record of one part."""
    found = read_record(
        session,
        staff,
        action,
        [(part, [row])],
        customer_id=customer_id,
        subject=subject,
        reason=reason,
        now=now,
    )
    return found[0][0]


def _subjects(subjects: list[str]) -> str:
    """ "order:3" for one; "orders:3,9,12" for several of one kind (any kind: "question:4"
    and "question:7" make "questions:4,7"), the whole subjects joined when kinds differ;
    cut to the chain's limit."""
    if len(subjects) == 1:
        return subjects[0]
    kinds = {subject.partition(":")[0] for subject in subjects}
    if len(kinds) == 1 and all(":" in subject for subject in subjects):
        ids = [subject.partition(":")[2] for subject in subjects]
        text = f"{kinds.pop()}s:" + ",".join(ids)
    else:
        ids = list(subjects)
        text = ",".join(ids)
    if len(text) <= audit.MAX_SUBJECT:
        return text
    more = f",+{len(ids)}"
    return text[: audit.MAX_SUBJECT - len(more)].rsplit(",", 1)[0] + more


def read_list(
    session: Session,
    staff: SignedInStaff,
    action: Action,
    part: Table,
    listed: Sequence[Listed],
    *,
    reason: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Rows of one table (with their ``more``), each as ``staff`` may see it; one ``read``
    entry per customer whose personal data is among them, naming their subjects and the
    fields read of theirs."""
    tables = [part, *{more: None for item in listed for more, _ in item.more}]
    acting_role(staff.roles, action)
    if listed and _opens_personal_data(staff.roles, tables):
        require_policies(session, staff, now)
    by_customer: dict[int | None, tuple[list[str], dict[Table, set[str]]]] = {}
    shown: list[dict[str, Any]] = []
    for item in listed:
        values: dict[str, Any] = {}
        for source, row in ((part, item.row), *item.more):
            cut = serialise(staff.roles, source, row)
            values.update(cut.values)
            if cut.personal_fields:
                subjects, fields = by_customer.setdefault(item.customer_id, ([], {}))
                if not subjects or subjects[-1] != item.subject:
                    subjects.append(item.subject)
                names = fields.setdefault(source, set())
                names.update(name.split(".", 1)[1] for name in cut.personal_fields)
        shown.append(values)
    for customer_id, (subjects, fields) in by_customer.items():
        event = _read_event(
            staff, fields, customer_id=customer_id, subject=_subjects(subjects), reason=reason
        )
        audit.append(session, event, now)
    return shown


def read_sources(
    session: Session,
    staff: SignedInStaff,
    action: Action,
    sources: Mapping[str, tuple[Table, tuple[str, ...]]],
    *,
    customer_id: int | None,
    subject: str,
    reason: str,
    now: datetime,
) -> frozenset[str]:
    """Which of ``sources`` (a name -> the table and columns its value is made of: a mail's
    parts) ``staff`` may see; one ``read`` entry for the personal fields among them. For
    values a route renders itself (a mail preview), so they are cut like any row."""
    rows: dict[Table, dict[str, Any]] = {}
    for name, (source, columns) in sources.items():
        # Prefixed: a value may share its name with a column ("customer_number").
        rows.setdefault(source, {})[f"value:{name}"] = computed(True, *columns)
    parts = [(source, [row]) for source, row in rows.items()]
    shown = read_record(
        session, staff, action, parts, customer_id=customer_id, subject=subject,
        reason=reason, now=now,
    )  # fmt: skip
    return frozenset(
        key.removeprefix("value:") for rows_shown in shown for row in rows_shown for key in row
    )


def change(
    session: Session,
    staff: SignedInStaff,
    action: Action,
    *,
    customer_id: int | None,
    subject: str,
    fields: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    reason: str = "",
    now: datetime,
    entry: str = "change",
) -> None:
    """The audit entry of a change just made in this transaction (``entry``: "change",
    or "card_reveal" for a card number shown), in the role that grants ``action``. A
    change to a customer's record is handling their data: policies must be acknowledged."""
    role = acting_role(staff.roles, action)
    require_policies(session, staff, now)
    event = audit.AuditEvent(
        action=entry,
        staff_id=staff.id,
        role=role.value,
        subject=subject[: audit.MAX_SUBJECT],
        customer_id=customer_id,
        data_kinds=kinds,
        fields=fields,
        reason=reason,
        origin=staff.origin[: audit.MAX_ORIGIN],
    )
    audit.append(session, event, now)


# ---------------------------------------------------------------- the HTTP door


@dataclass(frozen=True)
class Office:
    """What a route holds inside ``staff_access``: its transaction, who acts, in which
    role, and when; the reads and changes above, bound to them."""

    session: Session
    staff: SignedInStaff
    action: Action
    role: Role
    now: datetime

    @property
    def actor(self) -> str:
        """How an order's history names the staff member: by id, never by name."""
        return f"staff:{self.staff.id}"

    def read_record(
        self, parts: Sequence[Part], *, customer_id: int | None, subject: str, reason: str
    ) -> list[list[dict[str, Any]]]:
        return read_record(
            self.session, self.staff, self.action, parts,
            customer_id=customer_id, subject=subject, reason=reason, now=self.now,
        )  # fmt: skip

    def read_list(
        self, part: Table, listed: Sequence[Listed], *, reason: str
    ) -> list[dict[str, Any]]:
        return read_list(
            self.session, self.staff, self.action, part, listed, reason=reason, now=self.now
        )

    def read_sources(
        self,
        sources: Mapping[str, tuple[Table, tuple[str, ...]]],
        *,
        customer_id: int | None,
        subject: str,
        reason: str,
    ) -> frozenset[str]:
        return read_sources(
            self.session, self.staff, self.action, sources,
            customer_id=customer_id, subject=subject, reason=reason, now=self.now,
        )  # fmt: skip

    def change(
        self,
        *,
        customer_id: int | None,
        subject: str,
        fields: tuple[str, ...] = (),
        kinds: tuple[str, ...] = (),
        reason: str = "",
        entry: str = "change",
    ) -> None:
        change(
            self.session, self.staff, self.action, customer_id=customer_id, subject=subject,
            fields=fields, kinds=kinds, reason=reason, now=self.now, entry=entry,
        )  # fmt: skip


@contextmanager
def staff_access(request: Request, action: Action, *, write: bool = True) -> Iterator[Office]:
    """The route's transaction (a writing one by default: reads append their entries) for
    a staff member who may take ``action`` and has acknowledged the current policies.

    AccessDenied and PoliciesPending, raised here or by any read or change in the block,
    roll the block back, are appended as ``denied`` in a transaction of their own, and
    reach the client as 403."""
    moment = now(request)
    held: SignedInStaff | None = None
    try:
        with staff_session(request, write=write) as (session, staff):
            held = staff
            role = acting_role(staff.roles, action)
            require_policies(session, staff, moment)
            yield Office(session, staff, action, role, moment)
    except (AccessDenied, policies.PoliciesPending) as refused:
        if held is not None:
            _record_refusal(request, held, action, refused)
        raise


def _record_refusal(
    request: Request,
    staff: SignedInStaff,
    action: Action,
    refused: AccessDenied | policies.PoliciesPending,
) -> None:
    route = request.scope.get("route")
    what = f"{request.method} {getattr(route, 'path', request.url.path)} ({action.value})"
    if isinstance(refused, AccessDenied):
        why = f"{refused.action.value} not granted; holds {roles_text(staff.roles)}"
    else:
        why = (
            "policies not acknowledged ("
            + ", ".join(f"{p.kind} v{p.version}" for p in refused.pending)
            + ")"
        )
    event = staff_event(
        "denied",
        staff_id=staff.id,
        origin=staff.origin,
        reason=f"{what}: {why}"[: audit.MAX_REASON],
    )
    audit.record(app_state(request).sessions, event, now(request))
