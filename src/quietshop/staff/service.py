"""Staff accounts (P7): adding people with their roles, enrolment, listing, disabling,
enabling, and re-sealing the TOTP secrets under a rotated key.

The owner adds a staff member from the command line (``quietshop staff add``), which
prints a one-time enrolment link (the back office's staff screen does the same, once);
the person opens it, scans a QR code into an
authenticator app, chooses a password and confirms a current code. Nobody else ever sees
the password or the TOTP secret: the link's token is kept as SHA-256 only and spent by
enrolment, the secret is sealed with the keyring.

A change made in the back office names the owner who made it (``by``) in the audit chain,
and must leave the shop an active owner (``LastOwner``, 409); at the command line
nobody is signed in, and the owner there can always put things right.

Other domains reach staff through this module and ``staff.auth`` (the HTTP door).
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import segno
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.db import MAX_ROW_ID
from quietshop.errors import Conflict, InvalidInput, NotFound
from quietshop.keyring import DecryptionFailed, Keyring, open_keyring
from quietshop.settings import Settings
from quietshop.staff import passwords, second_factor, sessions, signin
from quietshop.staff.models import StaffMember, StaffRole
from quietshop.staff.need_to_know import Action, acting_role
from quietshop.staff.roles import Role
from quietshop.staff.second_factor import KeyringSource
from quietshop.staff.sessions import SignedInStaff
from quietshop.staff.signin import UNUSED_FOR, UNUSED_REASON, email_key, is_unused
from quietshop.staff.trail import roles_text, staff_event

__all__ = [
    "EnrolmentLink",
    "EnrolmentStart",
    "LastOwner",
    "Me",
    "SignedInStaff",
    "StaffKeys",
    "StaffRef",
    "StaffSummary",
    "add_staff",
    "disable_staff",
    "disable_unused",
    "enable_staff",
    "finish_enrolment",
    "list_staff",
    "me",
    "reseal_totp_secrets",
    "set_roles",
    "staff_summary",
    "start_enrolment",
    "totp_secrets_per_key",
]

ENROL_PATH = "/staff/enrol"
INVALID_LINK = (
    "This enrolment link is not valid any more: it may have been used already or be too "
    "old. Ask the shop's owner for a new one."
)
MAX_NAME = 200
MAX_EMAIL = 254
ACTOR = "the owner at the command line"
MAX_DISABLE_REASON = 200  # staff_members.disabled_reason
# A staff member as the command line names them (their email address) or the back office
# does (their id).
StaffRef = str | int


class StaffKeys:
    """The keyring the TOTP secrets are sealed with, opened on first use (one per app):
    made on first use in the demo, required everywhere else (``quietshop keys init``)."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._settings, self._clock = settings, clock
        self._keyring: Keyring | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Keyring:
        with self._lock:
            if self._keyring is None:
                self._keyring = open_keyring(self._settings, self._clock())
            return self._keyring


# ---------------------------------------------------------------- adding and listing


@dataclass(frozen=True)
class EnrolmentLink:
    url: str
    expires_at: datetime
    staff_id: int


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > MAX_NAME or not cleaned.isprintable():
        raise InvalidInput("name", f"Give a name of 1 to {MAX_NAME} printable characters.")
    return cleaned


def _clean_email(email: str) -> str:
    cleaned = email.strip()
    local, at, domain = cleaned.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or len(cleaned) > MAX_EMAIL
        or not cleaned.isprintable()
        or any(character.isspace() for character in cleaned)
    ):
        raise InvalidInput("email", "This is not an email address.")
    return cleaned


def _checked_roles(roles: frozenset[Role]) -> frozenset[Role]:
    if not roles:
        raise InvalidInput("role", "Give at least one role (--role ROLE).")
    return roles


def _new_enrolment(member: StaffMember, settings: Settings, now: datetime) -> EnrolmentLink:
    token = secrets.token_urlsafe(32)
    member.enrolment_token_hash = sessions.digest(token)
    member.enrolment_expires_at = now + timedelta(hours=settings.staff_enrolment_hours)
    # In the fragment, which no browser sends and no access log sees: the page's script
    # reads it and sends it in a request body.
    url = f"{settings.base_url}{ENROL_PATH}#token={token}"
    return EnrolmentLink(url, member.enrolment_expires_at, member.id)


