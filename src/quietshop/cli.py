"""The `quietshop` command.

Every expected failure (a busy port, a missing database, a setting that must be set, bad
input) ends in one line that says what is wrong and what to do, on stderr, with exit
status 2 (``console.one_line_errors`` on every command); only a bug shows a traceback,
and never the values of local variables (they could hold a secret).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics.commands import analytics_app
from quietshop.audit.commands import audit_app
from quietshop.catalog.commands import catalog_app
from quietshop.console import one_line_errors
from quietshop.db import make_engine, make_session_factory, transaction
from quietshop.errors import EnvironmentProblem
from quietshop.mail.commands import mail_app, mailing_app
from quietshop.orders.commands import orders_app
from quietshop.payments.commands import SealedElsewhere, keys_app
from quietshop.settings import Settings, load_settings, write_demo_marker
from quietshop.staff import service as staff_service
from quietshop.staff.commands import staff_app

# The ASGI factory every server worker calls; it builds its settings from the environment.
APP_TARGET = "quietshop.app:app_from_environment"

app = typer.Typer(
    help="Quietshop: an online store that keeps quiet about its customers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
console = Console()


def _route_templates() -> tuple[str, ...]:
    """The app's route templates, for analytics to name paths by (imported only then)."""
    from quietshop.app import route_templates

    return route_templates()


app.add_typer(mail_app, name="mail")
app.add_typer(mailing_app, name="mailing")
app.add_typer(orders_app, name="orders")
# The keyring seals the staff's TOTP secrets too; payments imports no other domain, so
# the keys commands get them here: counted by status and retire, re-sealed by rotate.
STAFF_TOTP_SECRETS = SealedElsewhere(
    "staff TOTP secret(s)", staff_service.totp_secrets_per_key, staff_service.reseal_totp_secrets
)
app.add_typer(keys_app, name="keys", context_settings={"obj": (STAFF_TOTP_SECRETS,)})
app.add_typer(audit_app, name="audit")

app.add_typer(analytics_app, name="analytics", context_settings={"obj": _route_templates})
app.add_typer(staff_app, name="staff")
app.add_typer(catalog_app, name="catalog")


class StartUpRefused(EnvironmentProblem):
    """A setting a real shop needs is missing or wrong (one line per problem)."""


def _settings() -> Settings:
    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def _require_start_up_settings(settings: Settings, *, serving: bool = False) -> None:
    problems = settings.serving_problems() if serving else settings.start_up_problems()
    if problems:
        raise StartUpRefused("\n".join(problems))


@app.command()
@one_line_errors
def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    from quietshop.db import upgrade_to_head

    settings = _settings()
    engine = make_engine(settings.resolved_database_url)
    upgrade_to_head(engine)
    engine.dispose()
    console.print(f"[green]Database is up to date[/green] ({escape(_safe_url(settings))})")


@app.command()
@one_line_errors
def serve(
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
) -> None:
    """Serve the shop over HTTPS (and redirect plain HTTP to it)."""
    settings = _settings()
    _require_start_up_settings(settings, serving=True)
    _serve_with_mail(settings, workers)


@app.command()
@one_line_errors
def worker(
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then stop.")] = False,
) -> None:
    """Send queued mail over SMTP until stopped (several may run at once)."""
    import asyncio

    from quietshop.db import open_database
    from quietshop.mail.background import make_sender

    settings = _settings()
    _require_start_up_settings(settings)
    sender = make_sender(
        make_session_factory(open_database(settings.resolved_database_url)), settings
    )
    if once:
        summary = asyncio.run(sender.send_due(batch_size=1000))
        console.print(f"sent {summary.sent}, to retry {summary.retried}, failed {summary.failed}")
        return
    console.print(f"Sending mail through {settings.smtp_host}:{settings.smtp_port}; Ctrl-C stops.")
    stop = asyncio.Event()
    try:
        asyncio.run(sender.run(stop))
    except KeyboardInterrupt:
        console.print("Stopped.")


