"""The sealer: chains the entries appends left unchained (issue 9).

An append inserts its entry alone (``statements.insert_entry``): one statement, no lock.
The sealer then, under the seal lock (``statements.take_seal_lock``), reads the committed
entries that have no seal yet, in id order, and inserts one ``audit_seals`` row for each:
the next ``seq``, the previous seal's hash and the new link hash (``chain.py``). Nothing is
updated or deleted, so the shop's database user may be refused UPDATE and DELETE on both
tables.

An entry whose transaction commits late (a lower id committed after a higher one was
sealed) is simply found by a later run and sealed with a later seq: the chain's order is
the seal order. An entry cannot be sealed twice (``entry_id`` is unique) nor two seals
share a seq (the primary key), even by a sealer that skipped the lock.

One code path on both databases. SQLite could seal inline, since its writer holds the
write lock anyway; it does not, so the same sealer, the same late-entry rule and the same
tests hold on both, and an append costs one insert on both.

Where it runs: in ``serve`` every few seconds over the entries of the last minutes (the
``since`` window, on ``ix_audit_entries_at``) and once a day over all of them
(staff/background.py), at ``quietshop audit seal`` and ``export`` over all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.audit.chain import GENESIS
from quietshop.audit.models import AuditEntry, AuditSeal
from quietshop.audit.statements import take_seal_lock
from quietshop.audit.stored import CONTENT_COLUMNS, Unreadable, link_hash, read_time, time_reader
from quietshop.db import transaction

log = logging.getLogger("quietshop.audit")

# Entries sealed per transaction: on SQLite the sealer holds the write lock meanwhile, so
# a batch is kept to a few milliseconds of every other writer's wait.
SEAL_BATCH = 500

_UNSEALED = ~exists().where(AuditSeal.entry_id == AuditEntry.id)


@dataclass(frozen=True)
class SealRun:
    sealed: int  # seals written
    late: int  # of them, entries appended longer than ``late_after`` before being sealed
    skipped: tuple[int, ...]  # entries whose stored content cannot be hashed (tampered)


def seal(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    since: datetime | None = None,
    late_after: timedelta = timedelta(minutes=5),
) -> SealRun:
    """Seal every committed entry without a seal (appended at or after ``since``; None:
    all of them), in id order, a transaction per ``SEAL_BATCH``. An entry that cannot be
    put in the hashed form is left unsealed, for ``verify`` to report; late ones are logged
    by id and count (they are no one's personal data)."""
    sealed = late = 0
    skipped: list[int] = []
    after = 0
    while True:
        with transaction(sessions) as session:
            found, batch_sealed, batch_late, batch_skipped = _seal_batch(
                session, since, after, now - late_after
            )
        sealed, late = sealed + batch_sealed, late + batch_late
        skipped += batch_skipped
        if len(found) < SEAL_BATCH:
            break
        after = found[-1]
    if late:
        log.warning("audit: %d entries sealed more than %s after they were appended", late,
                    late_after)  # fmt: skip
    if skipped:
        log.warning("audit: entries left unsealed, their content unreadable: %s", skipped)
    return SealRun(sealed, late, tuple(skipped))


def _seal_batch(
    session: Session, since: datetime | None, after: int, late_before: datetime
) -> tuple[list[int], int, int, list[int]]:
    """Seal the next unsealed entries with an id above ``after``: (ids found, sealed,
    late, skipped)."""
    take_seal_lock(session)
    last = session.execute(
        select(AuditSeal.seq, AuditSeal.hash).order_by(AuditSeal.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0], last[1]) if last is not None else (0, GENESIS)
    rows = _unsealed(session, since, after)
    read_at = time_reader(session)
    seals: list[dict[str, Any]] = []
    late = 0
    skipped: list[int] = []
    for row in rows:
        try:
            at = read_time(row, read_at)
            digest = link_hash(row, at, prev_hash)
        except Unreadable:
            skipped.append(row[0])
            continue
        seq += 1
        seals.append({"seq": seq, "entry_id": row[0], "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
        late += at < late_before
    if seals:
        session.execute(insert(AuditSeal), seals)
    return [row[0] for row in rows], len(seals), late, skipped


def _unsealed(session: Session, since: datetime | None, after: int) -> Sequence[Any]:
    """The next SEAL_BATCH unsealed entries with an id above ``after``, by id."""
    statement = select(*CONTENT_COLUMNS).where(_UNSEALED, AuditEntry.id > after)
    if since is None:  # the whole log: walk the primary key
        return session.execute(statement.order_by(AuditEntry.id).limit(SEAL_BATCH)).all()
    # The last minutes: found through the time index, then put in id order here (ordering
    # by id in the query would let the planner walk the primary key from the first entry).
    found = session.execute(statement.where(AuditEntry.at >= since)).all()
    return sorted(found, key=lambda row: row[0])[:SEAL_BATCH]


@dataclass(frozen=True)
class Unsealed:
    """The committed entries without a seal: how many, and the oldest of them."""

    count: int
    oldest_id: int | None
    oldest_at: datetime | None  # None also when its stored time is not a time


def unsealed(session: Session) -> Unsealed:
    count = session.execute(
        select(func.count()).select_from(AuditEntry).where(_UNSEALED)
    ).scalar_one()
    if count == 0:
        return Unsealed(0, None, None)
    oldest = session.execute(
        select(*CONTENT_COLUMNS[:2]).where(_UNSEALED).order_by(AuditEntry.at, AuditEntry.id)
        .limit(1)
    ).one()  # fmt: skip
    try:
        at: datetime | None = read_time(oldest, time_reader(session))
    except Unreadable:
        at = None
    return Unsealed(count, oldest[0], at)
