"""The append's statements, sent straight to the database driver.

Every staff read appends an entry, so the append is on the path of every back-office
answer. Measured on the 2-core test machine (SQLite, p50 / p99 of reading the last entry):
SQLAlchemy Core 72 / 260 us, ``exec_driver_sql`` 67 / 127 us, the driver's own cursor
4 / 12 us. So the lock, the read of the last entry and the insert go to the driver, in
the session's own connection and transaction; the one value that needs converting, the
time, goes through the column type's own bind processor, so it is stored exactly as
SQLAlchemy stores it (and reads back the same). Everything that reads entries uses
SQLAlchemy as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.orm import Session

from quietshop.audit.models import AuditEntry

# pg_advisory_xact_lock's key: one constant for the shop, derived from a name so it
# cannot clash by chance with another application's lock on the same server.
APPEND_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"quietshop audit_entries append").digest()[:8], "big", signed=True
)
COLUMNS = tuple(column.name for column in AuditEntry.__table__.columns)
_LAST = "SELECT id, hash FROM audit_entries ORDER BY id DESC LIMIT 1"


@dataclass(frozen=True)
class _Dialect:
    lock: str | None  # taken before reading the last entry; None where BEGIN took it
    insert: str
    bind_at: Callable[[datetime], Any]


def _insert(placeholder: str) -> str:
    values = ", ".join(placeholder.format(name) for name in COLUMNS)
    # The column names are the model's own, never input.
    return f"INSERT INTO audit_entries ({', '.join(COLUMNS)}) VALUES ({values})"  # noqa: S608


def _bind_at(dialect: Dialect) -> Callable[[datetime], Any]:
    # The dialect's own implementation of the column type (SQLite's DATETIME text), as
    # SQLAlchemy would bind it: the generic type's processor would leave the conversion to
    # the driver, which writes another text and breaks comparisons with stored times.
    processor = AuditEntry.__table__.c.at.type.dialect_impl(dialect).bind_processor(dialect)
    return processor if processor is not None else (lambda value: value)


_DIALECTS: dict[str, _Dialect] = {}


def _for(dialect: Dialect) -> _Dialect:
    known = _DIALECTS.get(dialect.name)
    if known is None:
        if dialect.name == "sqlite":  # the sqlite3 module's named style
            known = _Dialect(None, _insert(":{}"), _bind_at(dialect))
        elif dialect.name == "postgresql":  # psycopg's
            lock = "SELECT pg_advisory_xact_lock(%(key)s)"
            known = _Dialect(lock, _insert("%({})s"), _bind_at(dialect))
        else:
            raise ValueError(f"the audit log runs on SQLite or PostgreSQL, not {dialect.name}")
        _DIALECTS[dialect.name] = known
    return known


class Appender:
    """The driver connection of a session's transaction, for one append."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self._dialect = _for(connection.dialect)
        self._driver: Any = connection.connection.driver_connection

    def lock_and_read_last(self) -> tuple[int, str] | None:
        """Take the append lock (PostgreSQL: until the transaction ends), then read the last
        entry. Read committed: that read sees every entry committed before the lock."""
        if self._dialect.lock is not None:
            self._driver.execute(self._dialect.lock, {"key": APPEND_LOCK_KEY})
        last = self._driver.execute(_LAST).fetchone()
        return (last[0], last[1]) if last is not None else None

    def insert(self, values: dict[str, Any]) -> None:
        self._driver.execute(
            self._dialect.insert, {**values, "at": self._dialect.bind_at(values["at"])}
        )
