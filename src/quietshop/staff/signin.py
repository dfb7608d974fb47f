"""Staff sign-in and unlock (P7): a password and a second factor every time; ten failures
lock the account for thirty minutes; an account unused for 90 days is disabled.

Sign-in has one answer for every failure (401 ``sign_in_failed``), given in about the time
a password check takes: an unknown address, a disabled, locked or unenrolled account, a
wrong password, a wrong or replayed code. So sign-in tells nobody who works here, nor that
an account is locked (an attacker who locked an address would learn it exists). Unlock is
asked by someone whose session already names them, so there the lock is said plainly:
401 ``account_locked`` with the time it opens again.

Every failure is counted and written in the attempt's own transaction, and then appended
to the audit chain by ``audit.record`` in a transaction of its own, after the first has
committed (on SQLite a second writer inside the first would wait for itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.db import transaction
from quietshop.errors import QuietshopError
from quietshop.settings import Settings
from quietshop.staff import passwords, sessions
from quietshop.staff.errors import AccountLocked, SignInFailed, UnlockFailed
from quietshop.staff.models import StaffMember
from quietshop.staff.roles import Role
from quietshop.staff.second_factor import (
    FactorOutcome,
    KeyringSource,
    PasskeyAssertion,
    SecondFactorProof,
    check_second_factor,
)
from quietshop.staff.trail import staff_event

# P7 fixes both: not settings, so no configuration can loosen them.
MAX_FAILURES = 10
LOCK_DURATION = timedelta(minutes=30)
UNUSED_FOR = timedelta(days=90)
UNUSED_REASON = "unused for 90 days"


def email_key(email: str) -> str:
    return email.strip().casefold()


@dataclass(frozen=True)
class SignInAttempt:
    email: str
    password: str
    proof: SecondFactorProof
    origin: str = ""


@dataclass(frozen=True)
class SignedIn:
    token: str
    expires_at: datetime
    roles: frozenset[Role]


@dataclass(frozen=True)
class _Failure:
    """What went wrong, for the audit chain only; the caller is told ``error``."""

    staff_id: int | None
    reason: str
    error: QuietshopError
    origin: str
    # This failure was the tenth in a row: the account is locked from now.
    locked_account: bool = False


def member_by_email(session: Session, email: str) -> StaffMember | None:
    return session.execute(
        select(StaffMember).where(StaffMember.email_key == email_key(email))
    ).scalar()


def last_active(member: StaffMember) -> datetime:
    return member.last_active_at or member.enrolled_at or member.created_at


def is_unused(member: StaffMember, now: datetime) -> bool:
    return now - last_active(member) >= UNUSED_FOR


def disable(session: Session, member: StaffMember, reason: str, now: datetime) -> None:
    """Disable an account and end its sessions (the owner can add the person again)."""
    member.disabled_at, member.disabled_reason = now, reason[:200]
    sessions.end_all(session, member.id, now)


# ---------------------------------------------------------------- sign-in


def sign_in(
    factory: sessionmaker[Session],
    settings: Settings,
    keys: KeyringSource,
    attempt: SignInAttempt,
    now: datetime,
) -> SignedIn:
    """A new staff session; SignInFailed (after the failure is counted and in the audit
    chain) for anything else."""
    with transaction(factory) as session:
        outcome = _sign_in(session, settings, keys, attempt, now)
    if isinstance(outcome, _Failure):
        _record(factory, "sign_in_failed", outcome, now)
        raise outcome.error
    return outcome


def _sign_in(
    session: Session,
    settings: Settings,
    keys: KeyringSource,
    attempt: SignInAttempt,
    now: datetime,
) -> SignedIn | _Failure:
    member = member_by_email(session, attempt.email)
    if member is None:
        passwords.spend_time()
        return _Failure(None, "unknown address", SignInFailed(), attempt.origin)

    def failed(reason: str, *, counted: bool = True) -> _Failure:
        locked = _count_failure(member, now) if counted else False
        return _Failure(member.id, reason, SignInFailed(), attempt.origin, locked)

    refusal = _refusal(session, member, now)
    if refusal:
        passwords.spend_time()
        return failed(refusal, counted=False)
    if not passwords.verify_password(member.password_hash, attempt.password):
        return failed("wrong password")
    factor = check_second_factor(keys, member, attempt.proof, now)
    if factor is not FactorOutcome.ACCEPTED:
        return failed(factor.value)
    roles = sessions.roles_of(session, member.id)
    member.failed_attempts, member.locked_until, member.last_active_at = 0, None, now
    if member.password_hash and passwords.needs_rehash(member.password_hash):
        member.password_hash = passwords.hash_password(attempt.password)
    issued = sessions.issue(session, member.id, settings, attempt.origin, now)
    how = "with a passkey" if isinstance(attempt.proof, PasskeyAssertion) else "with a code"
    event = staff_event("sign_in", staff_id=member.id, origin=attempt.origin, reason=how)
    audit.append(session, event, now)
    return SignedIn(issued.token, issued.expires_at, roles)


def _refusal(session: Session, member: StaffMember, now: datetime) -> str | None:
    """Why this account may not sign in now, whatever is typed (None: check the password)."""
    if member.disabled_at is not None:
        return "account disabled"
    if member.enrolled_at is None or member.password_hash is None:
        return "not enrolled"
    if member.locked_until is not None and now < member.locked_until:
        return "account locked"
    if is_unused(member, now):
        disable(session, member, UNUSED_REASON, now)
        return f"account disabled now: {UNUSED_REASON}"
    return None


def _count_failure(member: StaffMember, now: datetime) -> bool:
    """Count a failed try; the tenth in a row locks the account (True: this one did)."""
    member.failed_attempts += 1
    if member.failed_attempts < MAX_FAILURES:
        return False
    member.failed_attempts = 0
    member.locked_until = now + LOCK_DURATION
    return True


def _record(factory: sessionmaker[Session], action: str, failure: _Failure, now: datetime) -> None:
    event = staff_event(
        action, staff_id=failure.staff_id, origin=failure.origin, reason=failure.reason
    )
    audit.record(factory, event, now)
    if failure.locked_account and failure.staff_id is not None:
        audit.record(factory, lock_event(failure.staff_id, failure.origin), now)


# ---------------------------------------------------------------- confirming a change


@dataclass(frozen=True)
class PasswordRefused:
    """The password typed to confirm a change was not accepted (``confirm_password``)."""

    reason: str  # for the audit chain
    message: str  # for the person
    # This refusal was the tenth in a row: the account is locked from now.
    locked_account: bool = False


def confirm_password(member: StaffMember, password: str, now: datetime) -> PasswordRefused | None:
    """A signed-in staff member types the password again to confirm a change to their
    second factors (removing a passkey): None when it is right. A wrong one counts toward
    the ten, as at unlock, so a session left open is no way to guess the password; while
    the account is locked nothing is checked. The caller's transaction commits the count."""
    if member.locked_until is not None and now < member.locked_until:
        passwords.spend_time()
        return PasswordRefused(
            "account locked", f"The account is locked until {member.locked_until:%H:%M} UTC."
        )
    if not passwords.verify_password(member.password_hash, password):
        locked = _count_failure(member, now)
        return PasswordRefused("wrong password", "The password is wrong.", locked)
    member.failed_attempts = 0
    return None


