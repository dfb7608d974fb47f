"""`quietshop mail ...` and `quietshop mailing ...`: read the outbox and the captured mail,
write and send mailings.

Each command parses its arguments, opens the database, calls one service function and
prints. Nothing printed is ever wrapped: a copied line, a link above all, must arrive
whole. Errors come out as one line (the ``quietshop`` command's handler).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database, transaction
from quietshop.mail import sealing, service
from quietshop.mail.local_smtp import captured_messages, delivered_copy
from quietshop.settings import Settings, load_settings

mail_app = typer.Typer(help="Read the outbox and the mail the demo's server captured.")
mailing_app = typer.Typer(help="Write, preview and send a mailing to customers who opted in.")
console = Console(soft_wrap=True, highlight=False)


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(open_database(settings.resolved_database_url))


def _say(text: str) -> None:
    """Plain text, never wrapped, never read as markup."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@mail_app.command("list")
@one_line_errors
def list_mail(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 50,
) -> None:
    """List outbox messages (status, purpose, recipient, subject)."""
    settings = load_settings()
    with _sessions(settings)() as session:
        messages = service.recent_messages(session, limit)
        # One line a message, never wrapped, so the list greps and pipes well.
        _say(f"{'id':>6}  {'status':9}  {'tries':>5}  {'purpose':12}  {'created (UTC)':16}  to")
        for m in messages:
            _say(
                f"{m.id:>6}  {m.status:9}  {m.attempts:>5}  {m.purpose:12}  "
                f"{m.created_at:%Y-%m-%d %H:%M}  {m.recipient or '(erased)'} / {m.subject}"
            )
    captured = captured_messages(settings)
    if captured:
        _say(f"{len(captured)} message(s) delivered to the demo mailbox in {settings.mail_dir}")


@mail_app.command("show")
@one_line_errors
def show_mail(
    message_id: Annotated[int, typer.Argument(help="Outbox id from `mail list`.", min=1)],
) -> None:
    """Print one outbox message: headers, text as stored (links left out), and its state;
    in the demo, also the copy its mailbox received, links and all."""
    settings = load_settings()
    with _sessions(settings)() as session:
        m = service.stored_message(session, message_id)
        _say(f"Message-ID: {m.message_id}")
        _say(f"To: {m.recipient_name} <{m.recipient}>" if m.recipient else "To: (erased)")
        _say(f"Subject: {m.subject}")
        _say(f"Purpose: {m.purpose}   Status: {m.status}   Attempts: {m.attempts}")
        if m.last_error:
            _say(f"Last error: {m.last_error}")
        console.rule("as stored: links are never kept")
        _say(sealing.shown(m.text_body) or "(erased)")
        message_key = m.message_id
    copy = delivered_copy(settings, message_key)
    if copy is not None:
        console.rule("as delivered to the demo mailbox")
        _say(copy)


@mailing_app.command("create")
@one_line_errors
def create_mailing(
    subject: Annotated[str, typer.Option(help="The subject line.")],
    text: Annotated[str, typer.Option(help="The message; blank lines separate paragraphs.")],
) -> None:
    """Save a mailing (not sent yet)."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        mailing = service.create_mailing(session, subject, text, system_clock(), created_by="cli")
        mailing_id = mailing.id
    _say(f"Mailing {mailing_id} saved. Preview: quietshop mailing preview {mailing_id}")


@mailing_app.command("preview")
@one_line_errors
def preview_mailing(mailing_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Show a mailing as a subscriber would read it."""
    settings = load_settings()
    with _sessions(settings)() as session:
        subject, text = service.preview_mailing(session, settings, mailing_id)
    _say(f"Subject: {subject}")
    console.rule()
    _say(text)


@mailing_app.command("send")
@one_line_errors
def send_mailing(mailing_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Queue the mailing for every customer opted in, with a confirmed address, right now."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        count = service.send_mailing(session, settings, mailing_id, system_clock())
    _say(f"Queued for {count} subscriber(s).")
