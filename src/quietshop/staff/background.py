"""What `serve` does for staff accounts on its own: disable every account unused for 90
days (P7), once a day. Sign-in refuses such an account anyway (``signin``); this makes the
owner's list and access review say so too, and ends the account's sessions.

It also reminds staff of the policies at each calendar quarter's start, finishes a
customer notice of a new privacy policy that a crash interrupted (staff/policies.py), and
seals the audit log's new entries every few seconds (audit/sealer.py: an append is one
insert, the chain is made here), sweeping the whole log for stragglers once a day.
The jobs are a list, each with how often it is due, so another staff job joins without
another thread. Each is one transaction doing only what is
due, so two nodes running it at once do nothing twice that matters. The round reads the
injectable clock, so a test moves time instead of waiting; the thread wakes as often as
the most frequent job is due (the sealer's few seconds) to ask whether anything is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service as audit
from quietshop.clock import Clock, system_clock
from quietshop.db import transaction
from quietshop.periodic import PeriodicJob, start_periodic
from quietshop.settings import Settings
from quietshop.staff import policies, service

log = logging.getLogger("quietshop.staff")

Sessions = sessionmaker[Session]


@dataclass(frozen=True)
class Job:
    name: str  # what the log line counts: "accounts disabled for disuse"
    every: timedelta
    run: Callable[[Sessions, Settings, Clock], int]  # how many things it did


def disable_unused_accounts(sessions: Sessions, settings: Settings, clock: Clock) -> int:
    """Disable the accounts unused for 90 days now; how many."""
    with transaction(sessions) as session:
        return service.disable_unused(session, clock())


def remind_of_policies(sessions: Sessions, settings: Settings, clock: Clock) -> int:
    """At a calendar quarter's start, remind every staff member of the policies (P7)."""
    with transaction(sessions) as session:
        return policies.remind_for_quarter(session, settings, clock())


def resume_policy_notices(sessions: Sessions, settings: Settings, clock: Clock) -> int:
    """Queue what is left of a customer privacy-policy notice a crash interrupted."""
    return policies.queue_customer_notices(sessions, settings, clock)


def seal_audit_entries(sessions: Sessions, settings: Settings, clock: Clock) -> int:
    """Seal the entries appended in the last minutes (found by their time, so the cost is
    the recent entries', not the log's). Twice the verify limit back: an entry committed
    later than that is left to the daily sweep, and ``audit verify`` reports it meanwhile."""
    limit = timedelta(minutes=settings.audit_unsealed_limit_minutes)
    now = clock()
    return audit.seal(sessions, now, since=now - 2 * limit, late_after=limit).sealed


def sweep_audit_entries(sessions: Sessions, settings: Settings, clock: Clock) -> int:
    """Seal every entry still unsealed, however old (at start: entries the command line
    appended while nothing served); late ones are logged by the sealer."""
    limit = timedelta(minutes=settings.audit_unsealed_limit_minutes)
    return audit.seal(sessions, clock(), late_after=limit).sealed


AUDIT_SEAL_EVERY = timedelta(seconds=5)

JOBS: tuple[Job, ...] = (
    Job("accounts disabled for disuse", timedelta(days=1), disable_unused_accounts),
    # Hourly: the quarter's reminder goes out within an hour of the quarter's start.
    Job("quarterly policy reminders queued", timedelta(hours=1), remind_of_policies),
    Job("policy-change notices queued", timedelta(minutes=15), resume_policy_notices),
    # First at start (a job never run is due at once), then daily: the whole log.
    Job("audit entries sealed in the daily sweep", timedelta(days=1), sweep_audit_entries),
    Job("audit entries sealed", AUDIT_SEAL_EVERY, seal_audit_entries),
)
# The thread wakes at least this often, whatever the jobs.
LONGEST_WAKE_SECONDS = 300.0


@dataclass
class Schedule:
    """When each job last ran in this process; a job never run is due at once."""

    jobs: Sequence[Job] = JOBS
    last_run: dict[str, datetime] = field(default_factory=dict)

    def due(self, now: datetime) -> list[Job]:
        return [
            job
            for job in self.jobs
            if job.name not in self.last_run or now - self.last_run[job.name] >= job.every
        ]


def run_due(
    sessions: Sessions, settings: Settings, schedule: Schedule, clock: Clock
) -> dict[str, int]:
    """Run every job that is due (each in its own transaction); what each did, by name.
    A job that fails is logged and tried again at the next round."""
    done: dict[str, int] = {}
    for job in schedule.due(clock()):
        now = clock()
        try:
            done[job.name] = job.run(sessions, settings, clock)
        except Exception:  # a database hiccup: the job stays due
            log.exception("staff housekeeping job failed: %s", job.name)
            continue
        schedule.last_run[job.name] = now
    return done


def start_staff_housekeeping(
    sessions: Sessions,
    settings: Settings,
    *,
    wake_seconds: float | None = None,
    clock: Clock = system_clock,
    jobs: Sequence[Job] = JOBS,
) -> PeriodicJob:
    """Run the jobs in a thread of their own; it wakes every ``wake_seconds`` (default: as
    often as the most frequent job is due, at most every LONGEST_WAKE_SECONDS)."""
    if wake_seconds is None:
        shortest = min((job.every.total_seconds() for job in jobs), default=LONGEST_WAKE_SECONDS)
        wake_seconds = min(shortest, LONGEST_WAKE_SECONDS)
    schedule = Schedule(jobs)

    def one_round() -> None:
        for name, count in run_due(sessions, settings, schedule, clock).items():
            if count:
                log.info("staff housekeeping: %s %d", name, count)

    return start_periodic("staff-housekeeping", one_round, wake_seconds, log)
