"""Erased from the files too: after an account is closed through the real API and its
goodbye mail has gone, not one byte of the person is left in any file of the data dir:
not in the SQLite database, its write-ahead log, free pages or old index entries, and not
in the access log. (PostgreSQL reclaims dead rows with vacuum, out of the shop's files.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import build_app
from quietshop.db import make_engine, make_session_factory, upgrade_to_head
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import MailSender, SmtpTransport
from quietshop.settings import Settings
from tests.accounts.factories import link_in
from tests.clock import MovableClock
from tests.mail.smtp_servers import recording_smtp_server

NAME = "Ottoline Featherstonehaugh"
EMAIL = "ottoline.f@example.org"
PHONE = "+44 20 7946 0321"
PENDING = "ottoline.elsewhere@example.org"
STREET = "17 Wisteria Crescent"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A SQLite file of its own in the data dir, whose commits are real."""
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


def send_all(sessions: sessionmaker[Session], settings: Settings) -> None:
    with recording_smtp_server() as (port, server):
        pointed = settings.model_copy(update={"smtp_port": port})
        sender = MailSender(sessions, pointed, SmtpTransport(pointed), "test", MovableClock())
        while asyncio.run(sender.send_due()).total:
            pass
    assert server.received


def newest_link(sessions: sessionmaker[Session], settings: Settings, to: str) -> str:
    with sessions() as session:
        message = (
            session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.recipient == to, OutboxMessage.sealed_context.is_not(None))
                .order_by(OutboxMessage.id.desc())
            )
            .scalars()
            .first()
        )
        assert message is not None
        return link_in(message, settings)


def bytes_of_every_file(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_nothing_of_a_closed_account_is_left_in_any_file(
    engine: Engine, settings: Settings
) -> None:
    sessions = make_session_factory(engine)
    app = build_app(settings, sessions, clock=MovableClock())
    with TestClient(app, base_url="https://testserver") as api:
        registered = api.post(
            "/api/v1/auth/register",
            json={"name": NAME, "email": EMAIL, "password": PASSWORD, "phone": PHONE,
                  "mailing_opt_in": True},
        )  # fmt: skip
        assert registered.status_code == 202
        token = newest_link(sessions, settings, EMAIL)
        assert api.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200
        signed = api.post("/api/v1/auth/sign-in", json={"email": EMAIL, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {signed.json()['token']}"}
        address = {"kind": "shipping", "name": NAME, "line1": STREET, "city": "London",
                   "postcode": "SW1A 1AA", "country": "GB"}  # fmt: skip
        assert api.post("/api/v1/account/addresses", json=address, headers=auth).status_code == 201
        assert (
            api.post("/api/v1/account/email", json={"email": PENDING}, headers=auth).status_code
            == 202
        )
        send_all(sessions, settings)
        secrets = (NAME, EMAIL, PHONE, PENDING, STREET, "Featherstonehaugh")
        before = b"".join(bytes_of_every_file(settings.data_dir).values())
        assert sum(secret.encode() in before for secret in secrets) >= 5  # it was all there

        closed = api.post("/api/v1/account/close", json={"password": PASSWORD}, headers=auth)
        assert closed.status_code == 204
        send_all(sessions, settings)  # the goodbye goes, and is scrubbed

    # Scanned with the server's connections still open, as on a running shop (closing the
    # last one would checkpoint the log on its own and hide what a live server leaves).
    left = {
        (name, secret)
        for name, content in bytes_of_every_file(settings.data_dir).items()
        for secret in secrets
        if secret.encode() in content or secret.encode("utf-16-le") in content
    }
    assert left == set()
