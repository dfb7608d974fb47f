"""The outbox's life cycle: claim due messages, then record each one's fate.

Several senders may run at once. On PostgreSQL a claim is ``SELECT ... FOR UPDATE SKIP
LOCKED``; on SQLite, whose writers take turns, it is one ``UPDATE ... WHERE id IN
(SELECT ... LIMIT n)``. A claim is a lease: a message left ``sending`` longer than
``mail_claim_lease_seconds`` (its sender died) is due again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from quietshop.mail.models import OutboxMessage
from quietshop.privacy.personal_data import scrubbed_values
from quietshop.settings import Settings

MAX_ERROR_TEXT = 1000
MAX_BACKOFF_SECONDS = 6 * 3600


def _due(now: datetime, lease_seconds: float) -> ColumnElement[bool]:
    stale = now - timedelta(seconds=lease_seconds)
    return or_(
        and_(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < stale),
    )


def claim_due(
    session: Session, worker: str, now: datetime, limit: int, lease_seconds: float
) -> list[OutboxMessage]:
    """Mark up to ``limit`` due messages as this worker's and return them (committed)."""
    due = (
        select(OutboxMessage.id)
        .where(_due(now, lease_seconds))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.execute(due.with_for_update(skip_locked=True)).scalars())
        condition = OutboxMessage.id.in_(ids)
    else:
        condition = OutboxMessage.id.in_(due.scalar_subquery())
    session.execute(
        update(OutboxMessage)
        .where(condition)
        .values(status="sending", claimed_by=worker, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    claimed = list(
        session.execute(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_by == worker,
                OutboxMessage.claimed_at == now,
            )
            .order_by(OutboxMessage.id)
        ).scalars()
    )
    # End the read transaction: on SQLite, a transaction that read and then writes cannot
    # wait for the lock (another writer moved the snapshot on) and fails at once.
    session.commit()
    return claimed


def _mine(message_id: int, worker: str) -> tuple[ColumnElement[bool], ...]:
    return (
        OutboxMessage.id == message_id,
        OutboxMessage.claimed_by == worker,
        OutboxMessage.status == "sending",
    )


def _done_with(message: OutboxMessage) -> dict[str, Any]:
    """What a message that will not be sent (again) gives up: its sealed links, and for the
    goodbye mail of a closed account its recipient, name and bodies."""
    values: dict[str, Any] = {"sealed_context": None}
    if message.erase_after_send:
        table = OutboxMessage.__table__
        values.update(scrubbed_values(table, message.customer_number or ""))  # type: ignore[arg-type]
    return values


def mark_sent(session: Session, message: OutboxMessage, worker: str, now: datetime) -> None:
    """Committed at once after the server's 250, to keep the resend-after-crash window small."""
    session.execute(
        update(OutboxMessage)
        .where(*_mine(message.id, worker))
        .values(
            {
                "status": "sent",
                "sent_at": now,
                "attempts": OutboxMessage.attempts + 1,
                "last_error": None,
                **_done_with(message),
            }
        )
    )
    session.commit()


def backoff_seconds(settings: Settings, attempts: int, jitter: float) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), +/- 25 %, capped."""
    delay = settings.mail_retry_base_seconds * 2 ** max(attempts - 1, 0)
    return float(min(delay * (0.75 + 0.5 * jitter), MAX_BACKOFF_SECONDS))


def mark_temporary_failure(
    session: Session,
    message: OutboxMessage,
    worker: str,
    error: str,
    settings: Settings,
    now: datetime,
    jitter: float | None = None,
) -> str:
    """Try again later, or give up after ``mail_max_attempts``. Returns the new status."""
    attempts = message.attempts + 1
    status = "failed" if attempts >= settings.mail_max_attempts else "queued"
    delay = backoff_seconds(settings, attempts, random.random() if jitter is None else jitter)  # noqa: S311 - jitter, not a secret
    given_up = _done_with(message) if status == "failed" else {}
    session.execute(
        update(OutboxMessage)
        .where(*_mine(message.id, worker))
        .values(
            {
                "status": status,
                "attempts": attempts,
                "last_error": error[:MAX_ERROR_TEXT],
                "next_attempt_at": now + timedelta(seconds=delay),
                "claimed_by": None,
                "claimed_at": None,
                **given_up,  # an erased goodbye mail keeps no error text either
            }
        )
    )
    session.commit()
    return status


def mark_permanent_failure(
    session: Session, message: OutboxMessage, worker: str, error: str
) -> None:
    session.execute(
        update(OutboxMessage)
        .where(*_mine(message.id, worker))
        .values(
            {
                "status": "failed",
                "attempts": message.attempts + 1,
                "last_error": error[:MAX_ERROR_TEXT],
                **_done_with(message),
            }
        )
    )
    session.commit()


def release(session: Session, messages: Sequence[OutboxMessage], worker: str) -> None:
    """Give messages back untouched (the sender stops before trying them)."""
    ids = [m.id for m in messages]
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker)
            .values(status="queued", claimed_by=None, claimed_at=None)
        )
        session.commit()