def add_staff(
    session: Session,
    settings: Settings,
    name: str,
    email: str,
    roles: frozenset[Role],
    now: datetime,
    *,
    by: SignedInStaff | None = None,
) -> EnrolmentLink:
    """A new staff member with these roles, and the one-time link that enrols them
    (shown once: only its hash is kept). ``by``: the owner adding them in the back office."""
    cleaned, clean_name, wanted = _clean_email(email), _clean_name(name), _checked_roles(roles)
    if signin.member_by_email(session, cleaned) is not None:
        raise InvalidInput("email", "A staff member already uses this address.")
    member = StaffMember(
        name=clean_name,
        email=cleaned,
        email_key=email_key(cleaned),
        created_at=now,
        failed_attempts=0,
        disabled_reason="",
    )
    session.add(member)
    session.flush()
    _replace_roles(session, member.id, wanted)
    link = _new_enrolment(member, settings, now)
    session.flush()
    _changed(session, member.id, f"added with the roles {roles_text(wanted)}", now, by)
    return link


def _changed(
    session: Session, staff_id: int, what: str, now: datetime, by: SignedInStaff | None = None
) -> None:
    """A change to a staff account: by the owner ``by`` in the back office, acting in the
    owner role, or at the command line (no staff session acts)."""
    if by is None:
        event = staff_event(
            "staff_change", staff_id=None, about=staff_id, reason=f"{what} ({ACTOR})"
        )
    else:
        role = acting_role(by.roles, Action.MANAGE_STAFF)
        made = staff_event("staff_change", staff_id=by.id, origin=by.origin, about=staff_id,
                           reason=what)  # fmt: skip
        event = replace(made, role=role.value)
    audit.append(session, event, now)


def _replace_roles(session: Session, staff_id: int, roles: frozenset[Role]) -> None:
    session.execute(delete(StaffRole).where(StaffRole.staff_id == staff_id))
    session.add_all(StaffRole(staff_id=staff_id, role=role.value) for role in sorted(roles))
    session.flush()


def _member(session: Session, who: StaffRef) -> StaffMember:
    if isinstance(who, int):
        member = session.get(StaffMember, who) if 0 < who <= MAX_ROW_ID else None
    else:
        member = signin.member_by_email(session, who)
    if member is None:
        raise NotFound("staff member")
    return member


class LastOwner(Conflict):
    """The change would leave the shop without an owner who can sign in (409)."""

    status_code = 409
    code = "last_owner"

    def __init__(self) -> None:
        super().__init__(
            "You are the only active owner: make someone else an owner first, or nobody "
            "could run the shop from the back office."
        )


def _keep_an_owner(
    session: Session, member: StaffMember, by: SignedInStaff | None, losing_owner: bool
) -> None:
    """In the back office, refuse a change that takes the last active owner's role away
    (only owners manage staff, so that owner is the one making it). Active: enrolled and
    not disabled. The owners' rows are locked first (FOR UPDATE on PostgreSQL; SQLite's
    writer holds the database), so two owners disabling each other cannot both pass."""
    if by is None or not losing_owner:
        return
    owners = session.execute(
        select(StaffMember.id)
        .join(StaffRole, StaffRole.staff_id == StaffMember.id)
        .where(
            StaffRole.role == Role.OWNER.value,
            StaffMember.disabled_at.is_(None),
            StaffMember.enrolled_at.is_not(None),
        )
        .with_for_update(of=StaffMember)
    ).scalars()
    if not set(owners) - {member.id}:
        raise LastOwner()


def set_roles(
    session: Session,
    who: StaffRef,
    roles: frozenset[Role],
    now: datetime,
    *,
    by: SignedInStaff | None = None,
) -> frozenset[Role]:
    """Replace a staff member's roles; live sessions act under the new ones at once.
    Setting the roles they hold already changes nothing and records nothing."""
    member = _member(session, who)
    wanted = _checked_roles(roles)
    held = sessions.roles_of(session, member.id)
    if wanted == held:
        return wanted
    _keep_an_owner(session, member, by, Role.OWNER in held - wanted)
    _replace_roles(session, member.id, wanted)
    what = f"roles set to {roles_text(wanted)} (were {roles_text(held)})"
    _changed(session, member.id, what, now, by)
    return wanted


def _clean_reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if len(cleaned) > MAX_DISABLE_REASON or not cleaned.isprintable():
        raise InvalidInput(
            "reason", f"Give a reason of at most {MAX_DISABLE_REASON} printable characters."
        )
    return cleaned


