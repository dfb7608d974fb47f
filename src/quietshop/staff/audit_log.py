"""Reading the audit chain in the back office (issue 9: "the owner and privacy officer read
and filter it"; P6: "every read of the audit log itself" is an entry).

The rules behind ``audit_api.py``: the filters as typed in a query string, read into the
audit domain's ``AuditFilter`` (a malformed one, an unknown parameter too, is 422
``invalid_filter`` naming it); the ``audit_read`` entry that names what was looked for;
the staff names beside each entry; the CSV form of a page; and how large a chain may be
verified inside a request.

Filters a customer by number, never by name: the chain itself names customers by id, and
the number is turned into the id here (closed accounts too: their entries are kept). The
check digit is checked before any query (P9), so a mistyped number is refused, not
"nothing found".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.db import MAX_ROW_ID
from quietshop.errors import InvalidInput, QuietshopError
from quietshop.staff.models import StaffMember
from quietshop.staff.roles import Role

DEFAULT_PAGE = 50
MAX_PAGE = 200  # rows a screen shows; entries() itself takes up to audit.MAX_PAGE
CSV_MAX_ROWS = 10_000  # one file; the next one starts at its x-next-before
_MAX_TIME_TEXT = 40
_HOSTILE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Measured here with bench/audit.py (200,000 sealed entries, the machine shared with other
# work): the walk checks ~57,000 entries a second on SQLite and ~37,000 on PostgreSQL, so a
# million take ~18-27 s. Inline, a request waits at most about 2-3 s; a longer walk is the
# command's, which shows its progress.
VERIFY_INLINE_MAX = 100_000
# Who else writes entries: the command line ("operator"); staff events act in no role ("").
ENTRY_ROLES: frozenset[str] = frozenset({*(role.value for role in Role), "operator"})

PARAMETERS: Mapping[str, str] = {
    "action": "one of the audit chain's actions (read, change, denied, ...)",
    "staff_id": "the staff member's id",
    "role": "the role acted in (owner, billing, ...; operator for the command line)",
    "customer_number": "a customer number (closed accounts too)",
    "subject": "the record exactly as the chain names it (customer:12, order:34, staff:5)",
    "since": "at or after this time (ISO 8601 with a time zone: 2026-12-01T09:00:00+01:00)",
    "until": "before this time (ISO 8601 with a time zone)",
    "limit": f"entries a page, 1 to {MAX_PAGE} (default {DEFAULT_PAGE})",
    "before": "next_before of the page before: entries older than that id",
}
CSV_COLUMNS = (
    "id",
    "at",
    "action",
    "staff_id",
    "staff_name",
    "role",
    "subject",
    "customer_id",
    "data_kinds",
    "fields",
    "reason",
    "origin",
    "prev_hash",
    "hash",
    "seq",
)


class InvalidFilter(InvalidInput):
    """A filter of the audit log that cannot be read: 422 naming the parameter."""

    status_code = 422
    code = "invalid_filter"


class ChainTooLongToVerifyHere(QuietshopError):
    """Over ``VERIFY_INLINE_MAX`` entries the walk belongs on the shop's machine."""

    status_code = 409
    code = "verify_with_the_command"

    def __init__(self, count: int) -> None:
        super().__init__(
            f"The chain holds {count:,} entries, more than the {VERIFY_INLINE_MAX:,} verified "
            "here (20 to 30 seconds a million): run `quietshop audit verify` on the shop's "
            "machine, which shows its progress and names the first broken entry."
        )
        self.count = count

    def extra(self) -> dict[str, Any]:
        return {"entries": self.count, "limit": VERIFY_INLINE_MAX}


@dataclass(frozen=True)
class AuditQuery:
    """The filters as read, and how they were typed (for the ``audit_read`` entry)."""

    filters: audit.AuditFilter
    limit: int
    before: int | None
    described: str  # "action=read, customer_number=2442725094"
    nothing_matches: bool = False  # a customer number never issued: no entry can match


# ---------------------------------------------------------------- reading the filters

CustomerIdFor = Callable[[str], int | None]  # a typed number -> its id (None: never issued)


