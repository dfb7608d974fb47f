"""The sender over STARTTLS and implicit TLS, with authentication, against aiosmtpd using a
certificate from the shop's own local CA (the sender trusts it through smtp_ca_file)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from quietshop.mail.sender import MailSender, SmtpTransport
from quietshop.settings import Settings
from quietshop.web.tls import ensure_certificate
from tests.mail.conftest import queue_order_update
from tests.mail.smtp_servers import RecordingHandler, free_port

USER, PASSWORD = "shop", "correct horse battery"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def tls_server(settings: Settings, implicit: bool) -> Iterator[tuple[int, RecordingHandler]]:
    paths = ensure_certificate(settings)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(paths.cert, paths.key)
    handler = RecordingHandler()
    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if implicit:
        # aiosmtpd does not see its own implicit TLS when deciding to offer AUTH.
        options["auth_require_tls"] = False
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            ssl_context=context,
            server_hostname="localhost",
            **options,
        )
    else:
        controller = Controller(
            handler,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            **options,
        )
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


# aiosmtpd warns about AUTH without STARTTLS, not knowing its implicit TLS is TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_sends_over_tls_with_authentication(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings, security: str
) -> None:
    message = queue_order_update(db, mail_settings)
    db.commit()
    with tls_server(mail_settings, implicit=security == "tls") as (port, server):
        paths = ensure_certificate(mail_settings)
        settings = mail_settings.model_copy(
            update={
                "smtp_host": "localhost", "smtp_port": port, "smtp_security": security,
                "smtp_username": USER, "smtp_password": SecretStr(PASSWORD),
                "smtp_ca_file": paths.ca_cert,
            }
        )  # fmt: skip
        sender = MailSender(sessions, settings, SmtpTransport(settings), "tls-worker")
        summary = asyncio.run(sender.send_due())
    assert summary.sent == 1, summary.errors
    assert server.received[0]["Message-ID"] == message.message_id


def test_an_untrusted_certificate_is_refused_and_the_message_kept(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    queue_order_update(db, mail_settings)
    db.commit()
    with tls_server(mail_settings, implicit=False) as (port, server):
        settings = mail_settings.model_copy(
            update={"smtp_host": "localhost", "smtp_port": port, "smtp_security": "starttls"}
        )  # no smtp_ca_file: the local CA is not trusted
        summary = asyncio.run(
            MailSender(sessions, settings, SmtpTransport(settings), "w").send_due()
        )
    assert summary.retried == 1 and server.received == []


def test_wrong_credentials_are_not_a_delivery(
    db: Session, sessions: sessionmaker[Session], mail_settings: Settings
) -> None:
    queue_order_update(db, mail_settings)
    db.commit()
    with tls_server(mail_settings, implicit=False) as (port, server):
        settings = mail_settings.model_copy(
            update={
                "smtp_host": "localhost", "smtp_port": port, "smtp_security": "starttls",
                "smtp_username": USER, "smtp_password": SecretStr("wrong"),
                "smtp_ca_file": ensure_certificate(mail_settings).ca_cert,
            }
        )  # fmt: skip
        summary = asyncio.run(
            MailSender(sessions, settings, SmtpTransport(settings), "w").send_due()
        )
    assert summary.sent == 0 and server.received == []
    assert summary.retried + summary.failed == 1
