"""The audit log in the back office, under /api/v1/staff/audit (issue 9: "the owner and
privacy officer read and filter it"; P6: "every read of the audit log itself" is an entry).

- ``GET /audit``: entries newest first, filtered by action, staff id, role, customer
  number, subject and time, a page at a time (``before``: the keyset cursor entries()
  offers, an entry id); each with the staff member's name.
- ``GET /audit.csv``: the same filtered view as a file, every text cell neutralised so no
  spreadsheet runs it as a formula.
- ``GET /audit/head``: how many entries, and the chain head's id and hash.
- ``POST /audit/verify``: the verify walk, inline up to ``audit_log.VERIFY_INLINE_MAX``
  entries (about two seconds); above that 409 ``verify_with_the_command``, pointing to
  ``quietshop audit verify`` (a million entries take 20-30 s: no request should wait that).

Every route declares ``Action.READ_AUDIT`` (the owner and the privacy officer) and goes
through ``access.staff_access``: any other role is refused with 403 and a ``denied`` entry
before any filter is read. Each read appends one ``audit_read`` entry naming the filters,
committed with the read (a verify's before the walk, which then runs in a reading session
so that a long walk holds no write lock). Filters are read here, not by the framework, so a
malformed or unknown one is 422 ``invalid_filter`` naming the parameter.

Routes are plain ``def`` (each read writes its entry), run in the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from sqlalchemy import Table

from quietshop.accounts import service as accounts
from quietshop.audit import service as audit
from quietshop.staff import audit_log
from quietshop.staff.access import ACTION_KEY, Listed, Office, declares, staff_access, table
from quietshop.staff.audit_schemas import AuditEntryOut, AuditPageOut, ChainHeadOut, VerifyOut
from quietshop.staff.need_to_know import Action, computed, readable_columns
from quietshop.web.dependencies import read_session
from quietshop.web.routing import DomainSite, Responses, SignedInRoute

PREFIX = "/api/v1/staff/audit"
router = APIRouter(prefix="/api/v1/staff", tags=["staff"], route_class=SignedInRoute)

REFUSED: Responses = {
    403: {"description": "forbidden (your roles do not allow this) or policies_pending"},
}
FILTERED: Responses = {
    **REFUSED,
    422: {"description": "invalid_filter, naming the parameter (an unknown one too)"},
}
READ_REASON = "read the audit log"
CSV_REASON = "exported the audit log as CSV"

F = TypeVar("F", bound=Callable[..., Any])


def _route(method: str, path: str, **kwargs: Any) -> Callable[[F], F]:
    """An audit route: each declares READ_AUDIT (the route-coverage test reads it)."""
    extra = {**declares(Action.READ_AUDIT), **kwargs.pop("openapi_extra", {})}
    add = getattr(router, method.lower())
    decorator: Callable[[F], F] = add(
        path, openapi_extra=extra, response_model_exclude_unset=True, **kwargs
    )
    return decorator


def _filter_parameters() -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
         "description": description}
        for name, description in audit_log.PARAMETERS.items()
    ]  # fmt: skip


def _query(request: Request, office: Office) -> audit_log.AuditQuery:
    parameters = {name: request.query_params.getlist(name) for name in request.query_params}
    return audit_log.read_query(
        parameters, lambda typed: accounts.customer_id_for_any_number(office.session, typed)
    )


def _record_read(office: Office, subject: str, reason: str, customer_id: int | None) -> None:
    office.change(customer_id=customer_id, subject=subject, reason=reason, entry="audit_read")


def _chain_tables() -> list[Table]:
    """The tables an entry's values come from: audit_entries, and the chain's seals where
    the hashes are kept apart from the entries."""
    tables = [table("audit_entries")]
    with suppress(KeyError):
        tables.append(table("audit_seals"))
    return tables


def _chain_part(row: Mapping[str, Any]) -> dict[str, Any]:
    columns = table("audit_entries").columns
    return {name: value for name, value in row.items() if name in columns}


def _seal(row: Mapping[str, Any]) -> tuple[tuple[Table, dict[str, Any]], ...]:
    """The entry's values that are no column of audit_entries (its seal's hashes), cut
    through the table that holds them."""
    entries_table, *others = _chain_tables()
    parts = []
    for other in others:
        values = {
            name: value
            for name, value in row.items()
            if name not in entries_table.columns and name in other.columns
        }
        if values:
            parts.append((other, values))
    return tuple(parts)


def _listed(rows: Sequence[Mapping[str, Any]], names: Mapping[int, str]) -> list[Listed]:
    staff_members = table("staff_members")
    listed = []
    for row in rows:
        more: tuple[tuple[Table, dict[str, Any]], ...] = _seal(row)
        if row["staff_id"] in names:
            name = computed(names[row["staff_id"]], "name")
            more = (*more, (staff_members, {"staff_name": name}))
        listed.append(Listed(_chain_part(row), None, f"audit:{row['id']}", more=more))
    return listed


@_route(
    "GET", "/audit", response_model=AuditPageOut, responses=FILTERED,
    openapi_extra={"parameters": _filter_parameters()},
)  # fmt: skip
def entries(request: Request) -> AuditPageOut:
    """Entries newest first, every given filter matching; ``next_before`` for the next
    page. The read itself is appended as an ``audit_read`` entry naming the filters."""
    with staff_access(request, Action.READ_AUDIT) as office:
        query = _query(request, office)
        found = audit_log.page(office.session, query)
        shown = office.read_list(
            table("audit_entries"), _listed(found.rows, found.staff_names), reason=READ_REASON
        )
        subject, reason = audit_log.read_entry(query, READ_REASON)
        _record_read(office, subject, reason, query.filters.customer_id)
    return AuditPageOut(
        entries=[AuditEntryOut(**row) for row in shown], next_before=found.next_before
    )


def _csv_columns(office: Office) -> tuple[str, ...]:
    """The file's columns the reader's roles may read (as the JSON is cut)."""
    roles = office.staff.roles
    readable = set().union(*(readable_columns(roles, part) for part in _chain_tables()))
    if "name" in readable_columns(roles, table("staff_members")):
        readable.add("staff_name")
    return tuple(column for column in audit_log.CSV_COLUMNS if column in readable)


@_route(
    "GET", "/audit.csv", response_class=Response, openapi_extra={
        "parameters": _filter_parameters()},
    responses={
        **FILTERED,
        200: {"content": {"text/csv": {}},
              "description": f"At most {audit_log.CSV_MAX_ROWS:,} entries, newest first; "
                             "x-next-before names where the next file starts"},
    },
)  # fmt: skip
def entries_csv(request: Request) -> Response:
    """The filtered entries as a CSV file (formula cells neutralised); an ``audit_read``
    entry of its own."""
    with staff_access(request, Action.READ_AUDIT) as office:
        query = _query(request, office)
        text, next_before = audit_log.csv_file(office.session, query, _csv_columns(office))
        subject, reason = audit_log.read_entry(query, CSV_REASON)
        _record_read(office, subject, reason, query.filters.customer_id)
    headers = {"content-disposition": 'attachment; filename="audit-log.csv"'}
    if next_before is not None:
        headers["x-next-before"] = str(next_before)
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


@_route("GET", "/audit/head", response_model=ChainHeadOut, responses=REFUSED)
def head(request: Request) -> ChainHeadOut:
    """The number of entries and the chain head, this read's own entry included (as
    ``quietshop audit export`` does: the head read is the entry that says it was read)."""
    with staff_access(request, Action.READ_AUDIT) as office:
        _record_read(office, "audit:head", "read the chain head", None)
        found = audit.chain_head(office.session)
        count = audit.entry_count(office.session)
    return ChainHeadOut(
        entries=count,
        head_id=found.id if found else None,
        head_hash=found.hash if found else None,
        head_at=found.at if found else None,
    )


@_route(
    "POST", "/audit/verify", response_model=VerifyOut,
    responses={
        **REFUSED,
        409: {"description": "verify_with_the_command: the chain is longer than is "
                             f"verified here ({audit_log.VERIFY_INLINE_MAX:,} entries)"},
    },
)  # fmt: skip
def verify(request: Request) -> VerifyOut:
    """Walk the chain and answer intact, or the first broken entry and why. The read is
    appended first, then the walk runs in a reading session (no write lock held)."""
    with staff_access(request, Action.READ_AUDIT) as office:
        audit_log.check_verifiable_here(office.session)
        _record_read(office, "audit:chain", "verified the chain from the back office", None)
        moment = office.now
    with read_session(request) as session:
        result = audit.verify(session, now=moment)
    return VerifyOut(
        intact=result.intact,
        passed=result.passed,
        entries_checked=result.count,
        first_broken_id=result.first_broken_id,
        problem=result.problem,
        head_id=result.head.id if result.head else None,
        head_hash=result.head.hash if result.head else None,
        unsealed=result.unsealed.count,
        seconds=round(result.seconds, 3),
    )


# (method, path) -> the Action each route asks for: what the API description says.
STAFF_ROUTE_ACTIONS: dict[tuple[str, str], Action] = {
    (method, route.path): Action(route.openapi_extra[ACTION_KEY])
    for route in router.routes
    if isinstance(route, SignedInRoute) and route.openapi_extra
    for method in sorted(route.methods or ())
}

# Beside the staff SITE (routes.py), which keeps /api/v1/staff out of the access log.
SITE = DomainSite(routers=(router,))
