"""Real SMTP peers for the mail tests, on free loopback ports: aiosmtpd that records what
it receives (and can answer 451 or 550, or hang up in DATA), and raw servers that answer
garbage or nothing at all."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RecordingHandler:
    """Accepts mail and keeps it; ``replies`` (consumed in order) override the answer."""

    received: list[EmailMessage] = field(default_factory=list)
    # The envelope recipients (RCPT TO) of each accepted message, in order.
    recipients: list[list[str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            reply = self.replies.pop(0) if self.replies else "250 OK"
            if reply == "drop":
                server.transport.close()  # hang up before answering the DATA
                return "421 closing"
            if reply.startswith("250"):
                message = message_from_bytes(envelope.content, policy=policy.default)
                assert isinstance(message, EmailMessage)
                self.received.append(message)
                self.recipients.append(list(envelope.rcpt_tos))
            return reply


@contextmanager
def recording_smtp_server(
    replies: list[str] | None = None,
) -> Iterator[tuple[int, RecordingHandler]]:
    handler = RecordingHandler(replies=list(replies or []))
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@contextmanager
def raw_server(greeting: bytes | None, answer: bytes | None) -> Iterator[int]:
    """A TCP server that sends ``greeting`` (None: nothing, ever) and then answers every
    line with ``answer`` (None: silence)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = int(listener.getsockname()[1])
    stop = threading.Event()
    connections: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            with conn:
                talk(conn)

    def talk(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        try:
            if greeting is not None:
                conn.sendall(greeting)
            while not stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    return
                if answer is not None:
                    conn.sendall(answer)
        except OSError:
            return  # the client hung up: that is what these servers are for

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        for conn in connections:
            conn.close()
        listener.close()
