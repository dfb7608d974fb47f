"""The audit log of staff access (P6, PCI DSS 10.2 and 10.3): append, seal, verify, read.

An append inserts the entry alone, in the caller's transaction: one statement, no lock,
its id from the database (issue 9: < 1 ms at p99 with two writers on PostgreSQL). The
sealer (``sealer.py``) chains the committed entries afterwards: each seal holds the
SHA-256 of the seal before it and of its entry (``chain.py`` defines the hashed form), so
changing, removing, reordering or slipping in an entry or a seal breaks the chain from
there on, and ``verify`` (``checking.py``) names the first entry where it breaks, and
reports the entries not sealed yet. Nothing here updates or deletes a row; on PostgreSQL
the shop's database user can be refused UPDATE and DELETE on both tables altogether
(docs/deployment.md).

An entry names ids, kinds and field names ("orders.ship_name"), never a personal value;
the reason is free text a staff member typed, capped and cleaned of control characters.
This domain imports no other: staff write to it, accounts read a customer's share of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit.chain import canonical_time as canonical_time
from quietshop.audit.chain import json_array

# Verifying, the head and sealing live in their own modules; these names are the public
# API the other domains and the commands use (``audit.verify``, ``audit.seal``, ...).
from quietshop.audit.checking import VERIFY_BATCH as VERIFY_BATCH
from quietshop.audit.checking import ChainHead as ChainHead
from quietshop.audit.checking import Progress as Progress
from quietshop.audit.checking import VerifyResult as VerifyResult
from quietshop.audit.checking import chain_head as chain_head
from quietshop.audit.checking import head_document as head_document
from quietshop.audit.checking import holds_head as holds_head
from quietshop.audit.checking import parse_head_document as parse_head_document
from quietshop.audit.checking import verify as verify
from quietshop.audit.models import AuditEntry, AuditSeal
from quietshop.audit.sealer import SealRun as SealRun
from quietshop.audit.sealer import Unsealed as Unsealed
from quietshop.audit.sealer import seal as seal
from quietshop.audit.sealer import unsealed as unsealed
from quietshop.audit.statements import insert_entry
from quietshop.audit.stored import names
from quietshop.db import MAX_ROW_ID, transaction
from quietshop.errors import InvalidInput

# What an entry can record. A new kind of staff action is added here on purpose.
ACTIONS: frozenset[str] = frozenset(
    {
        "read",  # personal data shown to a staff member
        "change",  # a record changed
        "denied",  # an attempt the role or the session did not allow (403, 401 "locked")
        "card_reveal",  # billing saw a full card number, with its reason
        "sign_in",
        "sign_in_failed",
        "sign_out",
        "session_expired",
        "lock",
        "unlock",
        "unlock_failed",
        "account_locked",  # the tenth failed try
        "enrol",
        "second_factor_added",
        "staff_change",  # a staff member added, disabled, enabled, or their roles changed
        "access_review",  # the owner confirmed who holds what
        "policy_publish",
        "policy_acknowledge",
        "caller_verified",  # customer number + postcode matched on a call
        "caller_verification_failed",
        "export",  # personal data exported by staff (CSV, a disclosure)
        "legal_disclosure",
        "audit_read",  # the audit log itself read or exported
    }
)
# What a customer is shown of their own entries (item 4): the times their data was
# opened, changed, revealed or handed over. Refusals touched nothing of theirs; a legal
# disclosure is left out until the shop decides what the law lets it say (see the report).
CUSTOMER_VISIBLE_ACTIONS: frozenset[str] = frozenset(
    {"read", "change", "card_reveal", "caller_verified", "export"}
)

MAX_REASON = 500
MAX_ROLE = 40
MAX_SUBJECT = 120
MAX_ORIGIN = 100
MAX_NAME = 100  # one data kind or field name
MAX_NAMES = 64  # data kinds or fields in one entry
MAX_PAGE = 500

# Control characters, and the bidirectional overrides that make a text read other than
# it is. A reason may keep its tabs and line breaks; no other text may.
_TRICKS = "\u202a-\u202e\u2066-\u2069\ud800-\udfff"  # bidi overrides, lone surrogates
_HOSTILE_IN_TEXT = re.compile(f"[\x00-\x1f\x7f-\x9f{_TRICKS}]")
_HOSTILE_IN_REASON = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_TRICKS}]")


class AuditEntryRefused(InvalidInput):
    """An entry the log will not take (too long, hostile characters, an unknown action):
    nothing was appended, and the field is named."""

    status_code = 422
    code = "audit_entry_refused"


@dataclass(frozen=True)
class AuditEvent:
    action: str  # one of ACTIONS
    staff_id: int | None  # None when unknown (a failed sign-in for an unknown email)
    role: str  # the role the staff member acted in ("" when none)
    subject: str  # the record: "customer:12", "order:34", "staff:5", ""
    customer_id: int | None  # whose personal data this touches (item 4), else None
    data_kinds: tuple[str, ...] = ()  # personal-data kinds touched: contact, address, ...
    fields: tuple[str, ...] = ()  # which fields, "orders.ship_name" style
    reason: str = ""  # the stated reason / purpose
    origin: str = ""  # the staff session's origin (IP): P5 allows it for staff


@dataclass(frozen=True)
class AuditFilter:
    """What the owner or the privacy officer look for; every field given must match."""

    staff_id: int | None = None
    role: str | None = None
    action: str | None = None
    subject: str | None = None
    customer_id: int | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before


@dataclass(frozen=True)
class AuditEntryOut:
    id: int
    at: datetime
    action: str
    staff_id: int | None
    role: str
    subject: str
    customer_id: int | None
    data_kinds: tuple[str, ...]
    fields: tuple[str, ...]
    reason: str
    origin: str
    # The entry's seal: "" and None until the sealer has chained it (seconds, in `serve`).
    prev_hash: str
    hash: str
    seq: int | None = None


@dataclass(frozen=True)
class CustomerAccess:
    """One staff access to a customer's data, as the customer sees it: never who."""

    at: datetime
    action: str
    role: str
    data_kinds: tuple[str, ...]
    reason: str