def lock_event(staff_id: int, origin: str) -> audit.AuditEvent:
    """The entry of the tenth failure in a row, which locked the account."""
    return staff_event(
        "account_locked", staff_id=staff_id, origin=origin,
        reason=f"{MAX_FAILURES} failed tries in a row: locked for 30 minutes",
    )  # fmt: skip


# ---------------------------------------------------------------- unlock


def unlock(
    factory: sessionmaker[Session],
    settings: Settings,
    token: str,
    password: str,
    now: datetime,
) -> None:
    """Open a locked session with the account's password. UnlockFailed (counted, and in
    the audit chain) for a wrong one, AccountLocked while the account is locked; a session
    that has ended stays ended (SignedOut)."""
    with transaction(factory) as session:
        outcome = _unlock(session, settings, token, password, now)
    if isinstance(outcome, _Failure):
        _record(factory, "unlock_failed", outcome, now)
        raise outcome.error


def _unlock(
    session: Session, settings: Settings, token: str, password: str, now: datetime
) -> _Failure | None:
    found = sessions.find(session, token, settings, now)
    staff = found.staff
    if found.state is sessions.SessionState.IDLE:
        # The lock's entry comes first, so the chain reads: locked (idle), then unlocked.
        sessions.lock(session, staff, now, sessions.idle_reason(settings))
    member = session.get_one(StaffMember, staff.id)

    if member.locked_until is not None and now < member.locked_until:
        passwords.spend_time()
        error = AccountLocked(member.locked_until)
        return _Failure(staff.id, "account locked", error, staff.origin)
    if not passwords.verify_password(member.password_hash, password):
        if _count_failure(member, now):
            error = AccountLocked(now + LOCK_DURATION)
            return _Failure(staff.id, "wrong password", error, staff.origin, locked_account=True)
        return _Failure(staff.id, "wrong password", UnlockFailed(), staff.origin)
    member.failed_attempts = 0
    if found.state is sessions.SessionState.LIVE:
        return None  # nothing was locked: the password only confirms the session
    sessions.unlocked(session, staff, now)
    event = staff_event("unlock", staff_id=staff.id, origin=staff.origin)
    audit.append(session, event, now)
    return None
