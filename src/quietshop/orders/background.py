"""What `serve` forgets on its own, every few minutes: product questions past their
retention, answered Idempotency-Keys past their lifetime, card numbers of captured
payments, and the personal data of orders past the tax-law period. Each node may run it;
every step is a DELETE or an UPDATE of what is due, so two nodes never do anything twice.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import Clock, system_clock
from quietshop.db import transaction
from quietshop.orders import idempotency, service
from quietshop.periodic import PeriodicJob, start_periodic
from quietshop.settings import Settings

log = logging.getLogger("quietshop.orders")


def forget_due(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> dict[str, int]:
    """One round, in one transaction; returns what went, by kind (counts only)."""
    now = clock()
    with transaction(sessions) as session:
        counts = service.forget_expired(session, settings, now)
        counts["idempotency_keys"] = idempotency.forget_expired(session, now)
    return counts


def start_housekeeping(
    sessions: sessionmaker[Session],
    settings: Settings,
    interval_seconds: float = 300.0,
    clock: Clock = system_clock,
) -> PeriodicJob:
    def one_round() -> None:
        counts = forget_due(sessions, settings, clock)
        if any(counts.values()):
            log.info("forgot %s", ", ".join(f"{k} {v}" for k, v in counts.items()))

    return start_periodic("housekeeping", one_round, interval_seconds, log)
