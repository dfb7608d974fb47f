"""Visitors without identifiers (P5, issue 10): a keyed hash of (the day's salt, client
address, User-Agent), as Plausible counts them.

A salt is 32 random bytes for one UTC day, kept in ``analytics_salts`` so that every
worker process and every node sharing the database hashes a visitor alike; it lives only
while its day is open. ``destroy_closed_salts`` deletes it afterwards, and from then on
nobody, the shop included, can compute which address and browser a hash of that day
stood for, nor join a private route's log line to a customer's record by time and address.

A closed day is a day before the newest salt's day: a salt is never made for it again
(a node whose clock lags, or a line finished just after midnight, gets no hash, ``-``),
which is why ``destroy_closed_salts`` makes today's salt before deleting the older ones.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, LargeBinary, bindparam, delete, exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics.models import DailySalt
from quietshop.db import UTCDateTime, per_dialect, transaction

log = logging.getLogger("quietshop.analytics")

SALT_BYTES = 32
# A hash reads "v-" and 16 hex digits. The marker makes it impossible to take for an
# address: an IPv4 address is digits and dots, an IPv6 one hex digits and colons, and
# neither holds a "v" or a "-". 16 hex digits are 64 bits of the HMAC: two of a million
# visitors of one day share a hash with a chance of about 3 in 100 million (birthday
# bound), and a shorter field keeps the log line short. Nothing is read from a hash but
# whether two lines of one day share it.
VISITOR_MARKER = "v-"
VISITOR_HEX_DIGITS = 16
# What a private route's line shows when the day's salt cannot be had: never the address.
NO_VISITOR = "-"
# After a failed fetch (the database down), this process asks again no sooner than this:
# the fetch runs on the event loop, so it must stay rare even while it fails.
RETRY_AFTER = timedelta(seconds=10)


def visitor_hash(salt: bytes, ip: str, user_agent: str) -> str:
    """The visitor of one day: the same salt, address and User-Agent give the same text;
    without the salt nothing relates it to either (HMAC-SHA256 keyed by the salt)."""
    # NUL separates the two: an address never holds one, so no two pairs give one message.
    message = ip.encode("utf-8", "replace") + b"\0" + user_agent.encode("utf-8", "replace")
    digest = hmac.digest(salt, message, "sha256")
    return VISITOR_MARKER + digest.hex()[:VISITOR_HEX_DIGITS]


# HMAC-SHA256 (RFC 2104) as two plain SHA-256 passes, for DuckDB to key a whole slice of
# lines at once: sha256(key ^ opad || sha256(key ^ ipad || message)). A 32-byte salt is
# shorter than SHA-256's 64-byte block, so the key is the salt padded with zeros.
_BLOCK = 64


def hmac_pads(salt: bytes) -> tuple[bytes, bytes]:
    """The salt's inner and outer HMAC keys, for ``visitor_hash_sql``."""
    key = salt.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def visitor_hash_sql(inner: str, outer: str, ip: str, user_agent: str) -> str:
    """``visitor_hash`` as a DuckDB expression over columns (inner and outer BLOBs from
    ``hmac_pads``; ip and user_agent VARCHAR, valid UTF-8): the same text for the same
    salt, address and User-Agent (tests/analytics/test_visitors.py holds them equal)."""
    message = f"encode({ip}) || '\\x00'::BLOB || encode({user_agent})"
    digest = f"sha256({outer} || unhex(sha256({inner} || {message})))"
    return f"'{VISITOR_MARKER}' || left({digest}, {VISITOR_HEX_DIGITS})"


def day_of(moment: datetime) -> date:
    """The UTC day a moment falls in (the salt's day)."""
    return moment.astimezone(UTC).date()


def _insert_while_open(dialect: Any) -> Any:
    """INSERT the day's salt unless the day has one already or has closed (a later day
    has a salt): one statement, so processes racing for the first salt of a day agree on
    whichever went in first, and none brings a destroyed day's salt back."""
    later = exists().where(DailySalt.day > bindparam("day", type_=Date))
    values = select(
        bindparam("day", type_=Date),
        bindparam("salt", type_=LargeBinary),
        bindparam("created_at", type_=UTCDateTime),
    ).where(~later)
    statement = dialect.insert(DailySalt.__table__).from_select(
        ["day", "salt", "created_at"], values
    )
    return statement.on_conflict_do_nothing(index_elements=["day"])


_INSERT_SALT = per_dialect(_insert_while_open)
_SALT_OF_DAY = select(DailySalt.salt).where(DailySalt.day == bindparam("day", type_=Date))


def _make_salt(session: Session, day: date, now: datetime) -> None:
    # On the connection: the ORM would take a parameter dict for a bulk INSERT of rows.
    connection = session.connection()
    insert = _INSERT_SALT[connection.dialect.name]
    connection.execute(insert, {"day": day, "salt": os.urandom(SALT_BYTES), "created_at": now})


def salt_of_day(session: Session, day: date, now: datetime) -> bytes | None:
    """The day's salt, made now if the day has none and is still open; None for a closed
    day (its salt was destroyed, or is about to be)."""
    _make_salt(session, day, now)
    salt: bytes | None = session.execute(_SALT_OF_DAY, {"day": day}).scalar_one_or_none()
    return salt


def destroy_closed_salts(session: Session, now: datetime) -> int:
    """Delete the salt of every day before ``now``'s UTC day; how many went. Today's salt
    is made first if it is missing, so the days before it count as closed everywhere and
    no process makes a salt for them again. Idempotent: a second call deletes nothing."""
    today = day_of(now)
    _make_salt(session, today, now)
    result = session.execute(delete(DailySalt).where(DailySalt.day < today))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class DailySalts:
    """This process's keeper of the current day's salt: read from the database once per
    day (and made there on first use), then kept in memory for that day only.

    ``visitor(ip, user_agent, when)`` is what the access log writes in place of the
    address on a private route's line. It runs on the event loop, so the database is
    asked once per day per process, and after a failure not again for RETRY_AFTER.
    """

    def __init__(self, sessions: sessionmaker[Session], retry_after: timedelta = RETRY_AFTER):
        self._sessions = sessions
        self._retry_after = retry_after
        self._lock = threading.Lock()
        # (day, its salt or None for a day that closed): one tuple, read without the lock.
        self._current: tuple[date, bytes | None] | None = None
        self._failed: tuple[date, datetime] | None = None

    def salt_for(self, now: datetime) -> bytes | None:
        """The salt of ``now``'s UTC day, or None when it cannot be had: the day has
        closed, or the database did not answer."""
        day = day_of(now)
        current = self._current
        if current is not None and current[0] == day:
            return current[1]
        with self._lock:
            current = self._current
            if current is not None and current[0] == day:
                return current[1]
            if current is not None and day < current[0]:
                return None  # a late line of a day this process has already left
            failed = self._failed
            if failed is not None and failed[0] == day and now - failed[1] < self._retry_after:
                return None  # the database failed a moment ago: do not wait on it again
            try:
                with transaction(self._sessions) as session:
                    salt = salt_of_day(session, day, now)
            except SQLAlchemyError as error:
                log.warning("no visitor salt for %s: %s", day, type(error).__name__)
                self._failed = (day, now)
                return None
            # The day before is dropped from memory here: its salt lives nowhere after.
            self._current = (day, salt)
            self._failed = None
            return salt

    def visitor(self, ip: str, user_agent: str, when: datetime) -> str:
        """The visitor hash of this address and browser on ``when``'s day, or NO_VISITOR."""
        salt = self.salt_for(when)
        return NO_VISITOR if salt is None else visitor_hash(salt, ip, user_agent)
