"""What `serve` does for analytics on its own, in one job: ingest its own access log
every ``analytics_ingest_minutes``, and destroy each day's visitor salt once the day has
closed, at start and then every minute, so a closed day's salt outlives its day by a
minute at most.

When a closed day still has its salt, the log is ingested first, whatever the interval:
the last minutes of that day are then counted with the salt their private routes' lines
were hashed with, so one visitor's public and private lines of that day stay one
visitor. Each salt round is one transaction that deletes only what is due, so two nodes
running it at once do nothing twice; rounds read the injectable clock, so a test moves
time instead of waiting. An ingestion already running (``quietshop analytics ingest``
by hand) makes the job skip its own until the next round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics import visitors
from quietshop.analytics.ingest import Ingestion, ingest
from quietshop.analytics.models import DailySalt
from quietshop.analytics.store import StoreBusyError
from quietshop.clock import Clock, system_clock
from quietshop.db import transaction
from quietshop.periodic import PeriodicJob, start_periodic

log = logging.getLogger("quietshop.analytics")

SALT_CHECK_SECONDS = 60.0


def destroy_salts(sessions: sessionmaker[Session], clock: Clock) -> int:
    """One round: delete the salts of closed days; how many went."""
    with transaction(sessions) as session:
        return visitors.destroy_closed_salts(session, clock())


def start_salt_destruction(
    sessions: sessionmaker[Session],
    *,
    interval_seconds: float = SALT_CHECK_SECONDS,
    clock: Clock = system_clock,
) -> PeriodicJob:
    """Run destroy_salts at once (at start-up) and then every ``interval_seconds``."""

    def one_round() -> None:
        destroyed = destroy_salts(sessions, clock)
        if destroyed:
            log.info("destroyed %d visitor salt(s) of closed days", destroyed)

    return start_periodic("salt-destruction", one_round, interval_seconds, log)


def closed_day_has_salt(sessions: sessionmaker[Session], now: datetime) -> bool:
    with sessions() as session:
        found = session.execute(
            select(DailySalt.day).where(DailySalt.day < visitors.day_of(now)).limit(1)
        )
        return found.first() is not None


@dataclass
class TrafficJob:
    """One node's analytics rounds: ``own_logs`` lists the access log's files."""

    ingestion: Ingestion
    own_logs: Callable[[], list[Path]]
    ingest_every: timedelta
    clock: Clock = system_clock
    next_ingest: datetime | None = None

    def one_round(self) -> None:
        now = self.clock()
        due = self.next_ingest is None or now >= self.next_ingest
        if due or closed_day_has_salt(self.ingestion.sessions, now):
            self._ingest(now)
        destroyed = destroy_salts(self.ingestion.sessions, self.clock)
        if destroyed:
            log.info("destroyed %d visitor salt(s) of closed days", destroyed)

    def _ingest(self, now: datetime) -> None:
        try:
            result = ingest(self.ingestion, self.own_logs(), now=now)
        except StoreBusyError:
            log.info("analytics: another ingestion is running; this round skips its own")
            return
        self.next_ingest = now + self.ingest_every
        if result.lines:
            log.info("analytics: ingested %d access-log line(s)", result.lines)


def start_traffic_job(job: TrafficJob, interval_seconds: float = SALT_CHECK_SECONDS) -> PeriodicJob:
    """Run the job's round at once (at start-up) and then every ``interval_seconds``."""
    return start_periodic("analytics", job.one_round, interval_seconds, log)
