"""`quietshop analytics ingest [FILE...]` and `quietshop analytics report`: the traffic
aggregates from access logs, and the reports on them (docs/analytics.md).

Run at the shop's command line by whoever runs the shop. ``ingest`` without files reads
the shop's own ``access.log*``; with files, those (an nginx or Apache log in front, gzip
too). Either resumes where the last ingestion of each file stopped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics import classify, presenting, reports
from quietshop.analytics import ingest as ingestion
from quietshop.analytics.visitors import day_of
from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database
from quietshop.errors import InvalidInput
from quietshop.settings import Settings, load_settings

analytics_app = typer.Typer(
    help="Traffic from access logs: ingest them, report on them (no cookie, no person).",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, highlight=False)
SHOWN_SAMPLES = 5


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def ingestion_of(
    settings: Settings, sessions: sessionmaker[Session], route_templates: Sequence[str]
) -> ingestion.Ingestion:
    """The ingestion of this node, naming paths by the app's ``route_templates``."""
    host = urlsplit(settings.base_url).hostname or ""
    return ingestion.Ingestion(
        sessions=sessions,
        store_dir=settings.analytics_dir,
        node=settings.analytics_node_name,
        retention_days=settings.access_log_retention_days,
        shop_host=host.lower().removeprefix("www."),
        route_of=classify.RouteNames(route_templates),
        trusted_proxies=settings.trusted_proxy_list,
    )


def _route_templates(ctx: typer.Context) -> Sequence[str]:
    """The app's route templates, which cli.py hands this group as a function (analytics
    imports no app)."""
    found: Any = ctx.obj
    return tuple(found()) if callable(found) else ()


def own_logs(settings: Settings) -> list[Path]:
    """The shop's own access log files, oldest first (rotated ones are named by day)."""
    directory = settings.log_dir
    if not directory.is_dir():
        return []
    rotated = sorted(path for path in directory.glob("access.log.*") if path.is_file())
    current = settings.access_log_path
    return [*rotated, *([current] if current.is_file() else [])]


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _print_result(result: ingestion.IngestResult) -> None:
    for found in result.files:
        excluded = ", ".join(f"{kind} {count}" for kind, count in sorted(found.excluded.items()))
        _say(
            f"{found.path}: {found.lines} lines, {found.events} counted"
            + (f"; left out: {excluded}" if excluded else "")
        )
        for reason, rejected in sorted(found.rejected.items()):
            samples = ", ".join(str(line) for line in rejected.sample_lines[:SHOWN_SAMPLES])
            _say(
                f"  rejected, {reason}: {rejected.count}"
                + (f" (lines {samples})" if samples else "")
            )
        if found.error:
            _say(f"  stopped: {found.error}")
    days = result.days_counted
    if days:
        _say(f"Counted {len(days)} day(s) anew, {days[0]} to {days[-1]}.")
    if result.days_sealed:
        _say(f"Sealed {len(result.days_sealed)} day(s) past the raw logs' retention.")


@analytics_app.command("ingest")
@one_line_errors
def ingest(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(dir_okay=False, help="Log files; none: the shop's own access.log*."),
    ] = None,
) -> None:
    """Read access logs from where the last ingestion stopped and count their days."""
    settings = load_settings()
    paths = list(files) if files else own_logs(settings)
    if not paths:
        _say(f"No access log in {settings.log_dir} yet: nothing to read.")
        return
    for path in paths:
        if not path.is_file():
            raise InvalidInput("FILE", f"{path} is not a file")
    total = sum(path.stat().st_size for path in paths)
    with _progress() as progress:
        task = progress.add_task("Ingesting", total=total or None)
        sessions = make_session_factory(open_database(settings.resolved_database_url))
        result = ingestion.ingest(
            ingestion_of(settings, sessions, _route_templates(ctx)),
            paths,
            now=system_clock(),
            progress=lambda consumed: progress.advance(task, consumed),
        )
        progress.update(task, completed=total)
    _print_result(result)


Format = Literal["text", "json", "csv"]


@analytics_app.command("report")
@one_line_errors
def report(
    first: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 30 days).")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day (default: today).")] = None,
    output: Annotated[str, typer.Option("--format", help="text, json or csv.")] = "text",
    table: Annotated[
        str, typer.Option(help="With --format csv: which table (trend, heatmap, page, ...).")
    ] = "trend",
    by: Annotated[str, typer.Option(help="The trend by hour, day, week or month.")] = "day",
    compare: Annotated[
        bool, typer.Option("--compare", help="Beside the period just before it.")
    ] = False,
) -> None:
    """The traffic of a period (UTC days), as the back office shows it."""
    settings = load_settings()
    if output not in ("text", "json", "csv"):
        raise InvalidInput("--format", "text, json or csv")
    if by not in reports.GRANULARITIES:
        raise InvalidInput("--by", "hour, day, week or month")
    period = reports.period_of(_day("--from", first), _day("--to", last), day_of(system_clock()))
    sessions = make_session_factory(open_database(settings.resolved_database_url))
    with sessions() as session:
        found = reports.report(
            session,
            period,
            min_visitors=settings.analytics_min_visitors,
            granularity=by,  # checked above
            compare_to=period.before() if compare else None,
            limit=None if output == "csv" else reports.TOP_ROWS,
        )
    if output == "json":
        typer.echo(json.dumps(presenting.as_json(found), indent=2))
    elif output == "csv":
        if table not in presenting.table_names(found):
            names = ", ".join(presenting.table_names(found))
            raise InvalidInput("--table", f"one of {names}")
        typer.echo(presenting.as_csv(found, table), nl=False)
    else:
        presenting.print_text(found, console)


def _day(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(option, f"a day as YYYY-MM-DD, not {text[:40]!r}") from None
