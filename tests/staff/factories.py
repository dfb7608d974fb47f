"""Staff factories: enrolled staff members made through the staff services (add, the
enrolment link, a TOTP code of the secret it handed out), at a controllable time."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import service
from quietshop.staff.models import StaffMember
from quietshop.staff.roles import Role
from quietshop.staff.second_factor import STEP_SECONDS, code_at
from tests.clock import T0

__all__ = [
    "PASSWORD",
    "T0",
    "Staff",
    "audit_entries",
    "code",
    "enrolment_token",
    "make_staff",
]

PASSWORD = "ledger lines 2026"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Staff:
    id: int
    name: str
    email: str
    password: str
    secret: str
    roles: frozenset[Role]

    def code(self, now: datetime, steps: int = 0) -> str:
        """The code this person's app shows at ``now`` (``steps`` steps later)."""
        return code_at(self.secret, now + timedelta(seconds=steps * STEP_SECONDS))


def enrolment_token(url: str) -> str:
    assert "#token=" in url, url
    return url.split("#token=", 1)[1]


def make_staff(
    db: Session,
    settings: Settings,
    keyring: Keyring,
    *,
    roles: frozenset[Role] = frozenset({Role.BILLING}),
    name: str = "Bea Ledger",
    email: str | None = None,
    password: str = PASSWORD,
    enrolled_at: datetime = T0 - timedelta(minutes=5),
) -> Staff:
    """A staff member added and enrolled through the services, five minutes before T0 by
    default (so a sign-in at T0 uses a code of a later step than enrolment's)."""
    email = email or f"staff{next(_numbers)}@shop.example"
    link = service.add_staff(db, settings, name, email, roles, enrolled_at)
    token = enrolment_token(link.url)
    started = service.start_enrolment(db, settings, lambda: keyring, token, enrolled_at)
    service.finish_enrolment(
        db, lambda: keyring, token, password, code_at(started.secret, enrolled_at), enrolled_at
    )
    db.flush()
    member = db.execute(select(StaffMember).where(StaffMember.email == email)).scalar_one()
    return Staff(member.id, name, email, password, started.secret, roles)


def code(staff: Staff, now: datetime) -> str:
    return staff.code(now)


def audit_entries(db: Session, **filters: object) -> list[audit.AuditEntryOut]:
    """The chain's entries matching the filters, oldest first."""
    found = audit.entries(db, audit.AuditFilter(**filters), limit=500)  # type: ignore[arg-type]
    return list(reversed(found))
