"""`quietshop orders ...`: the shop's side of the order graph from the command line, for
an owner running a small shop until the back office (staff screens) exists, and the
housekeeping the retention settings ask for.

Each command opens the database, calls one service function in one transaction and
prints one line. The actor recorded on each move is "owner (command line)".
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database, transaction
from quietshop.orders import service
from quietshop.settings import Settings, load_settings

orders_app = typer.Typer(help="Move orders along (pack, ship, refund) and forget what is due.")
console = Console(soft_wrap=True, highlight=False)
ACTOR = "owner (command line)"
Number = Annotated[str, typer.Argument(help="The order number, e.g. QS-4821-93057")]


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(open_database(settings.resolved_database_url))


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@orders_app.command("pack")
@one_line_errors
def pack(number: Number) -> None:
    """Mark an order packed (it can no longer be cancelled by the customer)."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.mark_packed(session, settings, number, ACTOR, system_clock())
    _say(f"{number}: packed")


@orders_app.command("ship")
@one_line_errors
def ship(
    number: Number,
    carrier: Annotated[str, typer.Option(help="Who carries the parcel")],
    tracking: Annotated[str, typer.Option(help="The carrier's tracking number")],
) -> None:
    """Mark an order shipped: the payment is captured, the card number purged, and the
    customer mailed the tracking number."""
    settings = load_settings()
    parts = service.Collaborators(settings, system_clock)
    with transaction(_sessions(settings)) as session:
        service.mark_shipped(
            session, settings, parts, number, carrier=carrier, tracking_number=tracking,
            actor=ACTOR, now=system_clock(),
        )  # fmt: skip
    _say(f"{number}: shipped with {carrier} ({tracking})")


@orders_app.command("deliver")
@one_line_errors
def deliver(number: Number) -> None:
    """Mark an order delivered."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.mark_delivered(session, settings, number, ACTOR, system_clock())
    _say(f"{number}: delivered")


@orders_app.command("payment")
@one_line_errors
def payment(
    number: Number,
    approved: Annotated[str | None, typer.Option(help="The terminal's authorisation code")] = None,
    declined: Annotated[str | None, typer.Option(help="Why the card was declined")] = None,
) -> None:
    """Record the answer of a card taken by hand (the manual processor)."""
    if (approved is None) == (declined is None):
        raise typer.BadParameter("give either --approved CODE or --declined REASON")
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.record_manual_payment(
            session, settings, number, approved=approved is not None,
            code_or_reason=approved or declined or "", actor=ACTOR, now=system_clock(),
        )  # fmt: skip
    _say(f"{number}: payment {'approved' if approved else 'declined'}")


@orders_app.command("missing")
@one_line_errors
def missing(
    number: Number, detail: Annotated[str, typer.Option(help="What is missing, for the customer")]
) -> None:
    """Tell the customer an item is backordered; they choose to wait or cancel."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.report_availability_problem(
            session, settings, number, detail, ACTOR, system_clock()
        )
    _say(f"{number}: the customer is asked to wait or cancel")


@orders_app.command("refund")
@one_line_errors
def refund(
    number: Number,
    cents: Annotated[int, typer.Option(min=1, help="How much, in cents")],
    reason: Annotated[str, typer.Option(help="Told to the customer")] = "",
) -> None:
    """Refund all or part of a shipped or returned order."""
    settings = load_settings()
    parts = service.Collaborators(settings, system_clock)
    with transaction(_sessions(settings)) as session:
        service.refund(
            session, settings, parts, number, cents, reason=reason, actor=ACTOR,
            now=system_clock(),
        )  # fmt: skip
    _say(f"{number}: {cents} cents refunded")


@orders_app.command("receive-return")
@one_line_errors
def receive_return(number: Number) -> None:
    """The returned goods arrived (refund them with `orders refund`)."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.receive_return(session, settings, number, ACTOR, system_clock())
    _say(f"{number}: return received")


@orders_app.command("questions")
@one_line_errors
def questions(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, oldest first.")] = 50,
) -> None:
    """Product questions and quote requests waiting for an answer (answer them by mail,
    then `quietshop orders answered ID`)."""
    settings = load_settings()
    with _sessions(settings)() as session:
        for row in service.open_questions(session, limit):
            product = f" about {row.product_sku}" if row.product_sku else ""
            amount = f" ({row.quantity} units)" if row.quantity else ""
            asked = f"{row.created_at:%Y-%m-%d %H:%M} UTC"
            kept = f"kept until {row.delete_after:%Y-%m-%d}"
            who = f"from {row.name} <{row.email}>"
            _say(f"#{row.id} {row.kind}{product}{amount} {who}, {asked}, {kept}")
            _say("    " + row.question.replace("\n", "\n    "))


@orders_app.command("answered")
@one_line_errors
def answered(request_id: Annotated[int, typer.Argument(help="The question's number")]) -> None:
    """Mark a question answered (it is still deleted when its retention ends)."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        service.mark_answered(session, request_id, system_clock())
    _say(f"#{request_id}: answered")


@orders_app.command("forget")
@one_line_errors
def forget() -> None:
    """Delete what the retention settings say is due (serve does this every hour)."""
    settings = load_settings()
    with transaction(_sessions(settings)) as session:
        counts = service.forget_expired(session, settings, system_clock())
    _say(", ".join(f"{name}: {count}" for name, count in counts.items()))
