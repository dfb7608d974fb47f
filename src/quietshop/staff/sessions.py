"""Staff sessions (P7): opaque bearer tokens, kept only as SHA-256, that lock when idle.

A token is 256 random bits behind the prefix ``qs_staff_``: a customer's token never has
it, so a customer token sent to a staff route is refused before any lookup, and a staff
token sent to a customer route is found in no customer table. A session

- locks after ``staff_idle_lock_minutes`` without a request (at most 15, PCI DSS 8.2.8), or
  when the screen asks; a locked session answers 401 ``locked`` until the password is typed
  again (``signin.unlock``). The lock is written, and its audit entry appended, by the
  first request that finds the session idle, and only once;
- ends ``staff_session_hours`` after its sign-in (12), at sign-out, and when the account is
  disabled: 401 ``signed_out``.

The last request's time is written at most once a minute (``TOUCH_INTERVAL``), so a read is
not a write every time; the idle lock may therefore come up to a minute early, never late.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.errors import Unauthorized
from quietshop.settings import Settings
from quietshop.staff.errors import SessionLocked, SignedOut
from quietshop.staff.models import StaffMember, StaffRole, StaffSession
from quietshop.staff.roles import Role
from quietshop.staff.trail import staff_event

TOKEN_PREFIX = "qs_staff_"  # noqa: S105 - a prefix, not a secret
TOUCH_INTERVAL = timedelta(seconds=60)
MAX_TOKEN_CHARS = 100


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_limit(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.staff_idle_lock_minutes)


@dataclass(frozen=True)
class SignedInStaff:
    """Who a live staff token belongs to: what routes and other domains hold, never the
    staff table's row (no hash, no secret)."""

    id: int
    name: str
    email: str
    roles: frozenset[Role]
    session_id: int
    origin: str
    expires_at: datetime

    def holds_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


class SessionState(StrEnum):
    LIVE = "live"
    IDLE = "idle"  # idle past the limit, not yet marked locked: the finder locks it
    LOCKED = "locked"


@dataclass(frozen=True)
class FoundSession:
    staff: SignedInStaff
    state: SessionState
    # The last request was more than TOUCH_INTERVAL ago: record this one (``touch``).
    touch_due: bool


@dataclass(frozen=True)
class IssuedSession:
    token: str
    expires_at: datetime


def issue(
    session: Session, staff_id: int, settings: Settings, origin: str, now: datetime
) -> IssuedSession:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=settings.staff_session_hours)
    session.add(
        StaffSession(
            staff_id=staff_id,
            token_hash=digest(token),
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
            origin=origin[:64],
        )
    )
    session.flush()
    return IssuedSession(token, expires_at)


_FIND = select(
    StaffSession.id,
    StaffSession.last_seen_at,
    StaffSession.expires_at,
    StaffSession.locked_at,
    StaffSession.ended_at,
    StaffSession.origin,
    StaffMember.id,
    StaffMember.name,
    StaffMember.email,
    StaffMember.disabled_at,
).join(StaffMember, StaffMember.id == StaffSession.staff_id)


def well_formed(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= MAX_TOKEN_CHARS and token.isascii()


def find(session: Session, token: str, settings: Settings, now: datetime) -> FoundSession:
    """The session a token belongs to, live, idle or locked; Unauthorized for a token that
    was never issued (a customer's, a forged one), SignedOut for one that has ended. Only
    reads."""
    if not well_formed(token):
        raise Unauthorized()
    row = session.execute(_FIND.where(StaffSession.token_hash == digest(token))).first()
    if row is None:
        raise Unauthorized()
    (
        session_id, last_seen_at, expires_at, locked_at, ended_at, origin,
        staff_id, name, email, disabled_at,
    ) = row  # fmt: skip
    if ended_at is not None or disabled_at is not None or now >= expires_at:
        raise SignedOut()
    if locked_at is not None:
        state = SessionState.LOCKED
    elif now - last_seen_at >= idle_limit(settings):
        state = SessionState.IDLE
    else:
        state = SessionState.LIVE
    staff = SignedInStaff(
        staff_id, name, email, roles_of(session, staff_id), session_id, origin, expires_at
    )
    return FoundSession(staff, state, touch_due=now - last_seen_at >= TOUCH_INTERVAL)


def roles_of(session: Session, staff_id: int) -> frozenset[Role]:
    rows = session.execute(select(StaffRole.role).where(StaffRole.staff_id == staff_id))
    return frozenset(Role(role) for role in rows.scalars())


def live(found: FoundSession) -> SignedInStaff:
    """The staff member of a live session; SessionLocked for a locked or idle one."""
    if found.state is not SessionState.LIVE:
        raise SessionLocked()
    return found.staff


def touch(session: Session, staff: SignedInStaff, now: datetime) -> None:
    """Record a request of the session (at most once a minute: ``FoundSession.touch_due``),
    and so the staff member's last activity (what "unused for 90 days" reads)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == staff.session_id, StaffSession.last_seen_at < now)
        .values(last_seen_at=now)
    )
    _active(session, staff.id, now)


def _active(session: Session, staff_id: int, now: datetime) -> None:
    """The staff member's last activity (what "unused for 90 days" reads)."""
    statement = update(StaffMember).where(StaffMember.id == staff_id)
    session.execute(statement.values(last_active_at=now))


def lock(session: Session, staff: SignedInStaff, now: datetime, reason: str) -> bool:
    """Lock the session and append its audit entry, once: False if it was locked (or
    ended) already, by this request or a concurrent one."""
    locked = session.execute(
        update(StaffSession)
        .where(
            StaffSession.id == staff.session_id,
            StaffSession.locked_at.is_(None),
            StaffSession.ended_at.is_(None),
        )
        .values(locked_at=now)
    )
    if locked.rowcount != 1:  # type: ignore[attr-defined]
        return False
    event = staff_event("lock", staff_id=staff.id, origin=staff.origin, reason=reason)
    audit.append(session, event, now)
    return True


def idle_reason(settings: Settings) -> str:
    return f"idle for {settings.staff_idle_lock_minutes:g} minutes"


def unlocked(session: Session, staff: SignedInStaff, now: datetime) -> None:
    """The password was typed again: the session is live, counted from now."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == staff.session_id)
        .values(locked_at=None, last_seen_at=now)
    )
    _active(session, staff.id, now)


def end(session: Session, token: str, now: datetime) -> None:
    """Sign out: end the session (locked or not) and append its audit entry. A token that
    was never issued is Unauthorized; one already ended is quietly ended already."""
    if not well_formed(token):
        raise Unauthorized()
    row = session.execute(
        select(StaffSession).where(StaffSession.token_hash == digest(token))
    ).scalar()
    if row is None:
        raise Unauthorized()
    if row.ended_at is not None or now >= row.expires_at:
        return
    row.ended_at = now
    event = staff_event("sign_out", staff_id=row.staff_id, origin=row.origin)
    audit.append(session, event, now)


def end_all(session: Session, staff_id: int, now: datetime) -> None:
    """End every session of a staff member (disabled)."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )
