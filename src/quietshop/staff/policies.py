"""Policy publication and staff acknowledgements (P7, issue 9 item 6).

The owner publishes a version of a policy (privacy, security, or any new kind); the text
itself is privacy's row (``privacy.service.add_policy_version``), never edited. Publishing
tells people, in the publication's own transaction:

- every active staff member gets a reminder to read it (purpose ``account``);
- a new version of ``privacy``, the customers' policy, drops every cached page (the public
  /privacy page shows it and its history at once, in every process) and opens a notice run:
  ``queue_customer_notices`` then queues the ``policy_changed`` notice to every customer in
  batches of its own transactions, each committing its messages with the last customer id
  reached, so 100,000 customers are never one transaction, and a crash resumes after the
  last committed batch without mailing anyone twice.

Staff must acknowledge the current version of every kind, and acknowledgements lapse when
a calendar quarter begins (UTC): one counts while its policy is the newest of its kind and
it was given this quarter. Until then ``require_acknowledged`` refuses personal data (403
``policies_pending``). ``remind_for_quarter`` mails everyone once a quarter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from quietshop.accounts import service as accounts
from quietshop.audit import service as audit
from quietshop.catalog import service as catalog
from quietshop.clock import Clock
from quietshop.db import transaction
from quietshop.errors import Conflict, InvalidInput, QuietshopError
from quietshop.mail import service as mail
from quietshop.privacy import service as privacy
from quietshop.privacy.service import PolicyHeader, PolicyVersion
from quietshop.settings import Settings
from quietshop.staff.models import (
    StaffMember,
    StaffPolicyAcknowledgement,
    StaffPolicyMailRun,
    StaffRole,
)
from quietshop.staff.need_to_know import Action, acting_role
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff

__all__ = [
    "CUSTOMER_POLICY",
    "Acknowledgement",
    "KindStatus",
    "PoliciesPending",
    "PolicyHeader",
    "PolicySuperseded",
    "PolicyVersion",
    "Publication",
    "StaffCompliance",
    "acknowledge",
    "compliance",
    "current_policies",
    "next_quarter_start",
    "pending_for",
    "policy_history",
    "publish_policy",
    "quarter_label",
    "quarter_start",
    "queue_customer_notices",
    "remind_for_quarter",
    "require_acknowledged",
]

log = logging.getLogger(__name__)

CUSTOMER_POLICY = "privacy"  # the kind the public /privacy page shows, told to customers
NOTICE_BATCH = 500  # customers per notice transaction: ~0.5 s of rendering, a few MB
MAX_SUMMARY = 500
REMINDER = "staff_policy_reminder"
NOTICE = "policy_changed"
_NOTICE_RUN = "notice:"
_QUARTER_RUN = "quarter:"


# ---------------------------------------------------------------- quarters


def quarter_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the calendar quarter ``moment`` falls in. Only an aware
    time has a quarter: a naive one raises ValueError rather than guess its zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime given; quarters are reckoned in UTC from aware times")
    utc = moment.astimezone(UTC)
    return datetime(utc.year, 3 * ((utc.month - 1) // 3) + 1, 1, tzinfo=UTC)


def next_quarter_start(moment: datetime) -> datetime:
    """When acknowledgements given at ``moment`` lapse."""
    start = quarter_start(moment)
    if start.month == 10:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 3)


def quarter_label(moment: datetime) -> str:
    """``2027Q2``."""
    start = quarter_start(moment)
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


# ---------------------------------------------------------------- reading policies


def current_policies(session: Session) -> list[PolicyVersion]:
    """The newest version of each kind, by kind."""
    return privacy.latest_policy_versions(session)


def policy_history(session: Session) -> list[PolicyHeader]:
    """Every version of every kind (no text), by kind, newest first."""
    return privacy.policy_headers(session)


# ---------------------------------------------------------------- publishing


@dataclass(frozen=True)
class Publication:
    policy: PolicyVersion
    staff_reminded: int
    # A notice run was opened: queue_customer_notices will tell every customer.
    customers_to_notify: bool


def _checked_summary(summary: str, kind: str) -> str:
    summary = " ".join(summary.split())
    if not summary and kind == CUSTOMER_POLICY:
        raise InvalidInput("summary", "say in a sentence what changed: customers read it")
    if len(summary) > MAX_SUMMARY or not summary.isprintable():
        raise InvalidInput("summary", f"at most {MAX_SUMMARY} characters, without control ones")
    return summary


def publish_policy(
    session: Session,
    settings: Settings,
    kind: str,
    title: str,
    body: str,
    now: datetime,
    *,
    summary: str = "",
    by: SignedInStaff | None = None,
) -> Publication:
    """Publish the next version of ``kind`` and tell people (see the module's doc), all in
    the caller's transaction; the customers' notices follow in ``queue_customer_notices``.

    ``summary`` (required for ``privacy``) says what changed. ``by``: the staff member
    publishing, who must hold the right (AccessDenied otherwise) and is recorded in the
    audit chain; None for the command line. InvalidInput names a bad field."""
    role = acting_role(by.roles, Action.PUBLISH_POLICIES) if by is not None else None
    summary = _checked_summary(summary, privacy.checked_policy_kind(kind))
    policy = privacy.add_policy_version(session, kind, title, body, now)
    opened = policy.kind == CUSTOMER_POLICY
    if opened:
        catalog.record_site_wide_change(session)
        _open_notice_run(session, policy, summary, now)
    reminded = _remind_staff(
        session,
        settings,
        "A new policy to read and acknowledge",
        _published_text(policy, summary),
        lambda staff_id: f"staff-policy:{policy.kind}:{policy.version}:{staff_id}",
        now,
    )
    if by is not None and role is not None:
        audit.append(session, _publish_event(by, role, policy), now)
    return Publication(policy, reminded, opened)


def _published_text(policy: PolicyVersion, summary: str) -> str:
    said = f" What changed: {summary}" if summary else ""
    return (
        f"We published version {policy.version} of our {policy.kind} policy, "
        f"\u201c{policy.title}\u201d.{said}"
    )


def _publish_event(by: SignedInStaff, role: Role, policy: PolicyVersion) -> audit.AuditEvent:
    return audit.AuditEvent(
        action="policy_publish",
        staff_id=by.id,
        role=role.value,
        subject=f"policy:{policy.id}",
        customer_id=None,
        reason=f"{policy.kind} version {policy.version}",
        origin=by.origin[: audit.MAX_ORIGIN],
    )


def _open_notice_run(session: Session, policy: PolicyVersion, summary: str, now: datetime) -> None:
    """Start telling customers of ``policy``. A run still going for an older version stops:
    the customers it has not reached yet hear of the newest version only."""
    older = select(StaffPolicyMailRun).where(
        StaffPolicyMailRun.key.startswith(_NOTICE_RUN), StaffPolicyMailRun.finished_at.is_(None)
    )
    for run in session.execute(older).scalars():
        run.finished_at = now
    session.add(
        StaffPolicyMailRun(
            key=f"{_NOTICE_RUN}{policy.id}",
            policy_id=policy.id,
            after_customer_id=0,
            queued=0,
            summary=summary,
            started_at=now,
        )
    )
    session.flush()


# ---------------------------------------------------------------- telling people


def _queue(
    session: Session,
    settings: Settings,
    kind: str,
    to: mail.Recipient,
    context: dict[str, Any],
    reference: str,
    now: datetime,
) -> bool:
    """Queue one message; False when the outbox refuses the recipient (an address its
    rules reject). The refusal comes before anything is written, so one odd address
    skips that person instead of stopping everyone's mail."""
    try:
        mail.queue_message(session, settings, kind, to, context, now=now, reference=reference)
    except InvalidInput as refused:
        # Which field, never the address or name (the log names no one, P5).
        log.warning("policy mail %s not queued: the outbox refused its %s", kind, refused.field)
        return False
    return True


def _active_staff(session: Session) -> list[tuple[int, str, str]]:
    """(id, email, name) of every enrolled staff member not disabled."""
    rows = session.execute(
        select(StaffMember.id, StaffMember.email, StaffMember.name)
        .where(StaffMember.disabled_at.is_(None), StaffMember.enrolled_at.is_not(None))
        .order_by(StaffMember.id)
    )
    return [(staff_id, email, name) for staff_id, email, name in rows]


def _remind_staff(
    session: Session,
    settings: Settings,
    title: str,
    body: str,
    reference: Callable[[int], str],
    now: datetime,
) -> int:
    context = {"title": title, "body": body}
    return sum(
        _queue(
            session, settings, REMINDER, mail.Recipient(email, name), context, reference(sid), now
        )
        for sid, email, name in _active_staff(session)
    )


def queue_customer_notices(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    *,
    batch_size: int = NOTICE_BATCH,
) -> int:
    """Queue the ``policy_changed`` notice of every open notice run, one batch of
    customers per transaction, until each run has reached the last customer; returns how
    many were queued. Call it after a publication commits, and from housekeeping: a run a
    crash interrupted goes on after its last committed batch. Safe to run twice at once:
    each batch holds its run's row (FOR UPDATE on PostgreSQL, SQLite's write lock)."""
    with sessions() as session:
        keys = list(
            session.execute(
                select(StaffPolicyMailRun.key)
                .where(
                    StaffPolicyMailRun.key.startswith(_NOTICE_RUN),
                    StaffPolicyMailRun.finished_at.is_(None),
                )
                .order_by(StaffPolicyMailRun.started_at)
            ).scalars()
        )
    total = 0
    for key in keys:
        finished = False
        while not finished:
            with transaction(sessions) as session:
                queued, finished = _notice_batch(session, settings, key, clock(), batch_size)
            total += queued
    return total


def _notice_batch(
    session: Session, settings: Settings, key: str, now: datetime, batch_size: int
) -> tuple[int, bool]:
    run = session.execute(
        select(StaffPolicyMailRun).where(StaffPolicyMailRun.key == key).with_for_update()
    ).scalar_one()
    if run.finished_at is not None or run.policy_id is None:
        return 0, True  # finished by another worker, or stopped by a newer version
    policy = privacy.policy_version(session, run.policy_id)
    page = accounts.policy_notice_recipients(
        session, run.after_customer_id, batch_size, policy.published_at
    )
    context = {"version": policy.version, "summary": run.summary}
    reference = f"policy:{policy.kind}:{policy.version}"
    queued = sum(
        _queue(
            session,
            settings,
            NOTICE,
            mail.Recipient(customer.email, customer.name, customer.customer_number),
            context,
            reference,
            now,
        )
        for customer in page
    )
    if page:
        run.after_customer_id = page[-1].id
    run.queued += queued
    finished = len(page) < batch_size
    if finished:
        run.finished_at = now
    return queued, finished


def remind_for_quarter(session: Session, settings: Settings, now: datetime) -> int:
    """Remind every active staff member to read the current policies again, once per
    calendar quarter (the quarter's marker row is the claim: a second call, or a twin
    process, queues nothing). Returns how many reminders were queued."""
    label = quarter_label(now)
    key = f"{_QUARTER_RUN}{label}"
    if session.get(StaffPolicyMailRun, key) is not None:
        return 0
    run = StaffPolicyMailRun(
        key=key, policy_id=None, after_customer_id=0, queued=0, summary="", started_at=now
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        return 0  # another process claimed this quarter first
    policies = current_policies(session)
    if policies:
        run.queued = _remind_staff(
            session,
            settings,
            f"A new quarter ({label}): please read our policies again",
            _quarter_text(policies),
            lambda staff_id: f"staff-quarter:{label}:{staff_id}",
            now,
        )
    run.finished_at = now
    session.flush()
    return run.queued


def _quarter_text(policies: Iterable[PolicyVersion]) -> str:
    names = ", ".join(f"\u201c{p.title}\u201d (version {p.version})" for p in policies)
    return (
        "A new quarter has begun, and with it every acknowledgement of our policies has "
        f"lapsed. Please read them again: {names}."
    )


# ---------------------------------------------------------------- acknowledgements


@dataclass(frozen=True)
class Acknowledgement:
    policy_id: int
    kind: str
    version: int
    acknowledged_at: datetime
    lapses_at: datetime


class PolicySuperseded(Conflict):
    """Only the current version of a kind can be acknowledged."""

    status_code = 409
    code = "policy_superseded"


class PoliciesPending(QuietshopError):
    """Personal data is refused until the current policies are acknowledged (P7)."""

    status_code = 403
    code = "policies_pending"

    def __init__(self, pending: list[PolicyVersion]) -> None:
        super().__init__(
            "Please read and acknowledge the current policies first: until then the back "
            "office opens no customer's personal data."
        )
        self.pending = pending

    def extra(self) -> dict[str, Any]:
        return {
            "pending": [
                {"id": p.id, "kind": p.kind, "version": p.version, "title": p.title}
                for p in self.pending
            ]
        }


def _acknowledged_ids(session: Session, staff_id: int, now: datetime) -> set[int]:
    """The policies this person acknowledged in the current quarter."""
    rows = session.execute(
        select(StaffPolicyAcknowledgement.policy_id).where(
            StaffPolicyAcknowledgement.staff_id == staff_id,
            StaffPolicyAcknowledgement.acknowledged_at >= quarter_start(now),
        )
    )
    return set(rows.scalars())


def pending_for(session: Session, staff_id: int, now: datetime) -> list[PolicyVersion]:
    """The current versions this staff member has not acknowledged this quarter."""
    done = _acknowledged_ids(session, staff_id, now)
    return [policy for policy in current_policies(session) if policy.id not in done]


def require_acknowledged(session: Session, staff_id: int, now: datetime) -> None:
    """Raise PoliciesPending (403 ``policies_pending``, the list in ``extra()``) unless
    every current policy is acknowledged this quarter: call it before any personal data."""
    pending = pending_for(session, staff_id, now)
    if pending:
        raise PoliciesPending(pending)


def _acknowledgement_row(
    session: Session, staff_id: int, policy_id: int, quarter: str
) -> StaffPolicyAcknowledgement | None:
    return session.execute(
        select(StaffPolicyAcknowledgement).where(
            StaffPolicyAcknowledgement.staff_id == staff_id,
            StaffPolicyAcknowledgement.policy_id == policy_id,
            StaffPolicyAcknowledgement.quarter == quarter,
        )
    ).scalar()


def acknowledge(
    session: Session, staff_id: int, policy_id: int, now: datetime, *, origin: str = ""
) -> Acknowledgement:
    """Record that the staff member read and understood the current version ``policy_id``
    (NotFound for no such policy, PolicySuperseded for an older version). Again in the
    same quarter: the first acknowledgement stands, and nothing is written."""
    policy = privacy.policy_version(session, policy_id)
    current = {p.kind: p for p in current_policies(session)}[policy.kind]
    if current.id != policy.id:
        raise PolicySuperseded(
            f"Version {policy.version} of the {policy.kind} policy has been replaced by "
            f"version {current.version}: read and acknowledge that one."
        )
    quarter = quarter_label(now)
    row = _acknowledgement_row(session, staff_id, policy.id, quarter)
    if row is None:
        row = StaffPolicyAcknowledgement(
            staff_id=staff_id,
            policy_id=policy.id,
            quarter=quarter,
            kind=policy.kind,
            version=policy.version,
            acknowledged_at=now,
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a twin click got there first: it stands
            twin = _acknowledgement_row(session, staff_id, policy.id, quarter)
            if twin is None:
                raise
            row = twin
        else:
            audit.append(session, _acknowledge_event(staff_id, policy, origin), now)
    return Acknowledgement(
        policy.id, policy.kind, policy.version, row.acknowledged_at, next_quarter_start(now)
    )


def _acknowledge_event(staff_id: int, policy: PolicyVersion, origin: str) -> audit.AuditEvent:
    return audit.AuditEvent(
        action="policy_acknowledge",
        staff_id=staff_id,
        role="",
        subject=f"policy:{policy.id}",
        customer_id=None,
        reason=f"{policy.kind} version {policy.version}",
        origin=origin[: audit.MAX_ORIGIN],
    )


# ---------------------------------------------------------------- compliance


@dataclass(frozen=True)
class KindStatus:
    kind: str
    current_version: int
    # The person's latest acknowledgement of this kind (None: never).
    acknowledged_version: int | None
    acknowledged_at: datetime | None
    valid: bool  # of the current version, this quarter


@dataclass(frozen=True)
class StaffCompliance:
    staff_id: int
    name: str
    roles: tuple[Role, ...]
    policies: tuple[KindStatus, ...]

    @property
    def compliant(self) -> bool:
        return all(status.valid for status in self.policies)


def compliance(session: Session, now: datetime) -> list[StaffCompliance]:
    """Every active staff member, by name, with each current policy: the version they
    last acknowledged and when, and whether that counts now (the current version, this
    quarter)."""
    current = current_policies(session)
    start = quarter_start(now)
    latest: dict[tuple[int, str], StaffPolicyAcknowledgement] = {}
    acknowledgements = select(StaffPolicyAcknowledgement).order_by(
        StaffPolicyAcknowledgement.acknowledged_at
    )
    for row in session.execute(acknowledgements).scalars():
        latest[(row.staff_id, row.kind)] = row  # the later one wins
    roles: dict[int, list[Role]] = {}
    for staff_id, role in session.execute(select(StaffRole.staff_id, StaffRole.role)):
        roles.setdefault(staff_id, []).append(Role(role))
    members = sorted(_active_staff(session), key=lambda member: (member[2], member[0]))
    return [
        StaffCompliance(
            staff_id,
            name,
            tuple(sorted(roles.get(staff_id, []))),
            tuple(_status(latest.get((staff_id, p.kind)), p, start) for p in current),
        )
        for staff_id, _, name in members
    ]


def _status(
    row: StaffPolicyAcknowledgement | None, policy: PolicyVersion, start: datetime
) -> KindStatus:
    if row is None:
        return KindStatus(policy.kind, policy.version, None, None, False)
    valid = row.policy_id == policy.id and row.acknowledged_at >= start
    return KindStatus(policy.kind, policy.version, row.version, row.acknowledged_at, valid)
