"""The audit log of staff access (P6, PCI DSS 10.2 and 10.3): append, verify, read.

Every entry holds the SHA-256 of the one before it (``chain.py`` defines the hashed form),
so changing, removing, reordering or slipping in an entry breaks the chain from there on,
and ``verify`` names the first entry where it breaks. Nothing here updates or deletes an
entry; on PostgreSQL the shop's database user can be refused UPDATE and DELETE on the
table altogether (docs/deployment.md).

Appends are serialised so the chain stays one line with any number of writers. On
PostgreSQL an append takes a transaction-scoped advisory lock and then reads the last
entry: no SELECT FOR UPDATE (which needs UPDATE rights) and no head row to update. On
SQLite the writer already holds the database's write lock (``db.transaction`` begins
IMMEDIATE, and queues this process's writers on one lock per engine). The id is the last
id + 1, given by the writer, so even a writer that skipped the lock could not fork the
chain: its insert would collide on the primary key and fail.

An entry names ids, kinds and field names ("orders.ship_name"), never a personal value;
the reason is free text a staff member typed, capped and cleaned of control characters.
This domain imports no other: staff write to it, accounts read a customer's share of it.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit.chain import (
    GENESIS,
    ChainRow,
    canonical_time,
    entry_hash,
    hash_of,
    json_array,
)
from quietshop.audit.models import AuditEntry
from quietshop.audit.statements import Appender
from quietshop.db import transaction
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
_MAX_ID = 2**31 - 1

# Control characters, and the bidirectional overrides that make a text read other than
# it is. A reason may keep its tabs and line breaks; no other text may.
_TRICKS = "\u202a-\u202e\u2066-\u2069\ud800-\udfff"  # bidi overrides, lone surrogates
_HOSTILE_IN_TEXT = re.compile(f"[\x00-\x1f\x7f-\x9f{_TRICKS}]")
_HOSTILE_IN_REASON = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_TRICKS}]")

VERIFY_BATCH = 5_000


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
class ChainHead:
    id: int
    hash: str
    at: datetime


@dataclass(frozen=True)
class VerifyResult:
    count: int  # entries found intact (all of them when the chain is intact)
    first_broken_id: int | None
    problem: str  # why that entry is broken; "" when intact
    head: ChainHead | None  # the last intact entry
    seconds: float

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None

    @property
    def rate(self) -> float:
        """Entries verified per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


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
    prev_hash: str
    hash: str


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
    returns the entry id. On PostgreSQL the append lock is held until that transaction
    ends, so append as late in it as the change allows. On SQLite the transaction must be
    a writing one (``db.transaction`` / ``write_session``)."""
    checked = _checked(event)
    if now.tzinfo is None:
        raise ValueError("naive datetime given; the audit log stores UTC-aware times only")
    appender = Appender(session)
    last = appender.lock_and_read_last()
    previous_id, previous_hash = (last[0], last[1]) if last is not None else (0, GENESIS)
    row = ChainRow(
        id=previous_id + 1,
        at=now,
        action=checked.action,
        staff_id=checked.staff_id,
        role=checked.role,
        subject=checked.subject,
        customer_id=checked.customer_id,
        data_kinds=checked.data_kinds,
        fields=checked.fields,
        reason=checked.reason,
        origin=checked.origin,
        prev_hash=previous_hash,
    )
    appender.insert(_stored(row))
    return row.id


def record(sessions: sessionmaker[Session], event: AuditEvent, now: datetime) -> int:
    """Append in a transaction of its own, committed now: for denials and failed sign-ins,
    which must be kept even though the request that caused them is refused/rolled back.

    Call it outside the request's writing transaction (from a reading session, or after
    the writing one has ended): on SQLite a second writer in the same thread would wait
    for the first one's write lock until the busy timeout ran out."""
    with transaction(sessions) as session:
        return append(session, event, now)


