"""Re-encrypting stored card numbers under the keyring's active key, and counting them.

``quietshop keys rotate`` adds a key, then calls ``reencrypt_cards``: every stored card
number (``payment_cards.ciphertext`` not NULL) under another key is decrypted and encrypted
again under the active one, in batches of one transaction each. A batch locks its rows
(``FOR UPDATE`` on PostgreSQL; SQLite's writing transaction holds the database lock), so
a purge or a checkout running meanwhile waits instead of being overwritten. Rows already
under the active key are not selected: an interrupted run is finished by running again,
and a finished run run again does nothing.

A row that does not decrypt (altered, or moved from another order) is left as it is and
reported by id; its key therefore stays in use and cannot be retired. A key the keyring
lacks stops the run (``UnknownKey``): every row under it would fail alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.db import transaction
from quietshop.errors import Conflict
from quietshop.keyring import DecryptionFailed, Keyring
from quietshop.payments.cards import card_associated_data
from quietshop.payments.models import PaymentCard

DEFAULT_BATCH_SIZE = 500

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class RotationSummary:
    key_id: str  # the active key everything was re-encrypted under
    reencrypted: int = 0
    failed_card_ids: list[int] = field(default_factory=list)


def ciphertexts_per_key(session: Session) -> dict[str | None, int]:
    """How many stored card numbers each key id holds (None: a ciphertext without a key
    id, which should not exist). Purged cards hold none."""
    rows = session.execute(
        select(PaymentCard.key_id, func.count())
        .where(PaymentCard.ciphertext.is_not(None))
        .group_by(PaymentCard.key_id)
    )
    return {key_id: count for key_id, count in rows}


def count_per_key(sessions: sessionmaker[Session]) -> dict[str | None, int]:
    """``ciphertexts_per_key`` in a session of its own (for ``quietshop keys status``)."""
    with sessions() as session:
        return ciphertexts_per_key(session)


def pending_count(sessions: sessionmaker[Session], active_key_id: str) -> int:
    """How many stored card numbers are not yet under the active key."""
    with sessions() as session:
        return count_to_reencrypt(session, active_key_id)


def _stale(active_key_id: str) -> list[ColumnElement[bool]]:
    return [
        PaymentCard.ciphertext.is_not(None),
        PaymentCard.key_id.is_not(None),
        PaymentCard.key_id != active_key_id,
    ]


def count_to_reencrypt(session: Session, active_key_id: str) -> int:
    statement = select(func.count()).select_from(PaymentCard).where(*_stale(active_key_id))
    return session.execute(statement).scalar_one()


def reencrypt_cards(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> RotationSummary:
    """Move every stored card number to the keyring's active key, one committed batch at a
    time; ``progress(done, total)`` after each batch."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    active = keyring.active_key_id
    summary = RotationSummary(active)
    total = pending_count(sessions, active)
    done, after_id = 0, 0
    while True:
        with transaction(sessions) as session:
            cards = _next_batch(session, active, after_id, batch_size)
            for card in cards:
                if _reencrypt(card, keyring):
                    summary.reencrypted += 1
                else:
                    summary.failed_card_ids.append(card.id)
        if not cards:
            return summary
        after_id = cards[-1].id
        done += len(cards)
        if progress is not None:
            # Rows stored under an old key during the run make done pass the first count.
            progress(done, max(total, done))


def _next_batch(session: Session, active: str, after_id: int, size: int) -> list[PaymentCard]:
    # By id, from where the last batch ended: a row that failed is not fetched again.
    statement = (
        select(PaymentCard)
        .where(PaymentCard.id > after_id, *_stale(active))
        .order_by(PaymentCard.id)
        .limit(size)
        .with_for_update()
    )
    return list(session.scalars(statement))


def _reencrypt(card: PaymentCard, keyring: Keyring) -> bool:
    assert card.ciphertext is not None and card.key_id is not None  # selected so
    bound_to = card_associated_data(card.order_id)
    try:
        number = keyring.decrypt(card.key_id, card.ciphertext, bound_to)
    except DecryptionFailed:
        return False
    sealed = keyring.encrypt(number, bound_to)
    card.key_id, card.ciphertext = sealed.key_id, sealed.ciphertext
    return True


def retire_key(sessions: sessionmaker[Session], keyring: Keyring, key_id: str) -> None:
    """Remove a key from the keyring once no stored card number uses it."""
    if key_id == keyring.active_key_id:
        keyring.retire(key_id)  # refuses, with the keyring's own reason
    in_use = count_per_key(sessions).get(key_id, 0)
    if in_use:
        raise Conflict(
            f"{in_use} stored card number(s) still use key {key_id}: "
            "run `quietshop keys rotate --resume` first"
        )
    keyring.retire(key_id)
