"""`quietshop catalog export FILE` and `quietshop catalog import FILE [--skip-bad]`: the
catalog as a CSV file (docs/catalog-csv.md), with a progress bar.

Import checks every row and lists each bad one with its line and column; a file with any
bad row imports nothing (exit status 2) unless ``--skip-bad`` leaves those products out.
``--dry-run`` checks and counts without changing anything. Run at the shop's command
line, by whoever runs the shop: not a staff member, so not in the staff audit chain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from quietshop.catalog import csv_io
from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database, transaction
from quietshop.settings import load_settings

catalog_app = typer.Typer(
    help="The catalog as a CSV file: export it, or import products from one.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, highlight=False)
SHOWN_ERRORS = 50


def _say(text: str) -> None:
    """Plain text, never read as markup (a cell may hold brackets)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _sessions() -> tuple[sessionmaker[Session], str]:
    settings = load_settings()
    return make_session_factory(open_database(settings.resolved_database_url)), settings.currency


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


@catalog_app.command("export")
@one_line_errors
def export(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write the CSV file.")],
) -> None:
    """Write every product (withdrawn ones too), one row per variant."""
    sessions, _ = _sessions()
    out_file = file.open("w", encoding="utf-8", newline="")
    with sessions() as session, _progress() as progress, out_file as out:
        task = progress.add_task("Exporting products", total=None)
        written = csv_io.export_catalog(
            session,
            out,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    _say(f"Exported {written} products to {file}.")


def _print_report(report: csv_io.ImportReport) -> None:
    for error in report.errors[:SHOWN_ERRORS]:
        _say(f"  {error}")
    if report.error_count > SHOWN_ERRORS:
        _say(f"  ... and {report.error_count - SHOWN_ERRORS} more")
    _say(
        f"{report.products} products in {report.rows} rows: {report.created} created, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.skipped} skipped."
    )


@catalog_app.command("import")
@one_line_errors
def import_(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A catalog file (CSV, UTF-8).")
    ],
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Import the good products; leave bad ones out.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count only; change nothing.")
    ] = False,
) -> None:
    """Create or update products (by SKU) from a catalog file."""
    sessions, currency = _sessions()
    size = file.stat().st_size
    try:
        with file.open("rb") as stream, _progress() as progress, transaction(sessions) as session:
            task = progress.add_task("Importing the catalog file (bytes)", total=size)
            report = csv_io.import_catalog(
                session,
                stream,
                currency=currency,
                now=system_clock(),
                skip_bad=skip_bad,
                dry_run=dry_run,
                size=size,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except csv_io.CatalogFileRefused as refused:
        _print_report(refused.report)
        raise
    _print_report(report)
    if dry_run:
        _say("Dry run: nothing was changed.")
        if report.error_count and not skip_bad:
            raise typer.Exit(2)  # as the import itself would have ended
