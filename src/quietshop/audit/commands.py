"""`quietshop audit ...`: check the staff audit log's chain, and export its head.

``verify`` walks every entry with a progress bar and ends "intact: N entries, head <hash>"
(exit 0) or names the first broken entry (exit 1); with ``--head FILE`` it also checks that
an exported head is still in the chain. ``export`` writes the chain head (id, hash, time,
count) as JSON, to keep somewhere the shop's machine cannot rewrite: a chain rewritten from
some entry on is then still caught, as long as that entry is older than the kept head.

Both read the log, so both first append an ``audit_read`` entry (no staff member: the
"operator" at the "cli"). For ``export`` that is a choice: it shows no entry's content,
but recording it means the exported head is the entry that says it was exported, and
every export leaves a mark a later reader can match against the heads kept outside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit import service
from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database
from quietshop.settings import load_settings

audit_app = typer.Typer(
    help="The staff audit log: verify its hash chain, export its head to keep elsewhere.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, highlight=False)


def _say(text: str) -> None:
    """Plain text, never wrapped, never read as markup."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _sessions() -> sessionmaker[Session]:
    return make_session_factory(open_database(load_settings().resolved_database_url))


def _log_the_read(sessions: sessionmaker[Session], what: str, command: str) -> None:
    event = service.AuditEvent(
        action="audit_read",
        staff_id=None,
        role="operator",
        subject=what,
        customer_id=None,
        reason=f"quietshop audit {command}",
        origin="cli",
    )
    service.record(sessions, event, system_clock())


@audit_app.command("verify")
@one_line_errors
def verify(
    head: Annotated[
        Path | None,
        typer.Option(
            "--head",
            exists=True,
            dir_okay=False,
            help="A head written by `quietshop audit export`: check it is still in the chain.",
        ),
    ] = None,
) -> None:
    """Walk the whole chain and name the first broken entry, if any (exit status 1)."""
    kept = service.parse_head_document(head.read_text(encoding="utf-8")) if head else None
    sessions = _sessions()
    _log_the_read(sessions, "audit:chain", "verify")
    with sessions() as session, _progress() as progress:
        task = progress.add_task("Verifying the audit chain", total=None)
        result = service.verify(
            session,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
        still_there = service.holds_head(session, kept) if kept else True
    if not result.intact:
        _say(
            f"BROKEN at entry {result.first_broken_id}: {result.problem}. "
            f"The {result.count} entries before it are intact."
        )
        raise typer.Exit(1)
    head_hash = result.head.hash if result.head else "(none: the log is empty)"
    _say(f"intact: {result.count} entries, head {head_hash}")
    if kept is not None:
        if not still_there:
            _say(
                f"The exported head, entry {kept.id} with hash {kept.hash}, is NOT in the "
                "chain: it was rewritten or cut back since that head was exported."
            )
            raise typer.Exit(1)
        _say(f"The exported head, entry {kept.id}, is still in the chain.")


@audit_app.command("export")
@one_line_errors
def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Write the chain head (id, hash, at, count) as JSON, to keep off this machine."""
    sessions = _sessions()
    _log_the_read(sessions, "audit:head", "export")
    with sessions() as session:
        document = service.head_document(session)
    if output is None:
        typer.echo(document, nl=False)
        return
    output.write_text(document, encoding="utf-8")
    _say(f"Chain head written to {output}. Keep a copy where this machine cannot change it.")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
