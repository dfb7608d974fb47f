"""Running the sender: in the foreground (`quietshop worker`) or beside the web server."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import Clock, system_clock
from quietshop.mail.sender import MailSender, SmtpTransport
from quietshop.settings import Settings


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def make_sender(sessions: sessionmaker[Session], settings: Settings) -> MailSender:
    return MailSender(sessions, settings, SmtpTransport(settings), worker_id())


@dataclass
class BackgroundSender:
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stop_event: asyncio.Event

    def stop(self, timeout: float = 10.0) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout)


def start_background_sender(
    sessions: sessionmaker[Session],
    settings: Settings,
    idle_seconds: float = 1.0,
    clock: Clock = system_clock,
) -> BackgroundSender:
    """A daemon thread with its own event loop that sends the outbox until stopped."""
    loop = asyncio.new_event_loop()
    stop_event = asyncio.Event()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        ready.set()
        sender = MailSender(sessions, settings, SmtpTransport(settings), worker_id(), clock)
        loop.run_until_complete(sender.run(stop_event, idle_seconds))
        loop.close()

    thread = threading.Thread(target=run, name="quietshop-mail-sender", daemon=True)
    thread.start()
    ready.wait(5)
    return BackgroundSender(thread, loop, stop_event)
