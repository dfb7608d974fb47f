"""`quietshop staff ...`: the owner's side of staff accounts from the command line.

``add`` prints a one-time enrolment link for the new staff member (hand it over yourself:
the link, not a password, is what travels); ``list`` is who holds which roles; ``disable``
ends an account's sessions at once; ``roles`` replaces an account's roles. ``code`` prints
the current TOTP code of a demo staff member, in the demo only.

Each command opens the database, calls one service function in one transaction and
prints what it did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database, transaction
from quietshop.errors import InvalidInput
from quietshop.settings import Settings, load_settings
from quietshop.staff import demo, service
from quietshop.staff.roles import Role, parse_roles

staff_app = typer.Typer(help="Add staff, set their roles, list and disable them.")
console = Console(soft_wrap=True, highlight=False)

Email = Annotated[str, typer.Argument(help="The staff member's email address")]
Roles = Annotated[
    list[str],
    typer.Option(
        "--role",
        help=f"A role (repeat for several): {', '.join(role.value for role in Role)}",
    ),
]


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(open_database(settings.resolved_database_url))


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _roles(names: list[str]) -> frozenset[Role]:
    try:
        return parse_roles(names)
    except ValueError as error:
        raise InvalidInput("role", str(error)) from None


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "never"


@staff_app.command("add")
@one_line_errors
def add(
    name: Annotated[str, typer.Argument(help="The person's name, as colleagues know it")],
    email: Email,
    role: Roles,
) -> None:
    """Add a staff member and print their one-time enrolment link."""
    settings = load_settings()
    roles = _roles(role)
    with transaction(_sessions(settings)) as session:
        link = service.add_staff(session, settings, name, email, roles, system_clock())
    _say(f"Added {email} ({', '.join(sorted(roles))}).")
    _say(f"Enrolment link (works once, until {link.expires_at:%Y-%m-%d %H:%M} UTC):")
    _say(link.url)


@staff_app.command("list")
@one_line_errors
def list_() -> None:
    """Every staff member: name, email, roles, last active, status."""
    settings = load_settings()
    with _sessions(settings)() as session:
        everyone = service.list_staff(session, system_clock())
    rows = [("Name", "Email", "Roles", "Last active (UTC)", "Status")] + [
        (p.name, p.email, ",".join(p.roles), _when(p.last_active_at), p.status) for p in everyone
    ]
    # Plain columns, one line per person (never wrapped): easy to read, grep and copy.
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        _say("  ".join([*padded, row[4]]))
    if not everyone:
        _say("No staff yet: add someone with `quietshop staff add NAME EMAIL --role owner`.")


@staff_app.command("disable")
@one_line_errors
def disable(
    email: Email,
    reason: Annotated[str, typer.Option(help="Why, as the list will show it")] = "",
) -> None:
    """Disable a staff account and end its sessions now."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.disable_staff(session, email, reason, system_clock())
    _say(f"{email}: disabled; every session of it has ended.")


@staff_app.command("roles")
@one_line_errors
def roles(email: Email, role: Roles) -> None:
    """Replace a staff member's roles (their sessions act under the new ones at once)."""
    settings = load_settings()
    wanted = _roles(role)
    with transaction(_sessions(settings)) as session:
        service.set_roles(session, email, wanted, system_clock())
    _say(f"{email}: {', '.join(sorted(wanted))}")


@staff_app.command("code")
@one_line_errors
def code(email: Email) -> None:
    """Print a demo staff member's current TOTP code (demo only)."""
    settings = load_settings()
    with _sessions(settings)() as session:
        current = demo.current_code(session, settings, email, system_clock())
    _say(current)