# ---------------------------------------------------------------- writing


def append(session: Session, event: AuditEvent, now: datetime) -> int:
    """Append in the caller's transaction (a change and its entry commit together);
    returns the entry id. One INSERT, no lock: the sealer chains the entry once it is
    committed. On SQLite the transaction must be a writing one (``db.transaction`` /
    ``write_session``)."""
    checked = _checked(event)
    if now.tzinfo is None:
        raise ValueError("naive datetime given; the audit log stores UTC-aware times only")
    return insert_entry(session, _stored(checked, now))


def record(sessions: sessionmaker[Session], event: AuditEvent, now: datetime) -> int:
    """Append in a transaction of its own, committed now: for denials and failed sign-ins,
    which must be kept even though the request that caused them is refused/rolled back.

    Call it outside the request's writing transaction (from a reading session, or after
    the writing one has ended): on SQLite a second writer in the same thread would wait
    for the first one's write lock until the busy timeout ran out."""
    with transaction(sessions) as session:
        return append(session, event, now)


def _stored(event: AuditEvent, now: datetime) -> dict[str, Any]:
    return {
        "at": now,
        "action": event.action,
        "staff_id": event.staff_id,
        "role": event.role,
        "subject": event.subject,
        "customer_id": event.customer_id,
        "data_kinds": json_array(event.data_kinds),
        "fields": json_array(event.fields),
        "reason": event.reason,
        "origin": event.origin,
    }


def _checked(event: AuditEvent) -> AuditEvent:
    """The event as it will be stored, or AuditEntryRefused naming the field."""
    if event.action not in ACTIONS:
        raise AuditEntryRefused("action", f"unknown action (one of: {', '.join(sorted(ACTIONS))})")
    for name in ("staff_id", "customer_id"):
        value = getattr(event, name)
        if value is not None and (type(value) is not int or not 1 <= value <= MAX_ROW_ID):
            raise AuditEntryRefused(name, "must be a positive id or none")
    for name, limit in (("role", MAX_ROLE), ("subject", MAX_SUBJECT), ("origin", MAX_ORIGIN)):
        _check_text(name, getattr(event, name), limit, _HOSTILE_IN_TEXT)
    for name in ("data_kinds", "fields"):
        values = getattr(event, name)
        if not isinstance(values, tuple) or len(values) > MAX_NAMES:
            raise AuditEntryRefused(name, f"must be a tuple of at most {MAX_NAMES} names")
        for value in values:
            _check_text(name, value, MAX_NAME, _HOSTILE_IN_TEXT)
            if not value:
                raise AuditEntryRefused(name, "a name cannot be empty")
    reason = event.reason.strip() if isinstance(event.reason, str) else event.reason
    _check_text("reason", reason, MAX_REASON, _HOSTILE_IN_REASON)
    return replace(event, reason=reason)