def _stored(row: ChainRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "action": row.action,
        "staff_id": row.staff_id,
        "role": row.role,
        "subject": row.subject,
        "customer_id": row.customer_id,
        "data_kinds": json_array(row.data_kinds),
        "fields": json_array(row.fields),
        "reason": row.reason,
        "origin": row.origin,
        "prev_hash": row.prev_hash,
        "hash": entry_hash(row),
    }


def _checked(event: AuditEvent) -> AuditEvent:
    """The event as it will be stored, or AuditEntryRefused naming the field."""
    if event.action not in ACTIONS:
        raise AuditEntryRefused("action", f"unknown action (one of: {', '.join(sorted(ACTIONS))})")
    for name in ("staff_id", "customer_id"):
        value = getattr(event, name)
        if value is not None and (type(value) is not int or not 1 <= value <= _MAX_ID):
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


# ---------------------------------------------------------------- the head and verifying


def chain_head(session: Session) -> ChainHead | None:
    """The id, hash and time of the last entry; None for an empty log."""
    last = session.execute(
        select(AuditEntry.id, AuditEntry.hash, AuditEntry.at)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    return ChainHead(last[0], last[1], last[2]) if last is not None else None


def entry_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


def holds_head(session: Session, head: ChainHead) -> bool:
    """Whether an entry with this id still has this hash (an exported head, checked later:
    the chain up to it is then as it was when the head was exported)."""
    found = session.execute(select(AuditEntry.hash).where(AuditEntry.id == head.id)).scalar()
    return found == head.hash


Progress = Callable[[int, int], None]  # (entries done, entries in all)

_CHAIN_COLUMNS = (
    AuditEntry.id,
    # Read as the database holds it and converted entry by entry (``_time_reader``): on
    # SQLite a tampered time can be any text, and must name its entry, not stop the walk.
    type_coerce(AuditEntry.at, String).label("at"),
    AuditEntry.action,
    AuditEntry.staff_id,
    AuditEntry.role,
    AuditEntry.subject,
    AuditEntry.customer_id,
    AuditEntry.data_kinds,
    AuditEntry.fields,
    AuditEntry.reason,
    AuditEntry.origin,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)


def verify(session: Session, *, progress: Progress | None = None) -> VerifyResult:
    """Walk the chain from the first entry; stop at the first broken one and name it.

    An entry is broken when its id is not the one after the previous entry's (entries
    missing or moved), when its ``prev_hash`` is not the previous entry's hash (an entry
    removed, reordered or slipped in before it), or when its own hash does not match its
    content (a value changed). An empty log is intact with 0 entries. Entries appended
    while it runs are walked too; the progress total is the last id at the start."""
    started = time.perf_counter()
    last = chain_head(session)
    total = last.id if last is not None else 0
    count, expected_id, expected_prev = 0, 1, GENESIS
    head: ChainHead | None = None
    read_at = _time_reader(session)
    for row in _rows_in_order(session):
        at, problem = _problem(row, read_at, expected_id, expected_prev)
        if problem or at is None:
            return VerifyResult(count, row[0], problem, head, time.perf_counter() - started)
        count, expected_id, expected_prev = count + 1, row[0] + 1, row[12]
        head = ChainHead(row[0], row[12], at)
        if progress is not None and count % VERIFY_BATCH == 0:
            progress(count, max(total, count))
    if progress is not None:
        progress(count, max(total, count))
    return VerifyResult(count, None, "", head, time.perf_counter() - started)


def _rows_in_order(session: Session) -> Iterator[Sequence[Any]]:
    """Every entry by id, in batches: keyset pages, so a million rows never sit in memory."""
    after = None
    while True:
        statement = select(*_CHAIN_COLUMNS).order_by(AuditEntry.id).limit(VERIFY_BATCH)
        if after is not None:
            statement = statement.where(AuditEntry.id > after)
        rows: Sequence[Any] = session.execute(statement).all()
        yield from rows
        if len(rows) < VERIFY_BATCH:
            return
        after = rows[-1][0]


def _time_reader(session: Session) -> Callable[[Any], Any]:
    """The column type's own conversion of a stored time, as SQLAlchemy reads it."""
    dialect = session.get_bind().dialect
    column_type = AuditEntry.__table__.c.at.type
    processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return processor if processor is not None else (lambda value: value)


def _problem(
    row: Sequence[Any], read_at: Callable[[Any], Any], expected_id: int, expected_prev: str
) -> tuple[datetime | None, str]:
    """The entry's time, and why the entry is broken ("" when it is not)."""
    entry_id = row[0]
    if entry_id != expected_id:
        before = expected_id - 1
        if entry_id > expected_id:
            return (
                None,
                f"entry {entry_id} follows entry {before}: entries are missing between them",
            )
        return None, f"entry {entry_id} follows entry {before}: ids out of order"
    if row[11] != expected_prev:
        return None, f"its prev_hash is not the hash of entry {entry_id - 1}"
    try:
        at: datetime = read_at(row[1])
    except (ValueError, TypeError):
        return None, "its time is not a time (a value was changed)"
    try:
        kinds, fields = _names(row[7]), _names(row[8])
    except (ValueError, TypeError):
        return None, "its data_kinds or fields are not a JSON array of text"
    try:
        computed = hash_of(entry_id, at, *row[2:7], kinds, fields, *row[9:12])
    except (TypeError, AttributeError):  # SQLite keeps whatever type was written
        return None, "a value has the wrong type (a value was changed)"
    if computed != row[12]:
        return None, "its content does not match its hash (a value was changed)"
    return at, ""


@functools.lru_cache(maxsize=4096)  # a few field lists recur across a million entries
def _names(stored: str) -> tuple[str, ...]:
    values = json.loads(stored)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("not a JSON array of strings")
    return tuple(values)


# ---------------------------------------------------------------- the exported head


def head_document(session: Session) -> str:
    """The chain head as JSON (id, hash, at, count), to keep off the machine: a later
    ``verify --head`` shows whether the chain up to it is still as it was."""
    head = chain_head(session)
    document: dict[str, Any] = {"id": None, "hash": None, "at": None, "count": 0}
    if head is not None:
        count = session.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= head.id)
        ).scalar_one()
        document.update(id=head.id, hash=head.hash, at=canonical_time(head.at), count=count)
    return json.dumps(document, indent=2) + "\n"


