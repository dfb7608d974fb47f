"""The owner's back office (issue 9 items 1 and 7): staff management and the access review.

Managing staff here is ``service``'s add, roles, disable and enable, made by a signed-in
owner (``by``): each is a ``staff_change`` entry naming that owner, and none may leave the
shop without an active owner (``service.LastOwner``). Each answers with the member as the
staff list shows them, so the screen redraws one row.

The access review: every six months the owner looks at who holds which roles, and since
when each has been idle, and confirms it. A confirmation is a row of
``staff_access_reviews`` holding a snapshot of what was confirmed, and an
``access_review`` entry in the audit chain. The next review is due six calendar months
after the last one, on the same day of the month or, where that month is shorter, on its
last day (31 August -> 28 or 29 February). Before any review, one is due now.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.errors import InvalidInput
from quietshop.settings import Settings
from quietshop.staff import service
from quietshop.staff.models import StaffAccessReview, StaffMember
from quietshop.staff.need_to_know import Action, acting_role
from quietshop.staff.roles import Role
from quietshop.staff.service import EnrolmentLink, StaffSummary
from quietshop.staff.sessions import SignedInStaff
from quietshop.staff.signin import UNUSED_FOR, last_active

__all__ = [
    "REVIEW_EVERY_MONTHS",
    "AccessReview",
    "AddedStaff",
    "ConfirmedReview",
    "HeldAccess",
    "access_review",
    "add_member",
    "add_months",
    "change_roles",
    "confirm_access_review",
    "disable_member",
    "enable_member",
    "next_review_due",
]

REVIEW_EVERY_MONTHS = 6
MAX_NOTE = 500


# ---------------------------------------------------------------- managing staff


@dataclass(frozen=True)
class AddedStaff:
    member: StaffSummary
    # The one-time link: in this answer only; the shop keeps its hash, never the link.
    enrolment: EnrolmentLink


def add_member(
    session: Session,
    settings: Settings,
    name: str,
    email: str,
    roles: frozenset[Role],
    by: SignedInStaff,
    now: datetime,
) -> AddedStaff:
    link = service.add_staff(session, settings, name, email, roles, now, by=by)
    return AddedStaff(service.staff_summary(session, link.staff_id, now), link)


def change_roles(
    session: Session, staff_id: int, roles: frozenset[Role], by: SignedInStaff, now: datetime
) -> StaffSummary:
    service.set_roles(session, staff_id, roles, now, by=by)
    return service.staff_summary(session, staff_id, now)


def disable_member(
    session: Session, staff_id: int, reason: str, by: SignedInStaff, now: datetime
) -> StaffSummary:
    service.disable_staff(session, staff_id, reason, now, by=by)
    return service.staff_summary(session, staff_id, now)


def enable_member(
    session: Session, staff_id: int, by: SignedInStaff, now: datetime
) -> StaffSummary:
    service.enable_staff(session, staff_id, now, by=by)
    return service.staff_summary(session, staff_id, now)


# ---------------------------------------------------------------- the access review


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` so many calendar months later, at the same time of day; a day the target
    month lacks becomes its last (31 August + 6 -> 28 February, or 29 in a leap year)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = datetime(year + (month == 12), month % 12 + 1, 1)
    last_day = (following - datetime(year, month, 1)).days
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def next_review_due(confirmed_at: datetime) -> datetime:
    return add_months(confirmed_at, REVIEW_EVERY_MONTHS)


@dataclass(frozen=True)
class HeldAccess:
    """One active staff member as the review shows them."""

    staff_id: int
    name: str
    email: str
    roles: tuple[Role, ...]
    status: str
    last_active_at: datetime | None  # None: never signed in
    days_since_active: int | None
    # When housekeeping disables the account for disuse, unless it is used before then.
    unused_disable_at: datetime


@dataclass(frozen=True)
class ConfirmedReview:
    id: int
    confirmed_at: datetime
    confirmed_by_id: int
    confirmed_by_name: str
    note: str
    staff_count: int  # active staff members confirmed
    next_due_at: datetime


@dataclass(frozen=True)
class AccessReview:
    staff: list[HeldAccess]
    last_review: ConfirmedReview | None
    next_due_at: datetime | None  # None: never reviewed, so due now
    due: bool


def _held_access(session: Session, now: datetime) -> list[HeldAccess]:
    """Every member not disabled (enrolled or not: a pending link holds its roles), by name."""
    members = session.execute(select(StaffMember).where(StaffMember.disabled_at.is_(None)))
    active = {member.id: member for member in members.scalars()}
    found = []
    for summary in service.list_staff(session, now):
        member = active.get(summary.id)
        if member is None:
            continue
        seen = summary.last_active_at
        found.append(
            HeldAccess(
                staff_id=summary.id,
                name=summary.name,
                email=summary.email,
                roles=summary.roles,
                status=summary.status,
                last_active_at=seen,
                days_since_active=(now - seen).days if seen is not None else None,
                unused_disable_at=last_active(member) + UNUSED_FOR,
            )
        )
    return found


def _last_review(session: Session) -> ConfirmedReview | None:
    row = session.execute(
        select(StaffAccessReview, StaffMember.name)
        .join(StaffMember, StaffMember.id == StaffAccessReview.confirmed_by)
        .order_by(StaffAccessReview.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    review, name = row
    return _confirmed(review, name)


def _confirmed(review: StaffAccessReview, name: str) -> ConfirmedReview:
    return ConfirmedReview(
        id=review.id,
        confirmed_at=review.confirmed_at,
        confirmed_by_id=review.confirmed_by,
        confirmed_by_name=name,
        note=review.note,
        staff_count=len(json.loads(review.snapshot)),
        next_due_at=next_review_due(review.confirmed_at),
    )


def access_review(session: Session, now: datetime) -> AccessReview:
    """Who holds what now, the last confirmation, and when the next is due."""
    last = _last_review(session)
    due_at = last.next_due_at if last is not None else None
    return AccessReview(
        staff=_held_access(session, now),
        last_review=last,
        next_due_at=due_at,
        due=due_at is None or now >= due_at,
    )


def _clean_note(note: str) -> str:
    """Up to 500 characters as typed, line breaks kept; other control characters and
    bidirectional overrides refused (the note is read back on the owner's screen)."""
    cleaned = note.strip()
    if len(cleaned) > MAX_NOTE or not all(c.isprintable() or c in "\n\t" for c in cleaned):
        raise InvalidInput("note", f"Give a note of at most {MAX_NOTE} printable characters.")
    return cleaned


def _snapshot(held: list[HeldAccess]) -> str:
    entries: list[dict[str, Any]] = [
        {
            "staff_id": person.staff_id,
            "name": person.name,
            "email": person.email,
            "roles": list(person.roles),
            "status": person.status,
            "last_active_at": person.last_active_at.isoformat() if person.last_active_at else None,
        }
        for person in held
    ]
    return json.dumps(entries, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def confirm_access_review(
    session: Session, by: SignedInStaff, note: str, now: datetime
) -> ConfirmedReview:
    """Record that ``by`` (an owner) has looked at who holds what and confirms it, with the
    snapshot of what they saw; appended to the audit chain in the same transaction."""
    role = acting_role(by.roles, Action.REVIEW_ACCESS)
    held = _held_access(session, now)
    review = StaffAccessReview(
        confirmed_by=by.id, confirmed_at=now, note=_clean_note(note), snapshot=_snapshot(held)
    )
    session.add(review)
    session.flush()
    event = audit.AuditEvent(
        action="access_review",
        staff_id=by.id,
        role=role.value,
        subject=f"access_review:{review.id}",
        customer_id=None,
        reason=f"confirmed who holds which roles: {len(held)} active staff member(s)",
        origin=by.origin[: audit.MAX_ORIGIN],
    )
    audit.append(session, event, now)
    return _confirmed(review, by.name)
