"""`serve` seals: the staff housekeeping thread runs the sealer every few seconds over the
recent entries, and sweeps the whole log at start and daily (staff/background.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.audit.models import AuditSeal
from quietshop.settings import Settings
from quietshop.staff import background
from tests.audit.conftest import event
from tests.clock import MovableClock

SEALED = "audit entries sealed"
SWEPT = "audit entries sealed in the daily sweep"


def _sealed_ids(db: Session) -> list[int]:
    db.expire_all()
    return list(db.execute(select(AuditSeal.entry_id).order_by(AuditSeal.seq)).scalars())


def test_the_rounds_seal_recent_entries_every_few_seconds_and_sweep_daily(
    db: Session, sessions: sessionmaker[Session], settings: Settings, clock: MovableClock
) -> None:
    jobs = tuple(job for job in background.JOBS if job.name in (SEALED, SWEPT))
    assert {job.name: job.every for job in jobs} == {
        SEALED: timedelta(seconds=5), SWEPT: timedelta(days=1),
    }  # fmt: skip
    schedule = background.Schedule(jobs)
    # Given an entry the command line appended an hour before serve started
    stale = audit.append(db, event(subject="from the command line"), clock.now)
    clock.advance(hours=1)
    # The first round sweeps it (the recent window alone would not reach it)
    assert background.run_due(sessions, settings, schedule, clock) == {SEALED: 0, SWEPT: 1}
    # Then each few seconds the new entries are sealed, the sweep not again that day
    fresh = audit.append(db, event(subject="a staff read"), clock.now)
    clock.advance(seconds=5)
    assert background.run_due(sessions, settings, schedule, clock) == {SEALED: 1}
    assert _sealed_ids(db) == [stale, fresh]
    # An entry appended with a time older than twice the limit waits for the daily sweep
    late = audit.append(db, event(subject="held back"), clock.now - timedelta(minutes=11))
    clock.advance(seconds=5)
    assert background.run_due(sessions, settings, schedule, clock) == {SEALED: 0}
    result = audit.verify(db, now=clock.now)
    assert (result.held_back, result.unsealed.oldest_id) == (True, late)
    clock.advance(days=1)
    assert background.run_due(sessions, settings, schedule, clock) == {SEALED: 0, SWEPT: 1}
    assert audit.verify(db, now=clock.now).passed


def test_the_thread_wakes_as_often_as_the_sealer_is_due(
    sessions: sessionmaker[Session], settings: Settings, clock: MovableClock
) -> None:
    rounds = threading.Semaphore(0)

    def probe(_: object, __: object, ___: object) -> int:
        clock.advance(seconds=1)  # each round finds the probe due again
        rounds.release()
        return 0

    jobs = [background.Job("probe", timedelta(seconds=0.05), probe)]
    housekeeping = background.start_staff_housekeeping(sessions, settings, clock=clock, jobs=jobs)
    try:
        assert all(rounds.acquire(timeout=5) for _ in range(3))  # not once per 300 s
    finally:
        housekeeping.stop(timeout=5)
    assert not housekeeping.thread.is_alive()
