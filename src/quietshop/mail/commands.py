"""`quietshop mail ...` and `quietshop mailing ...`: read the outbox and the captured mail,
write and send mailings."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.db import make_engine, make_session_factory, transaction
from quietshop.errors import QuietshopError
from quietshop.mail import service
from quietshop.mail.local_smtp import captured_messages
from quietshop.mail.models import OutboxMessage
from quietshop.settings import Settings

mail_app = typer.Typer(help="Read the outbox and the mail the demo's server captured.")
mailing_app = typer.Typer(help="Write, preview and send a mailing to customers who opted in.")
console = Console()


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(make_engine(settings.resolved_database_url))


@mail_app.command("list")
def list_mail(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 50,
) -> None:
    """List outbox messages (status, purpose, recipient, subject)."""
    settings = Settings()
    with _sessions(settings)() as session:
        rows = session.execute(
            select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        ).scalars()
        # One line a message, never wrapped, so the list greps and pipes well.
        header = f"{'id':>6}  {'status':7}  {'tries':>5}  {'purpose':12}  {'created (UTC)':16}"
        console.print(f"{header}  to / subject")
        for m in rows:
            console.print(
                f"{m.id:>6}  {m.status:7}  {m.attempts:>5}  {m.purpose:12}  "
                f"{m.created_at:%Y-%m-%d %H:%M}  {m.recipient} / {m.subject}",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
    captured = captured_messages(settings)
    if captured:
        console.print(f"{len(captured)} message(s) captured in {settings.mail_dir}")


@mail_app.command("show")
def show_mail(
    message_id: Annotated[int, typer.Argument(help="Outbox id from `mail list`.")],
) -> None:
    """Print one outbox message: headers, plain text, and its delivery state."""
    settings = Settings()
    with _sessions(settings)() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            console.print(f"[red]No message {message_id} in the outbox.[/red]")
            raise typer.Exit(1)
        console.print(f"Message-ID: {message.message_id}")
        console.print(f"To: {message.recipient_name} <{message.recipient}>")
        console.print(f"Subject: {message.subject}")
        console.print(f"Purpose: {message.purpose}   Status: {message.status}   "
                      f"Attempts: {message.attempts}")  # fmt: skip
        if message.last_error:
            console.print(f"Last error: {message.last_error}")
        console.rule()
        console.print(message.text_body, markup=False, highlight=False)


@mailing_app.command("create")
def create_mailing(
    subject: Annotated[str, typer.Option(help="The subject line.")],
    text: Annotated[str, typer.Option(help="The message; blank lines separate paragraphs.")],
) -> None:
    """Save a mailing (not sent yet)."""
    settings = Settings()
    try:
        with transaction(_sessions(settings)) as session:
            mailing = service.create_mailing(session, subject, text, created_by="cli")
            mailing_id = mailing.id
    except QuietshopError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Mailing {mailing_id} saved. Preview: quietshop mailing preview {mailing_id}")


@mailing_app.command("preview")
def preview_mailing(mailing_id: int) -> None:
    """Show a mailing as a subscriber would read it."""
    settings = Settings()
    with _sessions(settings)() as session:
        subject, text = service.preview_mailing(session, settings, mailing_id)
    console.print(f"Subject: {subject}")
    console.rule()
    console.print(text, markup=False, highlight=False)


@mailing_app.command("send")
def send_mailing(mailing_id: int) -> None:
    """Queue the mailing for every customer opted in right now."""
    settings = Settings()
    try:
        with transaction(_sessions(settings)) as session:
            count = service.send_mailing(session, settings, mailing_id)
    except QuietshopError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Queued for {count} subscriber(s).")
