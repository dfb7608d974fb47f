"""The door to personal data for staff routes: ``staff_session``, and the current policies
acknowledged this quarter (P7: "a staff member who has not acknowledged the current
privacy and security policies cannot open personal data").

A route that answers with a customer's personal data opens its session here instead of
``staff.auth.staff_session``, with the same arguments. A refusal is 403
``policies_pending`` with the list of what to read, and is appended to the audit chain in
a transaction of its own, as every refused access is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.staff import policies
from quietshop.staff.auth import staff_session
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff
from quietshop.staff.trail import staff_event
from quietshop.web.dependencies import now
from quietshop.web.state import app_state


@contextmanager
def acknowledged_staff_session(
    request: Request, *, need: Iterable[Role] = (), write: bool = False
) -> Iterator[tuple[Session, SignedInStaff]]:
    """``staff_session(request, need=..., write=...)`` for a live staff member who has
    acknowledged every current policy this quarter; PoliciesPending otherwise."""
    moment = now(request)
    refused: policies.PoliciesPending | None = None
    with staff_session(request, need=need, write=write) as (session, staff):
        try:
            policies.require_acknowledged(session, staff.id, moment)
        except policies.PoliciesPending as pending:
            refused = pending
        else:
            yield session, staff
    if refused is not None:
        _record_refusal(request, staff, refused)
        raise refused


def _record_refusal(
    request: Request, staff: SignedInStaff, pending: policies.PoliciesPending
) -> None:
    route = request.scope.get("route")
    what = getattr(route, "path", request.url.path)
    names = ", ".join(f"{p.kind} v{p.version}" for p in pending.pending)
    event = staff_event(
        "denied",
        staff_id=staff.id,
        origin=staff.origin,
        reason=f"{request.method} {what}: policies not acknowledged ({names})"[: audit.MAX_REASON],
    )
    audit.record(app_state(request).sessions, event, now(request))
