"""Sending the outbox over SMTP (aiosmtplib): plain, STARTTLS or implicit TLS.

A 4xx reply, a refused connection, a timeout or a dropped connection is temporary: the
message goes back to the queue with exponential backoff and jitter. A 5xx reply is
permanent: the message is marked failed with the server's answer.

At most one resend after a crash: a message is marked sent, in its own commit, right after
the server's 250 to its DATA. If the process dies between that reply and the commit, the
claim's lease expires and the message is sent again with the same Message-ID, which lets
receiving systems recognise the duplicate. The window is one database commit wide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol

import aiosmtplib
from sqlalchemy.orm import Session, sessionmaker

from quietshop.db import utcnow
from quietshop.mail import outbox
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings

logger = logging.getLogger("quietshop.mail")


class SmtpConnection(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class MailTransport(Protocol):
    """Something that opens a connection to a mail server (SMTP here; a fake in tests)."""

    def connect(self) -> AbstractAsyncContextManager[SmtpConnection]: ...


class TemporaryFailure(Exception):
    """Worth another try later."""


class PermanentFailure(Exception):
    """The server refused for good (5xx)."""


def classify(error: BaseException) -> Exception:
    """Sort an SMTP or network error into temporary or permanent."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    code = getattr(error, "code", None)
    text = f"{type(error).__name__}: {error}"
    if isinstance(code, int) and 500 <= code < 600:
        return PermanentFailure(text)
    return TemporaryFailure(text)


class _AioSmtpConnection:
    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client

    async def send(self, message: EmailMessage) -> None:
        await self.client.send_message(message)


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.settings.smtp_security == "plain":
            return None
        context = ssl.create_default_context(
            cafile=str(self.settings.smtp_ca_file) if self.settings.smtp_ca_file else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[SmtpConnection]:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            tls_context=self._tls_context(),
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
            local_hostname=socket.getfqdn() or "localhost",
        )
        try:
            await client.connect()
        except BaseException:
            client.close()  # a failed greeting or handshake must not leak the socket
            raise
        try:
            yield _AioSmtpConnection(client)
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    """The message as sent: both bodies, a stable Message-ID, and for mailings the
    RFC 8058 one-click unsubscribe headers. Header values were checked at queue time."""
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = formataddr((message.recipient_name, message.recipient))
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    if message.purpose == "mailing" and message.unsubscribe_url:
        email["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    return email


@dataclass
class SendSummary:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.failed


class MailSender:
    """Claims due messages and sends them, one SMTP connection per batch."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        transport: MailTransport,
        worker_id: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.transport = transport
        self.worker_id = worker_id
        self.clock = clock

    async def send_due(self, batch_size: int = 50) -> SendSummary:
        with self.sessions() as session:
            claimed = outbox.claim_due(
                session,
                self.worker_id,
                self.clock(),
                batch_size,
                self.settings.mail_claim_lease_seconds,
            )
            summary = SendSummary()
            if claimed:
                await self._send_batch(session, claimed, summary)
            return summary

    async def _send_batch(
        self, session: Session, batch: list[OutboxMessage], summary: SendSummary
    ) -> None:
        handled: set[int] = set()
        try:
            async with self.transport.connect() as connection:
                for index, message in enumerate(batch):
                    handled.add(message.id)
                    if not await self._send_one(session, connection, message, summary):
                        # The connection is gone: the rest wait for the next round.
                        outbox.release(session, batch[index + 1 :], self.worker_id)
                        return
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # Could not connect (or the goodbye failed): nothing unsent is lost.
            failure = TemporaryFailure(str(classify(error)))
            for message in batch:
                if message.id not in handled:
                    self._record(session, message, failure, summary)

    async def _send_one(
        self,
        session: Session,
        connection: SmtpConnection,
        message: OutboxMessage,
        summary: SendSummary,
    ) -> bool:
        """Send one message; False when the connection can no longer be used."""
        try:
            await connection.send(build_email(message, self.settings))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            self._record(session, message, classify(error), summary)
            broken = isinstance(error, aiosmtplib.SMTPServerDisconnected | OSError | TimeoutError)
            return not broken
        outbox.mark_sent(session, message.id, self.worker_id, self.clock())
        summary.sent += 1
        return True

    def _record(
        self, session: Session, message: OutboxMessage, failure: Exception, summary: SendSummary
    ) -> None:
        summary.errors.append(str(failure))
        if isinstance(failure, PermanentFailure):
            outbox.mark_permanent_failure(session, message, self.worker_id, str(failure))
            summary.failed += 1
        else:
            status = outbox.mark_temporary_failure(
                session, message, self.worker_id, str(failure), self.settings, self.clock()
            )
            summary.retried += status == "queued"
            summary.failed += status == "failed"
        logger.warning("mail %s not sent: %s", message.id, failure)

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Send until ``stop`` is set, sleeping ``idle_seconds`` when nothing is due."""
        while not stop.is_set():
            try:
                summary = await self.send_due()
            except Exception:  # a database hiccup must not kill the sender
                logger.exception("mail sender round failed")
                summary = SendSummary()
            if summary.total == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
