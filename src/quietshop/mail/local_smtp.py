"""The demo's own mail server: aiosmtpd on loopback, keeping what it receives as a Maildir
under ``data_dir/mail`` so a new user can read every message the demo shop sent."""

from __future__ import annotations

import mailbox
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

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


def start_local_smtp(settings: Settings) -> Controller:
    """Listen on 127.0.0.1:smtp_port until ``controller.stop()``; runs in its own thread."""
    controller = Controller(
        MaildirHandler(settings.mail_dir), hostname="127.0.0.1", port=settings.smtp_port
    )
    controller.start()
    return controller


def captured_messages(settings: Settings) -> list[tuple[str, mailbox.MaildirMessage]]:
    """What the local server received, oldest first, with each message's Maildir key."""
    if not settings.mail_dir.exists():
        return []
    box = mailbox.Maildir(settings.mail_dir, create=False)
    items = list(box.items())
    return sorted(items, key=lambda item: item[1].get_date())
