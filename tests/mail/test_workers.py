"""Several senders at once: on PostgreSQL (FOR UPDATE SKIP LOCKED) and on SQLite (an
atomic claiming UPDATE), 500 messages drained by two workers arrive once each."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from quietshop.db import make_session_factory
from quietshop.mail import service
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import MailSender, SmtpTransport
from quietshop.settings import Settings
from tests.clock import T0, MovableClock
from tests.mail.smtp_servers import recording_smtp_server

MESSAGES = 500


def queue_many(sessions: sessionmaker, settings: Settings) -> None:  # type: ignore[type-arg]
    templates = service.templates_for(settings)
    with sessions() as session, session.begin():
        for i in range(MESSAGES):
            service.queue_message(
                session, settings, "order_delivered",
                service.Recipient(f"customer{i}@example.org", f"Customer {i}"),
                {"order_number": f"QS-{i:05d}"}, templates=templates, now=T0,
            )  # fmt: skip


def drain(engine: Engine, settings: Settings, name: str) -> int:
    """One worker, on its own connections from the pool, sending until nothing is due."""
    sender = MailSender(
        make_session_factory(engine), settings, SmtpTransport(settings), name, MovableClock()
    )

    async def loop() -> int:
        sent = 0
        while True:
            summary = await sender.send_due(batch_size=20)
            sent += summary.sent
            if summary.total == 0:
                return sent

    return asyncio.run(loop())


def test_two_workers_deliver_each_message_once(
    committing_engine: Engine, mail_settings: Settings
) -> None:
    queue_many(make_session_factory(committing_engine), mail_settings)
    with recording_smtp_server() as (port, server):
        settings = mail_settings.model_copy(update={"smtp_port": port})
        results: dict[str, int] = {}
        threads = [
            threading.Thread(
                target=lambda n=name: results.__setitem__(n, drain(committing_engine, settings, n))
            )
            for name in ("worker-a", "worker-b")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    ids = Counter(message["Message-ID"] for message in server.received)
    assert len(ids) == MESSAGES and set(ids.values()) == {1}
    assert sum(results.values()) == MESSAGES
    assert all(count > 0 for count in results.values()), results  # both did work
    with committing_engine.connect() as connection:
        statuses = dict(
            connection.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
    assert statuses == {"sent": MESSAGES}


def test_the_sender_beside_the_web_server_delivers_and_stops(
    committing_engine: Engine, mail_settings: Settings
) -> None:
    import time

    from quietshop.mail.background import start_background_sender

    sessions = make_session_factory(committing_engine)
    with recording_smtp_server() as (port, server):
        settings = mail_settings.model_copy(update={"smtp_port": port})
        sender = start_background_sender(
            sessions, settings, idle_seconds=0.05, clock=MovableClock()
        )
        with sessions() as session, session.begin():
            service.queue_message(
                session, settings, "order_delivered", service.Recipient("a@example.org"),
                {"order_number": "QS-7"}, now=T0,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while not server.received and time.monotonic() < deadline:
            time.sleep(0.05)
        sender.stop()
    assert not sender.thread.is_alive()
    assert [m["Subject"] for m in server.received] == ["Your order QS-7 was delivered"]
