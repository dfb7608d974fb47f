"""The canonical form of an audit entry and its link hash: defined here, once.

A seal's ``hash`` (``audit_seals``) is the hex SHA-256 of the UTF-8 bytes of one JSON
array, in this order: the entry's stored values, then the hash of the seal before it::

    ["quietshop-audit/1", id, at, action, staff_id, role, subject, customer_id,
     data_kinds, fields, reason, origin, prev_hash]

- ``id`` is the entry's id (``audit_seals.entry_id``), ``prev_hash`` the seal's;
- ``at`` is the UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six digits);
- ``staff_id`` and ``customer_id`` are integers or ``null``;
- ``data_kinds`` and ``fields`` are arrays of strings (stored as JSON text in their columns,
  so ``("a,b",)`` and ``("a", "b")`` are different arrays and different hashes);
- every other value is a string;

written as Python's ``json.dumps(array, ensure_ascii=True, separators=(",", ":"))`` writes
it: no spaces, every non-ASCII character and control character escaped (``\\n``, ``\\u00e9``),
so a newline or a quote in a reason cannot shift one value into the next. The first
seal's ``prev_hash`` is ``GENESIS`` (64 zeros); each later one's is the hash of the seal
before it, and seals are numbered (``seq``) 1, 2, 3, ... without a gap. Entry ids are
unique but need not come in order: the chain's order is the seal order. docs/deployment.md
has a 20-line script that re-verifies a chain with nothing but this definition.

The form is the one entries were hashed with when each row held its own hashes (before
migration 0014), so those entries, moved into seals, verify unchanged. The leading tag
names the form's version: a later form would get a new tag, and entries written before it
keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FORM = "quietshop-audit/1"
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class ChainRow:
    """An entry's stored values and its seal's ``prev_hash``, as the canonical form takes
    them (``id`` is the entry's id)."""

    id: int
    at: datetime
    action: str
    staff_id: int | None
    role: str
    subject: str
    customer_id: int | None
    data_kinds: tuple[str, ...]
    fields: tuple[str, ...]
    reason: str
    origin: str
    prev_hash: str


def canonical_time(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (isoformat: strftime costs 10 us here)."""
    utc = at if at.tzinfo is UTC else at.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


# One encoder, made once: json.dumps with options builds a new one at every call.
_ENCODE = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def json_array(values: tuple[str, ...] | list[str]) -> str:
    """How ``data_kinds`` and ``fields`` are stored: a JSON array, in the same style."""
    return _ENCODE(list(values))


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ",".join(_quoted(value) for value in values) + "]"


# json's own string escaper (C), as json.dumps(ensure_ascii=True) uses for every string.
_quoted: Callable[[str], str] = json.encoder.encode_basestring_ascii
_FORM = _quoted(FORM)


def canonical_bytes(row: ChainRow) -> bytes:
    """The documented JSON array, written piece by piece with json's own escaper: the same
    bytes as ``json.dumps(array, ensure_ascii=True, separators=(",", ":"))`` (a test holds
    the two equal on hostile text), at a third of its cost, since verify does this for
    every entry."""
    return _canonical(
        row.id, row.at, row.action, row.staff_id, row.role, row.subject, row.customer_id,
        row.data_kinds, row.fields, row.reason, row.origin, row.prev_hash,
    )  # fmt: skip


def _canonical(
    entry_id: int,
    at: datetime,
    action: str,
    staff_id: int | None,
    role: str,
    subject: str,
    customer_id: int | None,
    data_kinds: tuple[str, ...],
    fields: tuple[str, ...],
    reason: str,
    origin: str,
    prev_hash: str,
) -> bytes:
    parts = (
        _FORM,
        str(entry_id),
        _quoted(canonical_time(at)),
        _quoted(action),
        _number(staff_id),
        _quoted(role),
        _quoted(subject),
        _number(customer_id),
        _strings(data_kinds),
        _strings(fields),
        _quoted(reason),
        _quoted(origin),
        _quoted(prev_hash),
    )
    return ("[" + ",".join(parts) + "]").encode("ascii")


def canonical_bytes_by_json(row: ChainRow) -> bytes:
    """The definition itself, for tests and for anyone checking ``canonical_bytes``."""
    form = [
        FORM, row.id, canonical_time(row.at), row.action, row.staff_id, row.role, row.subject,
        row.customer_id, list(row.data_kinds), list(row.fields), row.reason, row.origin,
        row.prev_hash,
    ]  # fmt: skip
    return _ENCODE(form).encode("ascii")


def entry_hash(row: ChainRow) -> str:
    return hashlib.sha256(canonical_bytes(row)).hexdigest()


def hash_of(*values: Any) -> str:
    """``entry_hash`` of the values in ChainRow's order, without building the row (verify
    walks a million of them)."""
    return hashlib.sha256(_canonical(*values)).hexdigest()
