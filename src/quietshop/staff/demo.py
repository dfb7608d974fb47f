"""The demo's staff: one enrolled staff member per role, with a known password and a fixed
TOTP secret each, so anyone trying the demo can sign in to the back office as any role.

Demo only: seeding and ``quietshop staff code`` refuse outside the demo, where a known
password or a code printed on a terminal would be a hole. The addresses are under
``.invalid`` (RFC 2606), so no mail can ever reach anyone.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from quietshop.errors import EnvironmentProblem, NotFound
from quietshop.keyring import Keyring, open_keyring
from quietshop.settings import Settings
from quietshop.staff import passwords, second_factor, signin
from quietshop.staff.models import StaffMember, StaffRole
from quietshop.staff.roles import ROLE_LABELS, Role

DEMO_PASSWORD = "quiet demo staff 2026"  # noqa: S105 - the demo's, printed on start
DEMO_DOMAIN = "staff.demo.invalid"
DEMO_NAMES: dict[Role, str] = {
    Role.OWNER: "Olive Owner",
    Role.BILLING: "Bill Ledger",
    Role.CUSTOMER_SERVICE: "Cass Service",
    Role.FULFILMENT: "Phil Parcel",
    Role.CATALOG: "Cat Alogue",
    Role.MARKETING: "Mark Etting",
    Role.ANALYST: "Ana Lyst",
    Role.PRIVACY_OFFICER: "Priya Officer",
}


class NotTheDemo(EnvironmentProblem):
    """Known passwords and printed codes are for the demo only."""


@dataclass(frozen=True)
class DemoStaff:
    role: Role
    name: str
    email: str
    password: str
    totp_secret: str


def demo_email(role: Role) -> str:
    return f"{role.value.replace('_', '-')}@{DEMO_DOMAIN}"


def demo_secret(role: Role) -> str:
    """A fixed secret per role (the same on every machine): 160 bits in base32."""
    digest = hashlib.sha256(f"quietshop demo staff {role.value}".encode()).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def demo_staff() -> list[DemoStaff]:
    return [
        DemoStaff(role, DEMO_NAMES[role], demo_email(role), DEMO_PASSWORD, demo_secret(role))
        for role in Role
    ]


def _require_demo(settings: Settings) -> None:
    if not settings.demo:
        raise NotTheDemo(
            "this is the demo's: outside `quietshop demo` staff are added with "
            "`quietshop staff add` and enrol themselves"
        )


def seed_demo_staff(session: Session, settings: Settings, now: datetime) -> list[DemoStaff]:
    """Make the demo's staff, enrolled, unless they exist (run on every demo start)."""
    _require_demo(settings)
    keyring = open_keyring(settings, now)
    everyone = demo_staff()
    for person in everyone:
        if signin.member_by_email(session, person.email) is None:
            _enrolled(session, keyring, person, now)
    return everyone


def _enrolled(session: Session, keyring: Keyring, person: DemoStaff, now: datetime) -> None:
    member = StaffMember(
        name=person.name,
        email=person.email,
        email_key=signin.email_key(person.email),
        password_hash=passwords.hash_password(person.password),
        created_at=now,
        enrolled_at=now,
        last_active_at=now,
        failed_attempts=0,
        disabled_reason="",
    )
    session.add(member)
    session.flush()
    sealed = second_factor.seal_secret(keyring, member.id, person.totp_secret)
    member.totp_key_id, member.totp_ciphertext = sealed.key_id, sealed.ciphertext
    session.add(StaffRole(staff_id=member.id, role=person.role.value))
    session.flush()


def sign_in_details(staff: list[DemoStaff], base_url: str) -> list[str]:
    """What the demo prints on start: where to sign in, and as whom."""
    lines = [
        f"Demo staff: sign in at {base_url}/staff/sign-in with the password "
        f'"{DEMO_PASSWORD}" and a code (get codes with `quietshop staff code EMAIL`, '
        "or add the TOTP secret to an authenticator app):",
    ]
    width = max(len(person.email) for person in staff)
    lines += [
        f"  {person.email:<{width}}  {person.totp_secret}  {ROLE_LABELS[person.role]}"
        for person in staff
    ]
    return lines


def current_code(session: Session, settings: Settings, email: str, now: datetime) -> str:
    """The TOTP code a demo staff member's app would show now (demo only)."""
    _require_demo(settings)
    member = signin.member_by_email(session, email)
    if member is None:
        raise NotFound("staff member")
    secret = second_factor.open_secret(open_keyring(settings, now), member)
    if secret is None:
        raise NotFound("second factor of this staff member (not enrolled yet)")
    return second_factor.code_at(secret, now)
