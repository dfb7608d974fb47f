"""Staff housekeeping (P7): once a day, every account unused for 90 days is disabled and
its sessions end; the job is due again a day later, and a failing job stays due. Time
moves on the test's clock; nothing waits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import background, service
from quietshop.staff import sessions as staff_sessions
from quietshop.staff.models import StaffSession
from quietshop.staff.roles import Role
from tests.clock import T0, MovableClock
from tests.staff.factories import Staff, audit_entries, make_staff

DISUSE = "accounts disabled for disuse"
REMINDERS = "quarterly policy reminders queued"
# The disuse tests run that job alone; the policy jobs have their own test below.
DISUSE_ONLY = tuple(job for job in background.JOBS if job.name == DISUSE)


def statuses(db: Session) -> dict[str, str]:
    db.expire_all()
    return {person.email: person.status for person in service.list_staff(db, T0)}


@pytest.fixture
def idle(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    """Enrolled at T0 - 5 minutes, never used since."""
    return make_staff(db, settings, keyring, email="idle@shop.example")


def test_an_account_unused_for_ninety_days_is_disabled_by_the_daily_job(
    db: Session, sessions: sessionmaker[Session], settings: Settings, idle: Staff,
    clock: MovableClock,
) -> None:  # fmt: skip
    schedule = background.Schedule(DISUSE_ONLY)
    # Given a day short of 90 days: the job runs and disables nobody
    clock.now = T0 + timedelta(days=89)
    assert background.run_due(sessions, settings, schedule, clock) == {DISUSE: 0}
    assert statuses(db)["idle@shop.example"] == "active"
    # When a day has passed, the job is due again and disables the account
    clock.advance(days=1)
    assert background.run_due(sessions, settings, schedule, clock) == {DISUSE: 1}
    assert statuses(db)["idle@shop.example"] == "disabled (unused for 90 days)"
    (entry,) = [e for e in audit_entries(db, action="staff_change") if "unused" in e.reason]
    assert (entry.subject, entry.staff_id, entry.reason) == (
        f"staff:{idle.id}",
        None,
        "disabled: unused for 90 days",
    )


def test_the_job_runs_once_a_day_however_often_the_thread_wakes(
    sessions: sessionmaker[Session], settings: Settings, clock: MovableClock
) -> None:
    schedule = background.Schedule(DISUSE_ONLY)
    assert background.run_due(sessions, settings, schedule, clock) == {DISUSE: 0}
    clock.advance(hours=23, minutes=59)
    assert background.run_due(sessions, settings, schedule, clock) == {}
    clock.advance(minutes=1)
    assert background.run_due(sessions, settings, schedule, clock) == {DISUSE: 0}


def test_disabling_ends_the_accounts_sessions_and_spares_the_active(
    db: Session, sessions: sessionmaker[Session], settings: Settings, keyring: Keyring,
    idle: Staff, clock: MovableClock,
) -> None:  # fmt: skip
    later = T0 + timedelta(days=90)
    make_staff(db, settings, keyring, roles=frozenset({Role.OWNER}),
               email="busy@shop.example", enrolled_at=later - timedelta(days=1))  # fmt: skip
    # An idle session of the idle account (a tab left open since T0)
    staff_sessions.issue(db, idle.id, settings, "", T0)
    db.flush()
    clock.now = later
    assert background.disable_unused_accounts(sessions, settings, clock) == 1
    assert statuses(db) == {
        "busy@shop.example": "active",
        "idle@shop.example": "disabled (unused for 90 days)",
    }
    ended = db.execute(select(StaffSession.ended_at).where(StaffSession.staff_id == idle.id))
    assert ended.scalars().all() == [later]


def test_a_failing_job_is_logged_and_stays_due(
    sessions: sessionmaker[Session], settings: Settings, clock: MovableClock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    calls: list[int] = []

    def flaky(_: object, __: object, ___: object) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return 2

    schedule = background.Schedule([background.Job("flaky", timedelta(days=1), flaky)])
    assert background.run_due(sessions, settings, schedule, clock) == {}
    assert "staff housekeeping job failed: flaky" in caplog.text
    assert background.run_due(sessions, settings, schedule, clock) == {"flaky": 2}
    assert background.run_due(sessions, settings, schedule, clock) == {}


def test_the_thread_runs_the_due_jobs_and_stops(
    sessions: sessionmaker[Session], settings: Settings, clock: MovableClock
) -> None:
    ran = threading.Event()

    def job(_: object, __: object, ___: object) -> int:
        ran.set()
        return 0

    housekeeping = background.start_staff_housekeeping(
        sessions, settings, wake_seconds=60, clock=clock,
        jobs=[background.Job("probe", timedelta(days=1), job)],
    )  # fmt: skip
    assert ran.wait(5)
    housekeeping.stop(timeout=5)
    assert not housekeeping.thread.is_alive()


def test_the_policy_reminder_goes_out_once_at_each_quarters_start(
    db: Session, sessions: sessionmaker[Session], settings: Settings, idle: Staff,
    clock: MovableClock,
) -> None:  # fmt: skip
    reminders = tuple(job for job in background.JOBS if job.name == REMINDERS)
    schedule = background.Schedule(reminders)
    # Given the first round of the quarter: one reminder for the one staff member
    assert background.run_due(sessions, settings, schedule, clock) == {REMINDERS: 1}
    # An hour later the job runs again, and the quarter's reminder is not sent twice
    clock.advance(hours=1)
    assert background.run_due(sessions, settings, schedule, clock) == {REMINDERS: 0}
    # When the next calendar quarter starts, the next round reminds again
    clock.now = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert background.run_due(sessions, settings, schedule, clock) == {REMINDERS: 1}
