"""`quietshop keys ...`: the keyring of card data keys (P8).

``init`` makes the keyring once; ``rotate`` adds a key and re-encrypts every stored card
number under it, with a progress bar; ``status`` shows the keys and how many stored card
numbers each holds (counts only); ``retire`` removes a key nothing uses any more.

The keyring seals more than card numbers: the staff's TOTP secrets too. Payments imports
no other domain, so what others seal comes in as ``SealedElsewhere`` parts, handed to
the ``keys`` group by cli.py as its context object: ``status`` counts them per key,
``retire`` refuses a key that still seals one, and ``rotate`` re-seals them as well. Each
command parses, opens what it needs, calls the keyring or ``payments.rotation`` and prints;
errors come out as one line. Nothing printed is ever a key or a card number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from quietshop.clock import system_clock
from quietshop.console import one_line_errors
from quietshop.db import make_session_factory, open_database, transaction
from quietshop.errors import Conflict
from quietshop.keyring import Keyring, KeyringExists, open_keyring
from quietshop.payments import rotation
from quietshop.settings import Settings, load_settings

keys_app = typer.Typer(
    help="The keyring of card data keys: create it, rotate keys, see which are in use.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True, highlight=False)


@dataclass(frozen=True)
class SealedElsewhere:
    """Secrets another domain seals with this keyring (the staff's TOTP secrets)."""

    what: str  # as printed: "staff TOTP secret(s)"
    count_per_key: Callable[[Session], Mapping[str, int]]
    # Seal every one under the keyring's active key again; how many moved.
    reseal: Callable[[Session, Keyring], int]


def _elsewhere(ctx: typer.Context) -> tuple[SealedElsewhere, ...]:
    """What cli.py handed the keys group (nothing when this Typer runs on its own)."""
    found: Any = ctx.obj
    if isinstance(found, tuple) and all(isinstance(part, SealedElsewhere) for part in found):
        return found
    return ()


def _say(text: str) -> None:
    """Plain text, never wrapped, never read as markup."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return make_session_factory(open_database(settings.resolved_database_url))


@keys_app.command("init")
@one_line_errors
def init() -> None:
    """Create the keyring file (mode 0600) if there is none; an existing one is kept."""
    settings = load_settings()
    path = settings.keyring_path
    try:
        keyring = Keyring.create(path, system_clock())
    except KeyringExists:
        _say(f"A keyring already exists at {path}; it was kept as it is.")
        return
    _say(f"Keyring created at {path} with key {keyring.active_key_id}.")
    _say(
        "Back it up apart from the database backups, and give every machine that runs the "
        "shop the same copy: without it no stored card number can be read."
    )


@keys_app.command("rotate")
@one_line_errors
def rotate(
    ctx: typer.Context,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Card numbers per transaction.")
    ] = rotation.DEFAULT_BATCH_SIZE,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Add no key: finish re-encrypting under the active key."),
    ] = False,
) -> None:
    """Add a data key, make it active, and re-encrypt every stored card number (and staff
    TOTP secret) under it."""
    settings = load_settings()
    sessions = _sessions(settings)  # first: a missing database must not leave a new key
    keyring = open_keyring(settings, system_clock())
    if resume:
        _say(f"Re-encrypting under the active key {keyring.active_key_id}.")
    else:
        _say(f"New active key {keyring.rotate(system_clock())}; older keys are kept.")
        _say("Copy the keyring file to every other machine that runs the shop.")
    intact = _reseal_elsewhere(sessions, keyring, _elsewhere(ctx))
    pending = rotation.pending_count(sessions, keyring.active_key_id)
    if not pending:
        _say("No stored card number is under an older key.")
        if not intact:
            raise typer.Exit(1)
        return
    with _progress() as progress:
        task = progress.add_task("Re-encrypting card numbers", total=pending)
        summary = rotation.reencrypt_cards(
            sessions,
            keyring,
            batch_size=batch_size,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    _say(f"{summary.reencrypted} card number(s) re-encrypted under key {summary.key_id}.")
    if summary.failed_card_ids:
        shown = ", ".join(str(card_id) for card_id in summary.failed_card_ids[:20])
        more = " and more" if len(summary.failed_card_ids) > 20 else ""
        _say(
            f"{len(summary.failed_card_ids)} did not decrypt (altered, or moved from another "
            f"order) and were left as they are: payment_cards ids {shown}{more}."
        )
    if summary.failed_card_ids or not intact:
        raise typer.Exit(1)


def _reseal_elsewhere(
    sessions: sessionmaker[Session], keyring: Keyring, others: tuple[SealedElsewhere, ...]
) -> bool:
    """Re-seal what other domains keep under older keys; False if some did not open."""
    intact = True
    for other in others:
        with transaction(sessions) as session:
            moved = other.reseal(session, keyring)
        with sessions() as session:
            held = other.count_per_key(session)
        left = sum(count for key_id, count in held.items() if key_id != keyring.active_key_id)
        if moved:
            _say(f"{moved} {other.what} re-sealed under key {keyring.active_key_id}.")
        if left:
            _say(f"{left} {other.what} did not open and stay under older keys.")
            intact = False
    return intact


@keys_app.command("status")
@one_line_errors
def status(ctx: typer.Context) -> None:
    """List the data keys (id, created, active) and how many card numbers (and staff TOTP
    secrets) each holds."""
    settings = load_settings()
    sessions = _sessions(settings)
    keyring = open_keyring(settings, system_clock())
    counts = rotation.count_per_key(sessions)
    _say(f"Keyring {settings.keyring_path}")
    _say(f"{'key':16}  {'created (UTC)':16}  {'active':6}  card numbers")
    for key in keyring.key_infos():
        active = "yes" if key.active else ""
        _say(f"{key.id:16}  {key.created_at:%Y-%m-%d %H:%M}  {active:6}  {counts.pop(key.id, 0)}")
    for key_id, count in counts.items():
        _say(f"{key_id or '(none)':16}  {'NOT IN KEYRING':16}  {'':6}  {count}")
    if counts:
        _say("Card numbers under a key the keyring lacks cannot be read: restore the keyring.")
    known = {key.id for key in keyring.key_infos()}
    for other in _elsewhere(ctx):
        with sessions() as session:
            held = dict(other.count_per_key(session))
        listed = ", ".join(f"{key_id} {count}" for key_id, count in sorted(held.items()))
        _say(f"{other.what} per key: {listed or 'none'}")
        if set(held) - known:
            _say(f"{other.what} under a key the keyring lacks cannot be opened.")


@keys_app.command("retire")
@one_line_errors
def retire(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="A key id from `quietshop keys status`.")],
) -> None:
    """Remove a data key from the keyring, once no stored card number (nor staff TOTP
    secret) uses it."""
    settings = load_settings()
    sessions = _sessions(settings)
    keyring = open_keyring(settings, system_clock())
    if key_id != keyring.active_key_id:  # the active key: the keyring's own refusal
        for other in _elsewhere(ctx):
            with sessions() as session:
                held = dict(other.count_per_key(session)).get(key_id, 0)
            if held:
                raise Conflict(
                    f"{held} {other.what} still use key {key_id}: run "
                    "`quietshop keys rotate --resume` first"
                )
    rotation.retire_key(sessions, keyring, key_id)
    _say(f"Key {key_id} retired. Copy the keyring file to every other machine.")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
