"""`quietshop audit ...`: seal the staff audit log, check its chain, and export its head.

``seal`` chains every committed entry not sealed yet (``serve`` does it every few seconds;
this is for a shop that is not serving). ``verify`` walks every seal with a progress bar
and ends "intact: N entries, head <hash>" and what is still unsealed (exit 0), or names
the first broken entry, or an entry left unsealed longer than
``QUIETSHOP_AUDIT_UNSEALED_LIMIT_MINUTES`` (exit 1). It seals nothing itself: it checks the
log as it finds it. With ``--head FILE`` it also checks that an exported head is still in
the chain. ``export`` seals, then writes the chain head (seq, hash, entry, time, count) as
JSON, to keep somewhere the shop's machine cannot rewrite: a chain rewritten from some
seal on is then still caught, as long as that seal is older than the kept head.

``verify`` and ``export`` read the log, so both first append an ``audit_read`` entry (no
staff member: the "operator" at the "cli"). For ``export`` that is a choice: it shows no
entry's content, but recording it (and sealing it before the head is read) means the
exported head is the entry that says it was exported, and every export leaves a mark a
later reader can match against the heads kept outside.
"""

from __future__ import annotations

from datetime import timedelta
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
    help="The staff audit log: seal and verify its hash chain, export its head to keep elsewhere.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, highlight=False)


def _say(text: str) -> None:
    """Plain text, never wrapped, never read as markup."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _sessions() -> sessionmaker[Session]:
    return make_session_factory(open_database(load_settings().resolved_database_url))


def _unsealed_limit() -> timedelta:
    return timedelta(minutes=load_settings().audit_unsealed_limit_minutes)


def _seal_all(sessions: sessionmaker[Session]) -> service.SealRun:
    return service.seal(sessions, system_clock(), late_after=_unsealed_limit())


@audit_app.command("seal")
@one_line_errors
def seal() -> None:
    """Chain every committed entry not sealed yet (`serve` does it every few seconds)."""
    sessions = _sessions()
    run = _seal_all(sessions)
    with sessions() as session:
        head = service.chain_head(session)
    head_text = f"head seal {head.seq}, hash {head.hash}" if head else "the log is empty"
    _say(f"sealed {run.sealed} entries; {head_text}")
    if run.late:
        _say(
            f"{run.late} of them were appended more than {_unsealed_limit()} before: "
            "find out why the sealer did not see them sooner."
        )
    if run.skipped:
        ids = ", ".join(str(entry_id) for entry_id in run.skipped)
        _say(f"NOT sealed, their stored content is not an entry's: entries {ids}")
        raise typer.Exit(1)


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
    _log_the_read(sessions, service.VERIFY_SUBJECT, "verify")
    with sessions() as session, _progress() as progress:
        task = progress.add_task("Verifying the audit chain", total=None)
        result = service.verify(
            session,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            now=system_clock(),
            unsealed_limit=_unsealed_limit(),
        )
        still_there = service.holds_head(session, kept) if kept else True
    if not result.intact:
        _say(
            f"BROKEN at entry {result.first_broken_id} (seal {result.first_broken_seq}): "
            f"{result.problem}. The {result.count} entries before it are intact."
        )
        raise typer.Exit(1)
    head_hash = result.head.hash if result.head else "(none: nothing sealed yet)"
    _say(f"intact: {result.count} entries, head {head_hash}")
    _report_unsealed(result)
    if kept is not None:
        if not still_there:
            _say(
                f"The exported head, seal {kept.seq} with hash {kept.hash}, is NOT in the "
                "chain: it was rewritten or cut back since that head was exported."
            )
            raise typer.Exit(1)
        _say(f"The exported head, seal {kept.seq}, is still in the chain.")
    if result.held_back:
        raise typer.Exit(1)


def _report_unsealed(result: service.VerifyResult) -> None:
    waiting = result.unsealed
    if waiting.count == 0:
        return
    when = service.canonical_time(waiting.oldest_at) if waiting.oldest_at else "not a time"
    line = (
        f"not sealed yet: {waiting.count} entries, the oldest entry {waiting.oldest_id} "
        f"appended at {when}"
    )
    if result.held_back:
        line = (
            f"HELD BACK: {line}, longer ago than {_unsealed_limit()}: the sealer is not "
            "running, or someone held the entry back (`quietshop audit seal` seals it)"
        )
    _say(line + ".")


@audit_app.command("export")
@one_line_errors
def export(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Seal, then write the chain head (seq, hash, entry, at, count) as JSON, to keep off
    this machine."""
    sessions = _sessions()
    _log_the_read(sessions, "audit:head", "export")
    _seal_all(sessions)
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