def _serve_with_mail(settings: Settings, workers: int) -> None:
    """The embedded default: the web server, the mail sender beside it, and for the demo a
    local SMTP server whose captured mail `quietshop mail list` shows."""
    from quietshop.analytics.background import TrafficJob, start_traffic_job
    from quietshop.analytics.commands import ingestion_of, own_logs
    from quietshop.analytics.log_retention import AccessLogRetention, start_log_retention
    from quietshop.mail.background import start_background_sender
    from quietshop.mail.local_smtp import start_local_smtp
    from quietshop.orders.background import start_housekeeping
    from quietshop.signing import signing_key
    from quietshop.staff.background import start_staff_housekeeping
    from quietshop.web.serving import serve as run_server

    signing_key(settings)  # in the demo, create the key once, before the workers start
    smtp = start_local_smtp(settings) if settings.local_smtp else None
    if smtp is not None:
        console.print(
            f"Local mail server on 127.0.0.1:{settings.smtp_port}; mail lands in "
            f"{escape(str(settings.mail_dir))} (quietshop mail list, quietshop mail show ID)",
            soft_wrap=True,  # a command cut in two cannot be copied
        )
    sender = None
    engine = make_engine(settings.resolved_database_url)
    if settings.send_mail_in_process:
        sender = start_background_sender(make_session_factory(engine), settings)
    housekeeping = start_housekeeping(make_session_factory(engine), settings)
    staff_housekeeping = start_staff_housekeeping(make_session_factory(engine), settings)
    # Ingests the node's own access log every few minutes, and destroys a closed day's
    # visitor salts (after a last ingestion of that day) at once, then every minute (P5).
    traffic = TrafficJob(
        ingestion_of(settings, make_session_factory(engine), _route_templates()),
        own_logs=lambda: own_logs(settings),
        ingest_every=timedelta(minutes=settings.analytics_ingest_minutes),
    )
    salt_destruction = start_traffic_job(traffic)
    # Rotates the access log daily and deletes the days past the retention, at once, then
    # every minute (P5); one process does it, the workers only follow the rename.
    log_retention = start_log_retention(
        AccessLogRetention(settings.access_log_path, settings.access_log_retention_days)
    )
    try:
        run_server(settings, workers=workers, target=APP_TARGET)
    finally:
        log_retention.stop()
        salt_destruction.stop()
        staff_housekeeping.stop()
        housekeeping.stop()
        if sender is not None:
            sender.stop()
        if smtp is not None:
            smtp.stop()


@app.command()
@one_line_errors
def demo(
    seed: Annotated[int, typer.Option(help="Seed for the generated catalog.")] = 2004,
    products: Annotated[int, typer.Option(min=1, max=100_000, help="How many products.")] = 1200,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes.")] = 1,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Load only; do not serve.")] = False,
) -> None:
    """Migrate, load the demo catalog (once), then serve the shop with a local mail server."""
    from quietshop.catalog.demo import load_demo_catalog, product_count
    from quietshop.db import upgrade_to_head

    settings = _settings().model_copy(
        update={"demo": True, "local_smtp": True, "payment_processor": "simulator"}
    )
    write_demo_marker(settings)
    engine = make_engine(settings.resolved_database_url)
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        existing = product_count(session)
    if existing:
        console.print(f"The demo catalog is already loaded ({existing} products); keeping it.")
    else:
        with _progress() as progress, transaction(sessions) as session:
            task = progress.add_task("Loading the demo catalog", total=products)
            summary = load_demo_catalog(
                session,
                settings.images_dir,
                seed=seed,
                product_count=products,
                currency=settings.currency,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        console.print(
            f"[green]Demo catalog loaded:[/green] {summary.product_count} products, "
            f"{summary.variant_count} variants in {summary.category_count} categories."
        )
    _seed_demo_rates(sessions, settings)
    _seed_demo_staff(sessions, settings)
    engine.dispose()
    if not no_serve:
        _serve_with_mail(settings, workers)


def _seed_demo_rates(sessions: sessionmaker[Session], settings: Settings) -> None:
    from quietshop.clock import system_clock
    from quietshop.orders.demo import seed_demo_rates

    with transaction(sessions) as session:
        if seed_demo_rates(session, settings.currency, system_clock()):
            console.print(
                "[green]Demo rates loaded:[/green] shipping to 19 countries, tax, and the "
                "discount codes WELCOME10 and SAVE5. Payments are SIMULATED: pay with "
                "4242 4242 4242 4242 (approved) or 4000 0000 0000 0002 (declined)."
            )


def _seed_demo_staff(sessions: sessionmaker[Session], settings: Settings) -> None:
    from quietshop.clock import system_clock
    from quietshop.staff.demo import seed_demo_staff, sign_in_details

    with transaction(sessions) as session:
        staff = seed_demo_staff(session, settings, system_clock())
    for line in sign_in_details(staff, settings.base_url):
        console.print(escape(line), soft_wrap=True, highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _safe_url(settings: Settings) -> str:
    """The database URL without a password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
