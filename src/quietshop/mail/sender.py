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
import re
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import aiosmtplib
from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import Clock, system_clock
from quietshop.db import wipe_erased_pages
from quietshop.mail import outbox, sealing
from quietshop.mail.local_smtp import forget_mail_to
from quietshop.mail.models import OutboxMessage
from quietshop.mail.service import unsubscribe_url
from quietshop.settings import Settings
from quietshop.signing import MissingSecretKey, UnsealError

logger = logging.getLogger("quietshop.mail")


class SmtpConnection(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class MailTransport(Protocol):
    """Something that opens a connection to a mail server (SMTP here; a fake in tests)."""

    def connect(self) -> AbstractAsyncContextManager[SmtpConnection]: ...


# Servers quote the address they refuse ("550 5.1.1 <ann@example.org>: no such user"):
# whatever we keep or log of a reply has every address cut out first (P5).
_ADDRESS_IN_TEXT = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


class DeliveryFailure(Exception):
    """Why a message did not go: the reply code (or None) and a reason without addresses."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{code if code is not None else 'no reply'}: {reason}")
        self.code = code
        self.reason = reason


class TemporaryFailure(DeliveryFailure):
    """Worth another try later."""


class PermanentFailure(DeliveryFailure):
    """The server refused for good (5xx), or the message cannot be built."""


def without_addresses(text: str) -> str:
    return _ADDRESS_IN_TEXT.sub("<address>", text)


def classify(error: BaseException) -> DeliveryFailure:
    """Sort an SMTP or network error into temporary or permanent."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        error = error.recipients[0]
    raw_code = getattr(error, "code", None)
    code = raw_code if isinstance(raw_code, int) else None
    reason = without_addresses(f"{type(error).__name__}: {error}")
    if code is not None and 500 <= code < 600:
        return PermanentFailure(code, reason)
    return TemporaryFailure(code, reason)


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


def links_for(message: OutboxMessage, settings: Settings) -> dict[str, str]:
    """The links that fill the message's placeholders: its sealed one-time links, and for
    a mailing the unsubscribe link, made now from this sender's base URL and key."""
    links = sealing.unseal_links(settings, message.sealed_context) if message.sealed_context else {}
    if message.purpose == "mailing" and message.customer_number:
        links[sealing.UNSUBSCRIBE] = unsubscribe_url(settings, message.customer_number)
    return links


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    """The message as sent: both bodies with their links filled in, a stable Message-ID,
    and for mailings the RFC 8058 one-click unsubscribe headers.

    The recipient goes in as an ``Address``, so a display name such as
    ``Zoë <zoe@evil.example>`` is quoted as a name and cannot add or change an address."""
    links = links_for(message, settings)
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = Address(display_name=message.recipient_name, addr_spec=message.recipient)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    if sealing.UNSUBSCRIBE in links:
        email["List-Unsubscribe"] = f"<{links[sealing.UNSUBSCRIBE]}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(sealing.fill(message.text_body, links, as_html=False))
    email.add_alternative(sealing.fill(message.html_body, links, as_html=True), subtype="html")
    return email


def _built(message: OutboxMessage, settings: Settings) -> EmailMessage:
    """``build_email``, with a message that cannot be built turned into a permanent failure."""
    try:
        return build_email(message, settings)
    except (UnsealError, MissingSecretKey, KeyError, ValueError) as error:
        # KeyError: a placeholder without its link. UnsealError: the key changed since the
        # message was queued. Neither gets better by trying again.
        raise PermanentFailure(None, f"cannot build the message: {type(error).__name__}") from None


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
        clock: Clock = system_clock,
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
            # Taken now: sending scrubs the goodbye of a closed account, address and all.
            goodbyes = [message.recipient for message in claimed if message.erase_after_send]
            summary = SendSummary()
            if claimed:
                await self._send_batch(session, claimed, summary)
        if goodbyes:  # gone, or given up: now out of the files and the demo mailbox too
            wipe_erased_pages(self.sessions)
            for address in goodbyes:
                forget_mail_to(self.settings, address)
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
            classified = classify(error)
            failure = TemporaryFailure(classified.code, classified.reason)
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
            await connection.send(_built(message, self.settings))
        except PermanentFailure as failure:
            self._record(session, message, failure, summary)
            return True
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            self._record(session, message, classify(error), summary)
            broken = isinstance(error, aiosmtplib.SMTPServerDisconnected | OSError | TimeoutError)
            return not broken
        outbox.mark_sent(session, message, self.worker_id, self.clock())
        summary.sent += 1
        return True

    def _record(
        self,
        session: Session,
        message: OutboxMessage,
        failure: DeliveryFailure,
        summary: SendSummary,
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
        # The outbox id and the reply code only: a reply's text can quote the address (P5).
        reply = failure.code if failure.code is not None else "none"
        logger.warning("mail %s not sent (reply code %s)", message.id, reply)

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
