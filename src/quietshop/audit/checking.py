"""Verifying the chain, and its head exported to keep elsewhere.

``verify`` walks the seals in seq order with their entries and names the first broken
one; then it counts the committed entries that have no seal yet. Those are not part of the
chain: they are reported (how many, the oldest), and one unsealed for longer than the
limit (``Settings.audit_unsealed_limit_minutes``) fails the check, because the sealer in
``serve`` seals every committed entry within seconds: one left that long means the sealer
is not running, or someone held the entry back (a transaction kept open, a row slipped in
with an old time). ``verify`` never seals: it reads the log as it is (a copy, a backup),
and ``quietshop audit seal`` is there to seal first.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quietshop.audit.chain import GENESIS, canonical_time
from quietshop.audit.models import AuditEntry, AuditSeal
from quietshop.audit.sealer import Unsealed, unsealed
from quietshop.audit.stored import CONTENT_COLUMNS, Unreadable, link_hash, read_time, time_reader
from quietshop.errors import InvalidInput

VERIFY_BATCH = 5_000
UNSEALED_LIMIT = timedelta(minutes=5)
_NONE_WAITING = Unsealed(0, None, None)


@dataclass(frozen=True)
class ChainHead:
    """The last seal: its seq and hash, the entry it seals and that entry's time (None
    when the entry is gone)."""

    seq: int
    hash: str
    at: datetime | None
    entry_id: int

    @property
    def id(self) -> int:
        """The head's place in the chain, as readers before migration 0014 knew it (then
        an entry id: the migration gave each old entry's seal its id as seq)."""
        return self.seq


@dataclass(frozen=True)
class VerifyResult:
    count: int  # seals found intact (all of them when the chain is intact)
    first_broken_id: int | None  # the entry of the first broken seal
    problem: str  # why that seal is broken; "" when intact
    head: ChainHead | None  # the last intact seal
    seconds: float
    first_broken_seq: int | None = None
    unsealed: Unsealed = _NONE_WAITING
    # The oldest unsealed entry is older than the limit (or its time is not a time).
    held_back: bool = False

    @property
    def intact(self) -> bool:
        """The sealed chain is unbroken (unsealed entries aside)."""
        return self.first_broken_id is None and self.first_broken_seq is None

    @property
    def passed(self) -> bool:
        """Intact, and no entry waited for its seal longer than the limit."""
        return self.intact and not self.held_back

    @property
    def rate(self) -> float:
        """Seals verified per second."""
        return self.count / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[int, int], None]  # (seals done, seals in all)

# The seal, then its entry's content (None throughout when the entry is gone).
_SEAL_COLUMNS = (AuditSeal.seq, AuditSeal.entry_id, AuditSeal.prev_hash, AuditSeal.hash)
_WALK_COLUMNS = (*_SEAL_COLUMNS, *CONTENT_COLUMNS)


def verify(
    session: Session,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    unsealed_limit: timedelta = UNSEALED_LIMIT,
) -> VerifyResult:
    """Walk the chain from the first seal; stop at the first broken one and name it.

    A seal is broken when its seq is not the one after the previous seal's (seals removed
    or moved), when its ``prev_hash`` is not the previous seal's hash (a seal removed,
    reordered or slipped in before it), when its entry is gone, or when its hash does not
    match its entry's content (a value of the entry, or the seal's entry_id, changed).
    An empty log is intact with 0 seals. Then the entries without a seal are counted;
    with ``now`` given, the oldest of them older than ``unsealed_limit`` is ``held_back``.
    """
    started = time.perf_counter()
    last = chain_head(session)
    total = last.seq if last is not None else 0
    count, expected_seq, expected_prev = 0, 1, GENESIS
    head: ChainHead | None = None
    read_at = time_reader(session)
    for row in _seals_in_order(session):
        at, problem = _problem(row, read_at, expected_seq, expected_prev)
        if problem or at is None:
            seconds = time.perf_counter() - started
            return VerifyResult(count, row[1], problem, head, seconds, first_broken_seq=row[0])
        count, expected_seq, expected_prev = count + 1, row[0] + 1, row[3]
        head = ChainHead(seq=row[0], hash=row[3], at=at, entry_id=row[1])
        if progress is not None and count % VERIFY_BATCH == 0:
            progress(count, max(total, count))
    if progress is not None:
        progress(count, max(total, count))
    waiting = unsealed(session)
    held_back = now is not None and waiting.count > 0 and (
        waiting.oldest_at is None or now - waiting.oldest_at > unsealed_limit
    )  # fmt: skip
    seconds = time.perf_counter() - started
    return VerifyResult(count, None, "", head, seconds, None, waiting, held_back)