def _one(parameters: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = parameters.get(name) or []
    if len(values) > 1:
        raise InvalidFilter(name, "give it once")
    return values[0] if values else None


def _check_text(name: str, value: str, limit: int) -> str:
    """A filter's text as typed: no entry holds control characters or bidi overrides (the
    chain refuses them), so neither may a filter, which the read's own entry names."""
    if len(value) > limit:
        raise InvalidFilter(name, f"at most {limit} characters")
    if _HOSTILE.search(value):
        raise InvalidFilter(name, "control characters are not allowed")
    return value


def _number(name: str, typed: str | None, low: int, high: int) -> int | None:
    if typed is None:
        return None
    text = typed.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or not low <= int(text) <= high:
        raise InvalidFilter(name, f"a whole number from {low} to {high}")
    return int(text)


def _time(name: str, typed: str | None) -> datetime | None:
    if typed is None:
        return None
    text = _check_text(name, typed.strip(), _MAX_TIME_TEXT)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidFilter(name, "not a time: write 2026-12-01T09:00:00+01:00 or ...Z") from None
    if moment.tzinfo is None:
        raise InvalidFilter(name, "needs a time zone (Z or +01:00): the log keeps UTC")
    return moment


def _choice(name: str, typed: str | None, allowed: frozenset[str]) -> str | None:
    if typed is None:
        return None
    value = _check_text(name, typed.strip(), 40)
    if value not in allowed:
        raise InvalidFilter(name, f"unknown {name} (one of: {', '.join(sorted(allowed))})")
    return value


def _customer(typed: str | None, customer_id_for: CustomerIdFor) -> tuple[int | None, bool]:
    """The customer id to filter by, and whether no entry can match (a number never
    issued). A mistyped number (its check digit wrong) is refused."""
    if typed is None:
        return None, False
    _check_text("customer_number", typed, 40)
    try:
        found = customer_id_for(typed)
    except InvalidInput:
        raise InvalidFilter("customer_number", "not a customer number (check digit)") from None
    return found, found is None


def read_query(
    parameters: Mapping[str, Sequence[str]], customer_id_for: CustomerIdFor
) -> AuditQuery:
    """The audit log's filters as typed in the query string (every value a list of texts),
    or InvalidFilter naming the first one that is wrong, an unknown parameter too."""
    unknown = sorted(name[:40] for name in parameters if name not in PARAMETERS)
    if unknown:
        raise InvalidFilter(unknown[0], f"no such filter (filters: {', '.join(PARAMETERS)})")
    customer_id, nothing = _customer(_one(parameters, "customer_number"), customer_id_for)
    subject = _one(parameters, "subject")
    filters = audit.AuditFilter(
        staff_id=_number("staff_id", _one(parameters, "staff_id"), 1, MAX_ROW_ID),
        role=_choice("role", _one(parameters, "role"), ENTRY_ROLES),
        action=_choice("action", _one(parameters, "action"), audit.ACTIONS),
        subject=_check_text("subject", subject.strip(), audit.MAX_SUBJECT) if subject else None,
        customer_id=customer_id,
        since=_time("since", _one(parameters, "since")),
        until=_time("until", _one(parameters, "until")),
    )
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidFilter("until", "is before since")
    limit = _number("limit", _one(parameters, "limit"), 1, MAX_PAGE)
    return AuditQuery(
        filters=filters,
        limit=limit or DEFAULT_PAGE,
        before=_number("before", _one(parameters, "before"), 1, MAX_ROW_ID),
        described=_described(parameters),
        nothing_matches=nothing,
    )


def _described(parameters: Mapping[str, Sequence[str]]) -> str:
    """The filters as typed, for the ``audit_read`` entry: checked already, so no control
    character is in them; cut to what an entry's reason holds."""
    named = [f"{name}={parameters[name][0]}" for name in PARAMETERS if parameters.get(name)]
    return ", ".join(named) or "no filter"


# ---------------------------------------------------------------- the entries


@dataclass(frozen=True)
class AuditPage:
    rows: list[dict[str, Any]]  # audit_entries columns by name
    staff_names: dict[int, str]  # the staff ids on the page -> their names
    next_before: int | None


def page(session: Session, query: AuditQuery) -> AuditPage:
    """The entries matching the query, newest first, with the names of the staff in them."""
    if query.nothing_matches:
        return AuditPage([], {}, None)
    found = audit.entries(session, query.filters, query.limit + 1, query.before)
    shown = found[: query.limit]
    rows = [asdict(entry) for entry in shown]
    more = len(found) > query.limit
    return AuditPage(rows, staff_names(session, rows), shown[-1].id if more and shown else None)


def staff_names(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    ids = sorted({row["staff_id"] for row in rows if row["staff_id"] is not None})
    if not ids:
        return {}
    found = session.execute(
        select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(ids))
    ).all()
    return {staff_id: name for staff_id, name in found}


def read_entry(query: AuditQuery, what: str) -> tuple[str, str]:
    """The subject and reason of the ``audit_read`` entry for one read."""
    reason = f"{what}: {query.described}"
    if query.before is not None and "before=" not in reason:
        reason += f", before={query.before}"
    return "audit:entries", reason[: audit.MAX_REASON]


# ---------------------------------------------------------------- the CSV file


def csv_file(
    session: Session, query: AuditQuery, columns: Sequence[str] = CSV_COLUMNS
) -> tuple[str, int | None]:
    """The filtered entries as CSV (``columns`` of CSV_COLUMNS: those the reader may read),
    newest first, at most CSV_MAX_ROWS of them, and the id to continue before when more
    follow. Every text cell is neutralised so that no spreadsheet runs it as a formula: a
    reason is text a staff member typed, a subject or an origin may be too."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    if query.nothing_matches:
        return out.getvalue(), None
    before, written = query.before, 0
    while (room := CSV_MAX_ROWS - written) > 0:
        wanted = min(audit.MAX_PAGE, room)
        rows = [asdict(entry) for entry in audit.entries(session, query.filters, wanted, before)]
        names = staff_names(session, rows)
        writer.writerows(_csv_row(row, names, columns) for row in rows)
        written += len(rows)
        if len(rows) < wanted:
            return out.getvalue(), None
        before = rows[-1]["id"]
    more = bool(audit.entries(session, query.filters, 1, before))
    return out.getvalue(), before if more else None


def _csv_row(row: Mapping[str, Any], names: Mapping[int, str], columns: Sequence[str]) -> list[str]:
    values = {**row, "staff_name": names.get(row["staff_id"], "")}
    return [_cell(values.get(column)) for column in columns]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        value = " ".join(value)
    return catalog.csv_io.safe_cell(str(value))


# ---------------------------------------------------------------- verifying


def check_verifiable_here(session: Session) -> int:
    """The number of entries, or ChainTooLongToVerifyHere above VERIFY_INLINE_MAX."""
    count = audit.entry_count(session)
    if count > VERIFY_INLINE_MAX:
        raise ChainTooLongToVerifyHere(count)
    return count