def _check_text(field: str, value: object, limit: int, hostile: re.Pattern[str]) -> None:
    if not isinstance(value, str):
        raise AuditEntryRefused(field, "must be text")
    if len(value) > limit:
        raise AuditEntryRefused(field, f"at most {limit} characters, not {len(value)}")
    if hostile.search(value):
        raise AuditEntryRefused(field, "control characters are not allowed")


# ---------------------------------------------------------------- counting


def entry_count(session: Session) -> int:
    """Entries in the log, sealed or not."""
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


# ---------------------------------------------------------------- reading


def entries(
    session: Session, filters: AuditFilter, limit: int, after_id: int | None = None
) -> list[AuditEntryOut]:
    """The entries matching every given filter, newest first, at most ``limit`` of them.
    The next page: pass the last id seen as ``after_id`` (entries older than it follow).
    Reading the log is itself an entry, appended by the caller who knows who reads."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_PAGE}")
    if after_id is not None and not 1 <= after_id <= MAX_ROW_ID:
        raise InvalidInput("after_id", "must be an entry id")
    statement = (
        select(AuditEntry, AuditSeal.seq, AuditSeal.prev_hash, AuditSeal.hash)
        .outerjoin(AuditSeal, AuditSeal.entry_id == AuditEntry.id)
        .where(*_conditions(filters))
    )
    if after_id is not None:
        statement = statement.where(AuditEntry.id < after_id)
    rows = session.execute(statement.order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [_out(entry, seq, prev_hash, digest) for entry, seq, prev_hash, digest in rows]


def _conditions(filters: AuditFilter) -> list[Any]:
    if filters.action is not None and filters.action not in ACTIONS:
        raise InvalidInput("action", "unknown action")
    for name in ("since", "until"):
        moment = getattr(filters, name)
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(name, "needs a time zone")
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidInput("until", "is before since")
    conditions: list[Any] = []
    for name in ("staff_id", "role", "action", "subject", "customer_id"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(AuditEntry, name) == value)
    if filters.since is not None:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEntry.at < filters.until)
    return conditions


def _out(
    row: AuditEntry, seq: int | None, prev_hash: str | None, digest: str | None
) -> AuditEntryOut:
    return AuditEntryOut(
        id=row.id,
        at=row.at,
        action=row.action,
        staff_id=row.staff_id,
        role=row.role,
        subject=row.subject,
        customer_id=row.customer_id,
        data_kinds=names(row.data_kinds),
        fields=names(row.fields),
        reason=row.reason,
        origin=row.origin,
        prev_hash=prev_hash or "",
        hash=digest or "",
        seq=seq,
    )


def accesses_for_customer(
    session: Session, customer_id: int, limit: int = 200
) -> list[CustomerAccess]:
    """A customer's own share of the log (item 4), newest first: when, in which role, what
    kind of data and why. Never who: no staff id, name or origin leaves this function."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_PAGE}")
    rows = session.execute(
        select(
            AuditEntry.at, AuditEntry.action, AuditEntry.role, AuditEntry.data_kinds,
            AuditEntry.reason,
        )
        .where(
            AuditEntry.customer_id == customer_id,
            AuditEntry.action.in_(sorted(CUSTOMER_VISIBLE_ACTIONS)),
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    return [
        CustomerAccess(at, action, role, names(kinds), reason)
        for at, action, role, kinds, reason in rows
    ]


def entries_since(session: Session, since: datetime) -> int:
    """How many entries were appended from ``since`` on (ix_audit_entries_at)."""
    counted = select(func.count()).select_from(AuditEntry).where(AuditEntry.at >= since)
    return session.execute(counted).scalar_one()


# `quietshop audit verify` appends an ``audit_read`` of this subject before it walks.
VERIFY_SUBJECT = "audit:chain"


def last_verified_at(session: Session) -> datetime | None:
    """When the chain was last verified (the verify's own entry); None: never."""
    return session.execute(
        select(AuditEntry.at)
        .where(AuditEntry.action == "audit_read", AuditEntry.subject == VERIFY_SUBJECT)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).scalar()