def disable_staff(
    session: Session,
    who: StaffRef,
    reason: str,
    now: datetime,
    *,
    by: SignedInStaff | None = None,
) -> None:
    """Disable an account and end its sessions at once (one disabled already: nothing)."""
    member = _member(session, who)
    if member.disabled_at is None:
        why = _clean_reason(reason) or "disabled by the owner"
        _keep_an_owner(session, member, by, Role.OWNER in sessions.roles_of(session, member.id))
        signin.disable(session, member, why, now)
        _changed(session, member.id, f"disabled: {why}", now, by)


def enable_staff(
    session: Session, who: StaffRef, now: datetime, *, by: SignedInStaff | None = None
) -> None:
    """Enable a disabled account again (one enabled already: nothing). The sessions the
    disabling ended stay ended. An account disabled for disuse gets its 90 days afresh:
    its last activity becomes now, or its next sign-in (and tonight's housekeeping) would
    find it unused and disable it again at once; the audit chain says why it moved."""
    member = _member(session, who)
    if member.disabled_at is None:
        return
    was = member.disabled_reason
    member.disabled_at, member.disabled_reason = None, ""
    if is_unused(member, now):
        member.last_active_at = now
    what = f"enabled (had been disabled: {was})" if was else "enabled"
    _changed(session, member.id, what, now, by)


@dataclass(frozen=True)
class StaffSummary:
    id: int
    name: str
    email: str
    roles: tuple[Role, ...]
    last_active_at: datetime | None
    status: str


def _status(member: StaffMember, now: datetime) -> str:
    if member.disabled_at is not None:
        return f"disabled ({member.disabled_reason})" if member.disabled_reason else "disabled"
    if member.enrolled_at is None:
        expires = member.enrolment_expires_at
        return "enrolment link expired" if expires and now >= expires else "not enrolled yet"
    if member.locked_until is not None and now < member.locked_until:
        return f"locked until {member.locked_until:%Y-%m-%d %H:%M} UTC"
    return "active"


def list_staff(session: Session, now: datetime) -> list[StaffSummary]:
    """Every staff member, by name: who holds which roles (the access review's base)."""
    members = session.execute(select(StaffMember).order_by(StaffMember.name, StaffMember.id))
    roles: dict[int, list[Role]] = {}
    for staff_id, role in session.execute(select(StaffRole.staff_id, StaffRole.role)):
        roles.setdefault(staff_id, []).append(Role(role))
    return [_summary(member, roles.get(member.id, []), now) for member in members.scalars()]


def _summary(member: StaffMember, roles: Iterable[Role], now: datetime) -> StaffSummary:
    return StaffSummary(
        member.id,
        member.name,
        member.email,
        tuple(sorted(roles)),
        member.last_active_at,
        _status(member, now),
    )


def staff_summary(session: Session, who: StaffRef, now: datetime) -> StaffSummary:
    """One staff member as ``list_staff`` shows them; NotFound for nobody."""
    member = _member(session, who)
    return _summary(member, sessions.roles_of(session, member.id), now)


def disable_unused(session: Session, now: datetime) -> int:
    """Disable every account unused for 90 days (P7), ending its sessions: what the
    housekeeping runs; sign-in checks the same. How many were disabled."""
    threshold = now - UNUSED_FOR
    candidates = session.execute(
        select(StaffMember).where(
            StaffMember.disabled_at.is_(None),
            func.coalesce(
                StaffMember.last_active_at, StaffMember.enrolled_at, StaffMember.created_at
            )
            <= threshold,
        )
    ).scalars()
    disabled = 0
    for member in candidates:
        if is_unused(member, now):  # the same rule sign-in applies, in Python
            signin.disable(session, member, UNUSED_REASON, now)
            event = staff_event("staff_change", staff_id=None, about=member.id,
                                reason=f"disabled: {UNUSED_REASON}")  # fmt: skip
            audit.append(session, event, now)
            disabled += 1
    return disabled


def totp_secrets_per_key(session: Session) -> dict[str, int]:
    """How many sealed TOTP secrets each keyring key holds: a key still listed here must
    not be retired (``quietshop keys retire``), or those staff lose their second factor."""
    rows = session.execute(
        select(StaffMember.totp_key_id, func.count())
        .where(StaffMember.totp_key_id.is_not(None))
        .group_by(StaffMember.totp_key_id)
    )
    return {key_id: count for key_id, count in rows if key_id is not None}


