"""What `serve` does for analytics on its own: destroy each day's visitor salt once the
day has closed, at start and then every minute, so a closed day's salt outlives its day
by a minute at most. Each round is one transaction that deletes only what is due, so two
nodes running it at once do nothing twice; it reads the injectable clock, so a test moves
time instead of waiting.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics import visitors
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
