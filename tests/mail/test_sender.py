"""Delivery over real SMTP (aiosmtpd on a loopback port), and what the sender does when the
server says 451 or 550, hangs up in DATA, answers garbage, or says nothing at all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from quietshop.mail import service
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import MailSender, SendSummary, SmtpTransport
from quietshop.settings import Settings
from tests.clock import T0 as START
from tests.clock import MovableClock as Clock
from tests.mail.conftest import queue_order_update, subscribe
from tests.mail.smtp_servers import free_port, raw_server, recording_smtp_server


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
    subscribe(db, "123456782", "ann@example.org", "Ann Example")
    ann = service.Recipient("ann@example.org", "Ann Example", "123456782")
    context = {"subject": "Spring prices", "body": "Cheaper cables."}
    mailing = service.queue_message(db, mail_settings, "mailing", ann, context, now=START)
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
    unsubscribe = service.unsubscribe_url(mail_settings, "123456782")
    assert second["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert unsubscribe in second.get_body(("plain",)).get_content()
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


def test_a_one_time_link_goes_out_whole_and_is_then_dropped(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    """Defect 4: the mail carries the link; once sent, nothing stored can rebuild it."""
    link = "https://shop.test/account/reset?token=" + "k" * 43
    service.queue_message(
        db, mail_settings, "password_reset", service.Recipient("ann@example.org", "Ann"), {},
        now=START, links={"link": link},
    )  # fmt: skip
    db.commit()
    with recording_smtp_server() as (port, server):
        assert send(sender_for(sessions, mail_settings, port, Clock())).sent == 1
    (received,) = server.received
    assert link in received.get_body(("plain",)).get_content()
    assert f'href="{link}"' in received.get_body(("html",)).get_content()
    (row,) = rows(db)
    assert row.sealed_context is None
    assert "k" * 43 not in row.text_body + row.html_body


def test_a_display_name_cannot_rewrite_the_recipient(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    """Defect 12: the name "Zoë <zoe@evil.example>" stays a name; the mail goes to Zoë."""
    service.queue_message(
        db, mail_settings, "order_delivered",
        service.Recipient("zoe@example.org", "Zoë <zoe@evil.example>", "123456782"),
        {"order_number": "QS-7"}, now=START,
    )  # fmt: skip
    db.commit()
    with recording_smtp_server() as (port, server):
        assert send(sender_for(sessions, mail_settings, port, Clock())).sent == 1
    (received,) = server.received
    addresses = received["To"].addresses
    assert [(a.display_name, a.addr_spec) for a in addresses] == [
        ("Zoë <zoe@evil.example>", "zoe@example.org")
    ]
    assert server.recipients == [["zoe@example.org"]]


def test_a_refusal_logs_the_outbox_id_and_code_only(
    db: Session,
    sessions: sessionmaker[Session],
    mail_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Defect 8: the server's reply quotes the address; neither the log nor the row keeps it."""
    message = queue_order_update(db, mail_settings, to="ann.private@example.org")
    db.commit()
    refusal = "550 5.1.1 <ann.private@example.org>: Recipient address rejected"
    with (
        caplog.at_level(logging.WARNING, logger="quietshop.mail"),
        recording_smtp_server([refusal]) as (port, _),
    ):
        assert send(sender_for(sessions, mail_settings, port, Clock())).failed == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"mail {message.id} not sent (reply code 550)"
    ]
    (row,) = rows(db)
    assert row.last_error is not None and "550" in row.last_error
    assert "ann.private" not in row.last_error and "<address>" in row.last_error


def test_the_goodbye_of_a_closed_account_is_scrubbed_once_sent(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    service.queue_message(
        db, mail_settings, "account_closed",
        service.Recipient("gone@example.org", "Gone Person", "123456782"), {},
        now=START, erase_after_send=True,
    )  # fmt: skip
    db.commit()
    with recording_smtp_server() as (port, server):
        assert send(sender_for(sessions, mail_settings, port, Clock())).sent == 1
    assert "Gone Person" in server.received[0].get_body(("plain",)).get_content()
    (row,) = rows(db)
    assert (row.status, row.recipient, row.recipient_name, row.text_body) == ("sent", "", "", "")
    assert row.html_body == "" and row.last_error is None
