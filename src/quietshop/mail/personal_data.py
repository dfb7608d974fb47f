"""The mail domain's share of a customer's data, for export and erasure (privacy/).

Sent and queued messages are kept as records of what was sent, with their recipient, name
and bodies scrubbed at erasure; mail not sent yet is cancelled first, so nothing goes to
an address that is being erased. The opt-in row is deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import Session

from quietshop.mail import sealing
from quietshop.mail.models import MailingSubscription, OutboxMessage
from quietshop.privacy.personal_data import DataSubject, SubjectRows

OUTBOX = OutboxMessage.__table__
SUBSCRIPTIONS = MailingSubscription.__table__


def _messages_of(subject: DataSubject) -> ColumnElement[bool]:
    return OutboxMessage.customer_number == subject.customer_number


def _cancel_unsent(session: Session, subject: DataSubject, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(_messages_of(subject), OutboxMessage.status.in_(("queued", "sending")))
        .values(status="cancelled", claimed_by=None, claimed_at=None, next_attempt_at=now)
    )


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    for body in ("text_body", "html_body"):
        if isinstance(row.get(body), str):
            row[body] = sealing.shown(row[body])
    return row


ROWS = (
    SubjectRows(
        table=OUTBOX,  # type: ignore[arg-type]
        where=_messages_of,
        on_erase="scrub",
        export_as="mail",
        before_erase=_cancel_unsent,
        present=_shown,
    ),
    SubjectRows(
        table=SUBSCRIPTIONS,  # type: ignore[arg-type]
        where=lambda subject: MailingSubscription.customer_number == subject.customer_number,
        on_erase="delete",
        export_as="mailing_subscription",
    ),
)