def _seals_in_order(session: Session) -> Iterator[Sequence[Any]]:
    """Every seal by seq with its entry, in keyset pages: a million never sit in memory."""
    after = None
    while True:
        statement = (
            select(*_WALK_COLUMNS)
            .outerjoin(AuditEntry, AuditEntry.id == AuditSeal.entry_id)
            .order_by(AuditSeal.seq)
            .limit(VERIFY_BATCH)
        )
        if after is not None:
            statement = statement.where(AuditSeal.seq > after)
        rows: Sequence[Any] = session.execute(statement).all()
        yield from rows
        if len(rows) < VERIFY_BATCH:
            return
        after = rows[-1][0]


def _problem(
    row: Sequence[Any], read_at: Callable[[Any], Any], expected_seq: int, expected_prev: str
) -> tuple[datetime | None, str]:
    """The entry's time, and why the seal is broken ("" when it is not)."""
    seq, _entry_id, prev_hash, digest = row[:4]
    if seq != expected_seq:
        return None, f"seal {seq} follows seal {expected_seq - 1}: seals are missing between them"
    if prev_hash != expected_prev:
        return None, f"its seal's prev_hash is not the hash of seal {seq - 1}"
    content = row[4:]
    if content[0] is None:
        return None, f"the entry is gone (its seal {seq} is still there)"
    try:
        at = read_time(content, read_at)
        computed = link_hash(content, at, prev_hash)
    except Unreadable as unreadable:
        return None, str(unreadable)
    if computed != digest:
        return None, "its content does not match its seal's hash (a value was changed)"
    return at, ""


# ---------------------------------------------------------------- the head


def chain_head(session: Session) -> ChainHead | None:
    """The last seal's seq and hash, with its entry's id and time; None before any seal."""
    last = session.execute(
        select(AuditSeal.seq, AuditSeal.hash, AuditEntry.at, AuditSeal.entry_id)
        .outerjoin(AuditEntry, AuditEntry.id == AuditSeal.entry_id)
        .order_by(AuditSeal.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    return ChainHead(seq=last[0], hash=last[1], at=last[2], entry_id=last[3])


def holds_head(session: Session, head: ChainHead) -> bool:
    """Whether the seal with this seq still has this hash (an exported head, checked
    later: the chain up to it is then as it was when the head was exported)."""
    found = session.execute(select(AuditSeal.hash).where(AuditSeal.seq == head.seq)).scalar()
    return found == head.hash


def head_document(session: Session) -> str:
    """The chain head as JSON (seq, hash, entry_id, at, count), to keep off the machine: a
    later ``verify --head`` shows whether the chain up to it is still as it was."""
    head = chain_head(session)
    document: dict[str, Any] = {"seq": None, "hash": None, "entry_id": None, "at": None,
                                "count": 0}  # fmt: skip
    if head is not None:
        count = session.execute(
            select(func.count()).select_from(AuditSeal).where(AuditSeal.seq <= head.seq)
        ).scalar_one()
        at = canonical_time(head.at) if head.at is not None else None
        document.update(seq=head.seq, hash=head.hash, entry_id=head.entry_id, at=at, count=count)
    return json.dumps(document, indent=2) + "\n"


def parse_head_document(content: str) -> ChainHead:
    """An exported head read back; InvalidInput naming "head" when it is not one. A head
    exported before migration 0014 names an ``id``: the seq its entry's seal was given."""
    try:
        document = json.loads(content)
        seq = document["seq"] if "seq" in document else document["id"]
        digest, at = document["hash"], document["at"]
        entry_id = document.get("entry_id", seq)
        for number in (seq, entry_id):
            if type(number) is not int or number < 1:
                raise ValueError("seq")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("hash")
        moment = (
            None if at is None
            else datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(
            "head", "not an exported chain head (JSON with seq, hash and at)"
        ) from None
    return ChainHead(seq=seq, hash=digest, at=moment, entry_id=entry_id)
