"""The ``Idempotency-Key`` of ``POST /api/v1/orders`` (IETF httpapi draft "The
Idempotency-Key HTTP Header Field").

A client that is not sure its order went through sends the same request again with the
same key. The first request claims the key; a repeat of the same body gets the first
answer again, byte for byte; the same key with another body is refused (422); a repeat
while the first is still running is told to wait (409, ``Retry-After: 1``). Keys are kept
at least 24 hours, then forgotten, and an expired key starts afresh.

The route's use, in short::

    key = check_key(request.headers.get("idempotency-key"))
    digest = request_digest(signing_key(settings), body)
    replay = begin(sessions, scope_for(customer_number), key, digest, now, lifetime)
    if replay is not None:
        return the replay
    try:
        status, text = place the order (a 4xx about the request is an answer too)
    except Exception:
        abandon(sessions, scope, key)
        raise
    finish(sessions, scope, key, status, text, now)

Claims are decided by the database, not by reading first: ``begin`` INSERTs the claim and
the unique constraint on (scope, key) lets exactly one of two racing requests own it, on
PostgreSQL and SQLite alike. Each step runs in its own short committed transaction, so
another node sees a claim the moment it is made, and the claim never waits on the order's
own transaction.

The request digest is an HMAC under the shop's key, not a bare hash: the order body holds
a card number and security code, and a bare SHA-256 of it could be reversed by trying
every card number and code (P8). The stored answer must hold no card number either;
``finish`` refuses one that looks like one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from quietshop.db import per_dialect, transaction
from quietshop.errors import Conflict, InvalidInput, QuietshopError
from quietshop.orders.models import IdempotencyKey

HEADER = "Idempotency-Key"
# Sent with a replayed answer, so a client (and a test) can tell it from a first one.
REPLAYED_HEADER = "idempotent-replayed"
MAX_KEY_CHARS = 255
# The draft asks servers to keep keys at least a day; settings cannot go below it either.
MIN_LIFETIME = timedelta(hours=24)
GUEST_SCOPE = "guest"
_MAX_SCOPE_CHARS = 40  # the column's width
_DIGEST_PURPOSE = b"quietshop idempotency request\x00"
_KEY_CHARS = re.compile(r"[\x21-\x7e]+")
# Answers about the moment, not the request: a retry may well get another answer.
_TRANSIENT_STATUSES = frozenset({408, 429})
# A claim that keeps vanishing between the INSERT and the SELECT (each time its holder
# abandoned it just then) is given up on after this many rounds: the client retries.
_CLAIM_ROUNDS = 3
# Digits as a card number is written: all together, or in groups split by one space or
# dash. A card is 12 to 19 of them.
_DIGIT_GROUPS = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_SEPARATORS = re.compile(r"[ -]")
_CARD_DIGITS = range(12, 20)


class KeyReused(QuietshopError):
    """The key was first used for another request: one key, one request (never replayed)."""

    status_code = 422
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )


class KeyInFlight(Conflict):
    """The first request with this key has not finished; ask again in a second."""

    status_code = 409
    code = "idempotency_key_in_flight"

    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still being processed")

    def headers(self) -> dict[str, str]:
        return {"retry-after": "1"}


@dataclass(frozen=True)
class Replay:
    """The stored first answer to send again, status and body exactly as they were."""

    status_code: int
    body: str

    def headers(self) -> dict[str, str]:
        return {REPLAYED_HEADER: "true"}


def check_key(raw: str | None) -> str:
    """The ``Idempotency-Key`` header's value, or InvalidInput naming the header.

    One to 255 printable ASCII characters (0x21-0x7E): no spaces, controls or other
    bytes. The value is the key as sent; a draft-style quoted string (``"abc"``) is fine
    and its quotes are part of the key.
    """
    if raw is None:
        raise InvalidInput(HEADER, "this header is required: a unique key for this order")
    if raw == "":
        raise InvalidInput(HEADER, "must not be empty")
    if len(raw) > MAX_KEY_CHARS:  # before the pattern, so a huge value costs nothing more
        raise InvalidInput(HEADER, f"must be at most {MAX_KEY_CHARS} characters")
    if not _KEY_CHARS.fullmatch(raw):
        raise InvalidInput(
            HEADER, "use printable ASCII characters only (no spaces or control characters)"
        )
    return raw


def scope_for(customer_number: str | None) -> str:
    """Whose keys these are: a signed-in customer's own, or the guests' shared space."""
    return f"customer:{customer_number}" if customer_number else GUEST_SCOPE


def request_digest(key: bytes, body: Mapping[str, Any] | bytes) -> str:
    """HMAC-SHA256 (hex) of the request body in a canonical JSON form.

    ``body`` is the parsed JSON object (or its raw bytes, parsed here). Keys are sorted and
    whitespace dropped, so the same JSON reformatted is the same request. ``key`` is the
    shop's signing key: without it the digest cannot be checked against guessed card
    numbers. Values must be JSON values (TypeError otherwise).
    """
    if isinstance(body, bytes):
        body = _parse_object(body)
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hmac.new(key, _DIGEST_PURPOSE + canonical.encode(), hashlib.sha256).hexdigest()


def _parse_object(raw: bytes) -> Mapping[str, Any]:
    try:
        parsed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("body", "must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("body", "must be a JSON object")
    return parsed


def begin(
    sessions: sessionmaker[Session],
    scope: str,
    key: str,
    digest: str,
    now: datetime,
    lifetime: timedelta,
) -> Replay | None:
    """Claim ``key`` for this request, in a transaction of its own that commits at once.

    None: this request now owns the key (a new one, or an expired one started afresh) and
    must end with ``finish`` or ``abandon``. A Replay: the key's first request finished
    with the same body, and this is its answer. Raises KeyReused (another body) or
    KeyInFlight (the first request is still running).
    """
    _check_claim(scope, key, digest, lifetime)
    for _ in range(_CLAIM_ROUNDS):
        with transaction(sessions) as session:
            if _insert_claim(session, scope, key, digest, now, lifetime):
                return None
            row = session.execute(_lookup(scope, key)).scalar_one_or_none()
            if row is None:
                continue  # its holder abandoned it since our INSERT: claim it again
            if row.expires_at <= now:
                if _reclaim_expired(session, row.id, digest, now, lifetime):
                    return None
                continue  # someone else renewed or forgot it first: look again
            return _answer_for(row, digest)
    raise KeyInFlight()


def _check_claim(scope: str, key: str, digest: str, lifetime: timedelta) -> None:
    # Programming errors, not bad input: the route has already checked the key.
    if not scope or len(scope) > _MAX_SCOPE_CHARS:
        raise ValueError(f"a scope has 1 to {_MAX_SCOPE_CHARS} characters")
    check_key(key)
    if len(digest) != 64:
        raise ValueError("digest must be a hex SHA-256 from request_digest()")
    if lifetime < MIN_LIFETIME:
        raise ValueError("idempotency keys are kept at least 24 hours")


def _insert_claim(
    session: Session, scope: str, key: str, digest: str, now: datetime, lifetime: timedelta
) -> bool:
    """INSERT the claim; False when the (scope, key) row exists already."""
    connection = session.connection()
    values = {
        "scope": scope,
        "key": key,
        "request_digest": digest,
        "status": "running",
        "created_at": now,
        "expires_at": now + lifetime,
    }
    # ON CONFLICT DO NOTHING: the unique constraint still decides, in one statement and
    # without the savepoint a failed INSERT would need on PostgreSQL (SQLite and
    # PostgreSQL, the two databases the shop runs on, both have it).
    claim = _CLAIMS[connection.dialect.name]
    return connection.execute(claim, values).first() is not None


def _claim_statement(dialect: Any) -> Any:
    # RETURNING says whether a row went in (the driver's rowcount does not, on psycopg).
    claim = dialect.insert(IdempotencyKey).on_conflict_do_nothing(index_elements=["scope", "key"])
    return claim.returning(IdempotencyKey.id)


_CLAIMS = per_dialect(_claim_statement)


def _lookup(scope: str, key: str) -> Select[IdempotencyKey]:
    return select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)


def _reclaim_expired(
    session: Session, row_id: int, digest: str, now: datetime, lifetime: timedelta
) -> bool:
    """Start an expired key afresh, in place. The WHERE repeats the expiry test, so of two
    requests renewing it at once only one changes the row; the other sees it running."""
    result = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id, IdempotencyKey.expires_at <= now)
        .values(
            request_digest=digest,
            status="running",
            response_status=None,
            response_body=None,
            created_at=now,
            expires_at=now + lifetime,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _answer_for(row: IdempotencyKey, digest: str) -> Replay:
    # The body is compared first: a different request is wrong whether or not the first
    # has finished, and waiting would not make it right.
    if not hmac.compare_digest(row.request_digest, digest):
        raise KeyReused()
    if row.status != "done" or row.response_status is None or row.response_body is None:
        raise KeyInFlight()
    return Replay(status_code=row.response_status, body=row.response_body)


def finish(
    sessions: sessionmaker[Session],
    scope: str,
    key: str,
    status_code: int,
    body: str,
    now: datetime,
) -> None:
    """Keep the answer the key's request got, for its replays (own committed transaction).

    2xx and 4xx answers are kept: a refusal about the request itself (out of stock, a bad
    address) is the answer to that request. A 5xx, a 408 or a 429 is about the moment, not
    the request, so the claim is abandoned instead and a retry runs afresh.

    Raises ValueError for a status outside 200-599, or a body holding what looks like a
    card number (12-19 digits passing Luhn): no card is ever stored here (P8). The claim
    is then left running until it expires, so a retry cannot place the order twice.
    A claim that is no longer this request's (it expired meanwhile) is left alone.
    """
    if not 200 <= status_code <= 599:
        raise ValueError(f"not a final HTTP status: {status_code}")
    if status_code >= 500 or status_code in _TRANSIENT_STATUSES:
        abandon(sessions, scope, key)
        return
    with transaction(sessions) as session:
        record(session, scope, key, status_code, body, now)


def record(
    session: Session, scope: str, key: str, status_code: int, body: str, now: datetime
) -> None:
    """Keep a 2xx or 4xx answer in the caller's transaction: an order's own, so the order
    and the answer its key replays commit together (a separate commit after the order's
    could fail under load and leave a placed order with a key stuck "running")."""
    if not 200 <= status_code < 500 or status_code in _TRANSIENT_STATUSES:
        raise ValueError(f"not an answer to keep: {status_code}")
    if holds_card_number(body):
        raise ValueError("refusing to store an answer that holds a card number")
    values = {"claim_scope": scope, "claim_key": key, "now": now, "code": status_code, "body": body}
    session.connection().execute(_RECORD_ANSWER, values)


# Built once: every placed order records its answer.
_RECORD_ANSWER = (
    update(IdempotencyKey)
    .where(
        IdempotencyKey.scope == bindparam("claim_scope"),
        IdempotencyKey.key == bindparam("claim_key"),
        IdempotencyKey.status == "running",
        IdempotencyKey.expires_at > bindparam("now"),
    )
    .values(status="done", response_status=bindparam("code"), response_body=bindparam("body"))
)


def abandon(sessions: sessionmaker[Session], scope: str, key: str) -> None:
    """Let go of a running claim (the request failed on our side): the client may retry
    with the same key. A finished key is never abandoned; its answer stands."""
    with transaction(sessions) as session:
        session.execute(
            delete(IdempotencyKey)
            .where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.status == "running",
            )
            .execution_options(synchronize_session=False)
        )


def forget_expired(session: Session, now: datetime) -> int:
    """Delete every key past its expiry, in the caller's transaction; how many went."""
    result = session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def holds_card_number(text: str) -> bool:
    """Whether ``text`` holds 12-19 digits whose Luhn check digit is right, written all
    together or in groups split by single spaces or dashes ("4111 1111 1111 1111").

    Every run of whole groups is tried, so a card right after another number ("2
    4111...") is still found; digits inside a longer unbroken run are not a card."""
    for match in _DIGIT_GROUPS.finditer(text):
        groups = _SEPARATORS.split(match.group())
        for first in range(len(groups)):
            digits = ""
            for group in groups[first:]:
                digits += group
                if len(digits) > _CARD_DIGITS[-1]:
                    break
                if len(digits) in _CARD_DIGITS and _luhn_ok(digits):
                    return True
    return False


def _luhn_ok(digits: str) -> bool:
    # Kept here rather than imported: orders reaches payments only through its service,
    # and this guard must not depend on the card rules it is checking for.
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
