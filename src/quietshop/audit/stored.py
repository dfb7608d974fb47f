"""An entry's content read back as the hashed form takes it: shared by the sealer (which
hashes entries as it finds them) and ``verify`` (which hashes them again).

Both read what the database holds, not what the models expect: on SQLite a tampered value
can be text of any kind or another type, and must name its entry, not stop the walk.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, type_coerce
from sqlalchemy.orm import Session

from quietshop.audit.chain import hash_of
from quietshop.audit.models import AuditEntry

# The entry's hashed columns, in the form's order; ``at`` as stored (see ``time_reader``).
CONTENT_COLUMNS = (
    AuditEntry.id,
    type_coerce(AuditEntry.at, String).label("at"),
    AuditEntry.action,
    AuditEntry.staff_id,
    AuditEntry.role,
    AuditEntry.subject,
    AuditEntry.customer_id,
    AuditEntry.data_kinds,
    AuditEntry.fields,
    AuditEntry.reason,
    AuditEntry.origin,
)


class Unreadable(ValueError):
    """A stored entry that cannot be put in the hashed form; the text says why."""


def time_reader(session: Session) -> Callable[[Any], Any]:
    """The column type's own conversion of a stored time, as SQLAlchemy reads it."""
    dialect = session.get_bind().dialect
    column_type = AuditEntry.__table__.c.at.type
    processor = column_type.dialect_impl(dialect).result_processor(dialect, None)
    return processor if processor is not None else (lambda value: value)


@functools.lru_cache(maxsize=4096)  # a few field lists recur across a million entries
def names(stored: str) -> tuple[str, ...]:
    values = json.loads(stored)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("not a JSON array of strings")
    return tuple(values)


def read_time(content: Sequence[Any], read_at: Callable[[Any], Any]) -> datetime:
    try:
        at: datetime = read_at(content[1])
    except (ValueError, TypeError):
        raise Unreadable("its time is not a time (a value was changed)") from None
    if not isinstance(at, datetime):
        raise Unreadable("its time is not a time (a value was changed)")
    return at


def link_hash(content: Sequence[Any], at: datetime, prev_hash: str) -> str:
    """The hash of a seal over this entry content (``CONTENT_COLUMNS``, ``at`` already read
    by ``read_time``), following the seal whose hash is ``prev_hash``."""
    try:
        kinds, fields = names(content[7]), names(content[8])
    except (ValueError, TypeError):
        raise Unreadable("its data_kinds or fields are not a JSON array of text") from None
    try:
        return hash_of(content[0], at, *content[2:7], kinds, fields, *content[9:11], prev_hash)
    except (TypeError, AttributeError):  # SQLite keeps whatever type was written
        raise Unreadable("a value has the wrong type (a value was changed)") from None