def parse_head_document(content: str) -> ChainHead:
    """An exported head read back; InvalidInput naming "head" when it is not one."""
    try:
        document = json.loads(content)
        entry_id, digest, at = document["id"], document["hash"], document["at"]
        if type(entry_id) is not int or entry_id < 1:
            raise ValueError("id")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("hash")
        moment = datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(
            "head", "not an exported chain head (JSON with id, hash and at)"
        ) from None
    return ChainHead(entry_id, digest, moment)


# ---------------------------------------------------------------- reading


def entries(
    session: Session, filters: AuditFilter, limit: int, after_id: int | None = None
) -> list[AuditEntryOut]:
    """The entries matching every given filter, newest first, at most ``limit`` of them.
    The next page: pass the last id seen as ``after_id`` (entries older than it follow).
    Reading the log is itself an entry, appended by the caller who knows who reads."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("limit", f"from 1 to {MAX_PAGE}")
    if after_id is not None and not 1 <= after_id <= _MAX_ID:
        raise InvalidInput("after_id", "must be an entry id")
    statement = select(AuditEntry).where(*_conditions(filters))
    if after_id is not None:
        statement = statement.where(AuditEntry.id < after_id)
    rows = session.execute(statement.order_by(AuditEntry.id.desc()).limit(limit)).scalars()
    return [_out(row) for row in rows]


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


def _out(row: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=row.id,
        at=row.at,
        action=row.action,
        staff_id=row.staff_id,
        role=row.role,
        subject=row.subject,
        customer_id=row.customer_id,
        data_kinds=_names(row.data_kinds),
        fields=_names(row.fields),
        reason=row.reason,
        origin=row.origin,
        prev_hash=row.prev_hash,
        hash=row.hash,
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
        CustomerAccess(at, action, role, _names(kinds), reason)
        for at, action, role, kinds, reason in rows
    ]
