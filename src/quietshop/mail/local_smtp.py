"""The demo's own mail server: aiosmtpd on loopback, keeping what it receives as a Maildir
under ``data_dir/mail`` so a new user can read every message the demo shop sent.

That mailbox sits in the shop's data dir, on the shop's machine, so it honours erasure
like every table and file there: when an account closes, what it holds for that address
is deleted, and the goodbye mail as soon as it has been delivered.
"""

from __future__ import annotations

import mailbox
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from quietshop.errors import EnvironmentProblem
from quietshop.settings import Settings


class MaildirHandler:
    def __init__(self, directory: Path) -> None:
        # Maildir makes tmp/, new/ and cur/ only when it creates the folder itself.
        directory.parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(directory, create=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        with self._lock:
            self.maildir.add(mailbox.MaildirMessage(message))
        return "250 Message accepted for delivery"


class LocalMailPortBusy(EnvironmentProblem):
    """The demo's mail server cannot listen on its port."""


def start_local_smtp(settings: Settings) -> Controller:
    """Listen on 127.0.0.1:smtp_port until ``controller.stop()``; runs in its own thread."""
    controller = Controller(
        MaildirHandler(settings.mail_dir), hostname="127.0.0.1", port=settings.smtp_port
    )
    try:
        controller.start()
    except (OSError, RuntimeError) as error:
        raise LocalMailPortBusy(
            f"the demo's mail server cannot listen on 127.0.0.1 port {settings.smtp_port} "
            f"({error.__class__.__name__}): is another Quietshop demo running? Stop it, or "
            "choose another port with QUIETSHOP_SMTP_PORT"
        ) from None
    return controller


def captured_messages(settings: Settings) -> list[tuple[str, mailbox.MaildirMessage]]:
    """What the local server received, oldest first, with each message's Maildir key."""
    if not settings.mail_dir.exists():
        return []
    box = mailbox.Maildir(settings.mail_dir, create=False)
    items = list(box.items())
    return sorted(items, key=lambda item: item[1].get_date())


def delivered_copy(settings: Settings, message_id: str) -> str | None:
    """The plain text of the demo mailbox's copy of a message (what the customer got, links
    and all), or None. Only the demo has a local mailbox; a real shop's mail has left."""
    if not settings.mail_dir.exists():
        return None
    box = mailbox.Maildir(settings.mail_dir, create=False)
    for key in box.iterkeys():
        captured = message_from_bytes(box.get_bytes(key), policy=policy.default)
        if captured.get("Message-ID") == message_id and isinstance(captured, EmailMessage):
            body = captured.get_body(preferencelist=("plain",))
            return body.get_content() if isinstance(body, EmailMessage) else None
    return None


def forget_mail_to(settings: Settings, address: str) -> int:
    """Delete every captured message to ``address`` (an account closed); how many went."""
    if not settings.local_smtp or not settings.mail_dir.exists():
        return 0
    box = mailbox.Maildir(settings.mail_dir, create=False)
    wanted = address.casefold()
    doomed = []
    for key in box.iterkeys():
        captured = message_from_bytes(box.get_bytes(key), policy=policy.default)
        recipients = captured.get("To")
        addresses = getattr(recipients, "addresses", ()) if recipients is not None else ()
        if any(a.addr_spec.casefold() == wanted for a in addresses):
            doomed.append(key)
    for key in doomed:
        box.discard(key)
    return len(doomed)