def reseal_totp_secrets(session: Session, keyring: Keyring) -> int:
    """Seal every TOTP secret held under an older key again under the keyring's active
    key (``quietshop keys rotate``), so the older keys can be retired; how many moved.

    The rows are locked (FOR UPDATE on PostgreSQL): a sign-in meanwhile waits, then reads
    the new ciphertext. A secret that does not open (altered, or copied from another
    row) is left as it is, so its key still counts in ``totp_secrets_per_key`` and is
    not retired under that person."""
    active = keyring.active_key_id
    members = session.execute(
        select(StaffMember)
        .where(
            StaffMember.totp_ciphertext.is_not(None),
            StaffMember.totp_key_id.is_not(None),
            StaffMember.totp_key_id != active,
        )
        .order_by(StaffMember.id)
        .with_for_update()
    ).scalars()
    resealed = 0
    for member in members:
        try:
            secret = second_factor.open_secret(keyring, member)
        except DecryptionFailed:
            continue
        assert secret is not None  # selected with a ciphertext and its key
        sealed = second_factor.seal_secret(keyring, member.id, secret)
        member.totp_key_id, member.totp_ciphertext = sealed.key_id, sealed.ciphertext
        resealed += 1
    return resealed


# ---------------------------------------------------------------- enrolment


@dataclass(frozen=True)
class EnrolmentStart:
    name: str
    email: str
    secret: str  # base32, for typing into an app that cannot scan
    otpauth_uri: str
    qr_svg: str  # drawn here; no script, no outside reference
    expires_at: datetime


def _enrolling(session: Session, token: str, now: datetime) -> StaffMember:
    if not isinstance(token, str) or not token or len(token) > 100 or not token.isascii():
        raise InvalidInput("token", INVALID_LINK)
    member = session.execute(
        select(StaffMember).where(StaffMember.enrolment_token_hash == sessions.digest(token))
    ).scalar()
    if (
        member is None
        or member.disabled_at is not None
        or member.enrolment_expires_at is None
        or now >= member.enrolment_expires_at
    ):
        raise InvalidInput("token", INVALID_LINK)
    return member


def qr_svg(uri: str) -> str:
    """The URI as a QR code in plain SVG (segno: paths only, no script, nothing fetched),
    with its namespace, so the page can show it as an image (which runs nothing)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, scale=5, border=2,
        dark="#111", light="#fff", title="Your second-factor secret",
    )  # fmt: skip
    return out.getvalue().decode("ascii")


def start_enrolment(
    session: Session, settings: Settings, keys: KeyringSource, token: str, now: datetime
) -> EnrolmentStart:
    """Step 1: a fresh TOTP secret for the link's staff member (replacing any earlier one
    not yet confirmed), with its otpauth:// URI and QR code. The link stays usable."""
    member = _enrolling(session, token, now)
    secret = second_factor.new_secret()
    sealed = second_factor.seal_secret(keys(), member.id, secret)
    member.totp_key_id, member.totp_ciphertext = sealed.key_id, sealed.ciphertext
    member.totp_last_step = None
    uri = second_factor.provisioning_uri(secret, member.email, settings.shop_name)
    assert member.enrolment_expires_at is not None  # checked by _enrolling
    return EnrolmentStart(
        member.name, member.email, secret, uri, qr_svg(uri), member.enrolment_expires_at
    )


def finish_enrolment(
    session: Session,
    keys: KeyringSource,
    token: str,
    password: str,
    code: str,
    now: datetime,
) -> None:
    """Step 2: set the password and confirm a current code of the new secret; the link is
    spent. Nothing changes when the password or the code is refused."""
    member = _enrolling(session, token, now)
    passwords.check_password_rule(password)
    factor = second_factor.check_second_factor(keys, member, second_factor.TotpCode(code), now)
    if factor is second_factor.FactorOutcome.MISSING:
        raise InvalidInput("code", "Open the enrolment link again to get the QR code first.")
    if factor is not second_factor.FactorOutcome.ACCEPTED:
        raise InvalidInput("code", "This code is not the app's current one; try the next.")
    member.password_hash = passwords.hash_password(password)
    member.enrolled_at = member.last_active_at = now
    member.enrolment_token_hash = member.enrolment_expires_at = None
    member.failed_attempts, member.locked_until = 0, None
    audit.append(session, staff_event("enrol", staff_id=member.id), now)


# ---------------------------------------------------------------- who is signed in


@dataclass(frozen=True)
class Me:
    name: str
    email: str
    roles: tuple[Role, ...]
    idle_lock_minutes: float
    expires_at: datetime


def me(staff: SignedInStaff, settings: Settings) -> Me:
    return Me(
        staff.name,
        staff.email,
        tuple(sorted(staff.roles)),
        settings.staff_idle_lock_minutes,
        staff.expires_at,
    )
