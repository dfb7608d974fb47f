"""Delivery over real SMTP (aiosmtpd on a loopback port), and what the sender does when the
server says 451 or 550, hangs up in DATA, answers garbage, or says nothing at all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from quietshop.mail import service
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import MailSender, SendSummary, SmtpTransport
from quietshop.settings import Settings
from tests.mail.conftest import queue_order_update
from tests.mail.smtp_servers import free_port, raw_server, recording_smtp_server

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sender_for(
    sessions: sessionmaker[Session], settings: Settings, port: int, clock: Callable[[], datetime]
) -> MailSender:
    pointed = settings.model_copy(update={"smtp_port": port})
    return MailSender(sessions, pointed, SmtpTransport(pointed), "test-worker", clock)


def send(sender: MailSender) -> SendSummary:
    return asyncio.run(sender.send_due())


def rows(db: Session) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def test_delivery_with_the_right_headers(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    update_ = queue_order_update(db, mail_settings)
    service.set_mailing_opt_in(db, "123456782", "ann@example.org", "Ann Example", opted_in=True)
    ann = service.Recipient("ann@example.org", "Ann Example", "123456782")
    context = {"subject": "Spring prices", "body": "Cheaper cables."}
    mailing = service.queue_message(db, mail_settings, "mailing", ann, context)
    db.commit()
    with recording_smtp_server() as (port, server):
        summary = send(sender_for(sessions, mail_settings, port, Clock()))
    assert (summary.sent, summary.retried, summary.failed) == (2, 0, 0)
    first, second = server.received
    assert first["Message-ID"] == update_.message_id and second["Message-ID"] == mailing.message_id
    assert first["From"] == "Quietshop Test <shop@quietshop.test>"
    assert first["To"] == "Ann Example <ann@example.org>"
    assert first["Subject"] == "Your order QS-1001 is on its way"
    assert first["Date"] is not None
    assert first["List-Unsubscribe"] is None and first["List-Unsubscribe-Post"] is None
    assert second["List-Unsubscribe"] == f"<{mailing.unsubscribe_url}>"
    assert second["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first.get_body(("plain",)) is not None and first.get_body(("html",)) is not None
    assert [(r.status, r.attempts) for r in rows(db)] == [("sent", 1), ("sent", 1)]
    assert all(r.sent_at is not None for r in rows(db))


def test_a_451_is_retried_later_with_backoff(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    queue_order_update(db, mail_settings)
    db.commit()
    clock = Clock()
    with recording_smtp_server(["451 4.3.0 try again later"]) as (port, server):
        sender = sender_for(sessions, mail_settings, port, clock)
        assert send(sender).retried == 1
        (row,) = rows(db)
        assert (row.status, row.attempts) == ("queued", 1) and "451" in (row.last_error or "")
        wait = (row.next_attempt_at - START).total_seconds()
        assert 22.5 <= wait <= 37.5  # 30 s base, +/- 25 % jitter
        assert send(sender).total == 0  # not due yet
        clock.advance(wait)
        assert send(sender).sent == 1
    assert len(server.received) == 1
    assert rows(db)[0].status == "sent"


def test_a_550_fails_the_message_with_the_reply(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    queue_order_update(db, mail_settings)
    db.commit()
    with recording_smtp_server(["550 5.1.1 no such user"]) as (port, server):
        assert send(sender_for(sessions, mail_settings, port, Clock())).failed == 1
    (row,) = rows(db)
    assert row.status == "failed" and "550" in (row.last_error or "") and server.received == []


def test_a_server_that_hangs_up_in_data_loses_nothing(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    for number in ("QS-1", "QS-2", "QS-3"):
        queue_order_update(db, mail_settings, number=number)
    db.commit()
    clock = Clock()
    with recording_smtp_server(["drop"]) as (port, server):
        sender = sender_for(sessions, mail_settings, port, clock)
        first = send(sender)
        assert (first.sent, first.retried) == (0, 1)  # the rest waited, untouched
        clock.advance(3600)
        send(sender)
        send(sender)
    assert sorted(m["Subject"] for m in server.received) == [
        "Your order QS-1 is on its way",
        "Your order QS-2 is on its way",
        "Your order QS-3 is on its way",
    ]
    assert [r.status for r in rows(db)] == ["sent", "sent", "sent"]


def test_garbage_silence_and_refusal_are_temporary(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    queue_order_update(db, mail_settings)
    db.commit()
    quick = mail_settings.model_copy(update={"smtp_timeout": 0.5})
    clock = Clock()
    with raw_server(b"220 hello\r\n", b"this is not SMTP\r\n") as garbage:
        assert send(sender_for(sessions, quick, garbage, clock)).retried == 1
    clock.advance(3600)
    with raw_server(None, None) as silent:
        assert send(sender_for(sessions, quick, silent, clock)).retried == 1
    clock.advance(3600)
    assert send(sender_for(sessions, quick, free_port(), clock)).retried == 1  # nobody there
    (row,) = rows(db)
    assert (row.status, row.attempts) == ("queued", 3)


def test_gives_up_after_the_last_attempt(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    queue_order_update(db, mail_settings)
    db.commit()
    settings = mail_settings.model_copy(update={"mail_max_attempts": 2})
    clock = Clock()
    port = free_port()
    assert send(sender_for(sessions, settings, port, clock)).retried == 1
    clock.advance(3600)
    assert send(sender_for(sessions, settings, port, clock)).failed == 1
    assert rows(db)[0].status == "failed"


def test_a_claim_whose_sender_died_is_taken_again(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    message = queue_order_update(db, mail_settings)
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status="sending", claimed_by="dead-worker", claimed_at=START - timedelta(hours=1))
    )
    db.commit()
    with recording_smtp_server() as (port, server):
        assert send(sender_for(sessions, mail_settings, port, Clock())).sent == 1
    assert server.received[0]["Message-ID"] == message.message_id  # same id on a resend
