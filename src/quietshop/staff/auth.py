"""The bearer-token road into the back office: every staff route goes through
``staff_session(request, need=...)``, and nothing else reads a staff member by a token.

It answers 401 ``unauthorized`` for no token or one never issued (a customer's token is
one of those: staff tokens have their own prefix and table), 401 ``signed_out`` for a
session that has ended, 401 ``locked`` for a locked one, and 403 ``forbidden`` when none
of the roles in ``need`` is held; the denial is appended to the audit chain in its own
transaction. A session found idle past the limit is locked there and then, its ``lock``
entry written once, and answered ``locked``.

As for customers, reading routes read: the session's last request is recorded at most once
a minute, in a short write of its own after the route's read session has closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.staff import sessions
from quietshop.staff.errors import Forbidden, SessionLocked
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff
from quietshop.staff.trail import roles_text, staff_event
from quietshop.web.dependencies import bearer_token, now, read_session, settings, write_session
from quietshop.web.state import app_state

__all__ = ["SignedInStaff", "staff_session"]


class _IdleLockDue(Exception):
    def __init__(self, staff: SignedInStaff) -> None:
        super().__init__("idle")
        self.staff = staff


class _Denied(Exception):
    def __init__(self, staff: SignedInStaff) -> None:
        super().__init__("denied")
        self.staff = staff


@contextmanager
def staff_session(
    request: Request, *, need: Iterable[Role] = (), write: bool = False
) -> Iterator[tuple[Session, SignedInStaff]]:
    """A session (a write transaction with ``write=True``) and the staff member whose live
    token came with the request. ``need``: the roles any one of which the route asks for
    (empty: any signed-in staff member)."""
    token = bearer_token(request)
    moment = now(request)
    config = settings(request)
    wanted = frozenset(need)
    opened = write_session(request) if write else read_session(request)
    try:
        with opened as session:
            found = sessions.find(session, token, config, moment)
            if found.state is sessions.SessionState.IDLE:
                raise _IdleLockDue(found.staff)
            staff = sessions.live(found)
            if wanted and not staff.holds_any(wanted):
                raise _Denied(staff)
            yield session, staff
            if write and found.touch_due:
                sessions.touch(session, staff, moment)
    except _IdleLockDue as due:
        with write_session(request) as session:
            sessions.lock(session, due.staff, moment, sessions.idle_reason(config))
        raise SessionLocked() from None
    except _Denied as denied:
        _record_denial(request, denied.staff, wanted)
        raise Forbidden() from None
    if not write and found.touch_due:
        with write_session(request) as session:
            sessions.touch(session, staff, moment)


def _record_denial(request: Request, staff: SignedInStaff, wanted: frozenset[Role]) -> None:
    route = request.scope.get("route")
    what = getattr(route, "path", request.url.path)
    event = staff_event(
        "denied",
        staff_id=staff.id,
        origin=staff.origin,
        reason=f"{request.method} {what} needs {' or '.join(sorted(wanted))}; "
        f"holds {roles_text(staff.roles)}",
    )
    audit.record(app_state(request).sessions, event, now(request))
