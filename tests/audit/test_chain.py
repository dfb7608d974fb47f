"""The hash chain (issue 9 item 3): appends link each entry to the one before, and `verify`
names the first entry where someone with database access changed, removed, reordered or
slipped in a row — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.audit import service as audit
from quietshop.audit.chain import (
    GENESIS,
    ChainRow,
    canonical_bytes,
    canonical_bytes_by_json,
    entry_hash,
)
from quietshop.audit.models import AuditEntry
from quietshop.errors import InvalidInput
from tests.audit.conftest import READ, event, raw
from tests.clock import T0


def _fill(db: Session, count: int) -> list[int]:
    ids = [
        audit.append(db, event(subject=f"order:{n}"), T0 + timedelta(seconds=n))
        for n in range(count)
    ]
    db.flush()
    return ids


def _stored(db: Session, entry_id: int) -> AuditEntry:
    db.expire_all()
    return db.execute(select(AuditEntry).where(AuditEntry.id == entry_id)).scalar_one()


# ---------------------------------------------------------------- appending


def test_entries_are_numbered_from_one_and_each_holds_the_hash_of_the_one_before(
    db: Session,
) -> None:
    assert _fill(db, 3) == [1, 2, 3]
    first, second, third = (_stored(db, n) for n in (1, 2, 3))
    assert first.prev_hash == GENESIS == "0" * 64
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert len({first.hash, second.hash, third.hash}) == 3
    # Every field of the event is stored as given; tuples as JSON arrays.
    assert (third.action, third.staff_id, third.role, third.subject, third.customer_id) == (
        "read", 5, "customer_service", "order:2", 12,
    )  # fmt: skip
    assert (third.data_kinds, third.fields) == (
        '["contact"]',
        '["customers.name","customers.email"]',
    )
    assert (third.reason, third.origin, third.at) == (
        READ.reason,
        READ.origin,
        T0 + timedelta(seconds=2),
    )
    # The time is stored as SQLAlchemy stores it, so comparing with it finds it.
    at_third = select(AuditEntry.id).where(AuditEntry.at == T0 + timedelta(seconds=2))
    assert db.execute(at_third).scalar_one() == 3


def test_the_hash_is_sha256_of_the_documented_canonical_form(db: Session) -> None:
    """chain.py's definition, spelled out by hand: what a 20-line script recomputes."""
    audit.append(db, READ, T0.replace(microsecond=1234))
    stored = _stored(db, 1)
    form = [
        "quietshop-audit/1", 1, "2026-11-25T12:00:00.001234Z", "read", 5, "customer_service",
        "customer:12", 12, ["contact"], ["customers.name", "customers.email"],
        "Customer called about a late parcel", "192.0.2.10", "0" * 64,
    ]  # fmt: skip
    expected = json.dumps(form, ensure_ascii=True, separators=(",", ":")).encode()
    assert stored.hash == hashlib.sha256(expected).hexdigest()


def test_an_empty_log_verifies_with_no_entries(db: Session) -> None:
    result = audit.verify(db)
    assert (result.intact, result.count, result.first_broken_id, result.head) == (
        True,
        0,
        None,
        None,
    )
    assert audit.chain_head(db) is None


def test_an_intact_chain_verifies_and_reports_its_head(db: Session) -> None:
    _fill(db, 12)
    seen: list[tuple[int, int]] = []
    result = audit.verify(db, progress=lambda done, total: seen.append((done, total)))
    head = audit.chain_head(db)
    assert result.intact and result.count == 12 and result.problem == ""
    assert head is not None and result.head == head and head.id == 12
    assert head.at == T0 + timedelta(seconds=11)
    assert seen[-1] == (12, 12)


def test_verify_walks_past_one_batch(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "VERIFY_BATCH", 4)
    _fill(db, 10)
    raw(db, "UPDATE audit_entries SET reason = 'x' WHERE id = 9")
    result = audit.verify(db)
    assert (result.first_broken_id, result.count) == (9, 8)


# ---------------------------------------------------------------- tampering, caught


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("at", "2026-11-25 12:00:03.500000"),
        ("action", "change"),
        ("staff_id", 6),
        ("staff_id", None),
        ("role", "owner"),
        ("subject", "customer:13"),
        ("customer_id", 13),
        ("data_kinds", '["contact","payment"]'),
        ("fields", '["customers.name"]'),
        ("reason", "Nothing to see here"),
        ("origin", "198.51.100.7"),
        ("prev_hash", "f" * 64),
    ],
)
def test_one_changed_column_of_one_row_is_named(db: Session, column: str, value: object) -> None:
    _fill(db, 6)
    if column == "at" and db.get_bind().dialect.name == "postgresql":
        value = "2026-11-25 12:00:03.5+00"
    raw(db, f"UPDATE audit_entries SET {column} = :value WHERE id = 4", value=value)
    result = audit.verify(db)
    assert (result.intact, result.first_broken_id, result.count) == (False, 4, 3)
    assert result.head is not None and result.head.id == 3


def test_a_changed_row_with_its_hash_recomputed_breaks_the_next_link(db: Session) -> None:
    """Whoever knows the form can rehash the row they changed; the next entry still holds
    the old hash."""
    _fill(db, 6)
    row = _stored(db, 4)
    forged = ChainRow(
        4, row.at, row.action, row.staff_id, row.role, row.subject, row.customer_id,
        ("contact",), ("customers.name", "customers.email"), "A better reason", row.origin,
        row.prev_hash,
    )  # fmt: skip
    raw(db, "UPDATE audit_entries SET reason = :r, hash = :h WHERE id = 4",
        r="A better reason", h=entry_hash(forged))  # fmt: skip
    result = audit.verify(db)
    assert result.first_broken_id == 5
    assert result.problem == "its prev_hash is not the hash of entry 4"


def test_a_row_deleted_in_the_middle_is_named_by_the_entry_after_it(db: Session) -> None:
    _fill(db, 8)
    raw(db, "DELETE FROM audit_entries WHERE id = 5")
    result = audit.verify(db)
    assert (result.first_broken_id, result.count) == (6, 4)
    assert result.problem == "entry 6 follows entry 4: entries are missing between them"


def test_the_first_row_deleted_is_caught(db: Session) -> None:
    _fill(db, 3)
    raw(db, "DELETE FROM audit_entries WHERE id = 1")
    assert audit.verify(db).first_broken_id == 2


def test_two_rows_swapped_are_caught_at_the_first(db: Session) -> None:
    _fill(db, 6)
    raw(db, "UPDATE audit_entries SET id = 1000 WHERE id = 3")
    raw(db, "UPDATE audit_entries SET id = 3 WHERE id = 4")
    raw(db, "UPDATE audit_entries SET id = 4 WHERE id = 1000")
    result = audit.verify(db)
    assert (result.first_broken_id, result.count) == (3, 2)


def test_a_forged_row_at_the_end_is_named(db: Session) -> None:
    _fill(db, 4)
    raw(
        db,
        "INSERT INTO audit_entries (id, at, action, staff_id, role, subject, customer_id,"
        " data_kinds, fields, reason, origin, prev_hash, hash) VALUES (5, :at, 'read', 1,"
        " 'owner', 'customer:1', 1, '[]', '[]', 'forged', '', :prev, :hash)",
        at=T0, prev="1" * 64, hash="2" * 64,
    )  # fmt: skip
    assert audit.verify(db).first_broken_id == 5


def test_a_well_forged_row_slipped_in_breaks_the_entry_after_it(db: Session) -> None:
    """Renumber the later entries and slip in a row hashed by the documented form: the
    renumbered entry's hash still names its old id."""
    _fill(db, 8)
    for entry_id in range(8, 5, -1):  # one by one: the primary key is checked per row
        raw(
            db, "UPDATE audit_entries SET id = :new WHERE id = :old", new=entry_id + 1, old=entry_id
        )
    five = _stored(db, 5)
    forged = ChainRow(6, T0, "read", 1, "owner", "customer:1", 1, (), (), "forged", "", five.hash)
    raw(
        db,
        "INSERT INTO audit_entries (id, at, action, staff_id, role, subject, customer_id,"
        " data_kinds, fields, reason, origin, prev_hash, hash) VALUES (6, :at, 'read', 1,"
        " 'owner', 'customer:1', 1, '[]', '[]', 'forged', '', :prev, :hash)",
        at=T0, prev=five.hash, hash=entry_hash(forged),
    )  # fmt: skip
    result = audit.verify(db)
    assert (result.first_broken_id, result.count) == (7, 6)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("column", "value"),
    [("at", "not a time"), ("at", 7), ("customer_id", "twelve"), ("role", 5), ("reason", 1.5)],
)
def test_a_value_of_another_type_is_named_not_a_crash(
    db: Session, column: str, value: object
) -> None:
    """SQLite keeps whatever is written (PostgreSQL's column types refuse it at the UPDATE)."""
    _fill(db, 3)
    raw(db, f"UPDATE audit_entries SET {column} = :value WHERE id = 2", value=value)
    result = audit.verify(db)
    assert (result.first_broken_id, result.count) == (2, 1)


def test_stored_arrays_that_are_not_arrays_of_text_are_named(db: Session) -> None:
    _fill(db, 3)
    raw(db, "UPDATE audit_entries SET fields = '{\"a\": 1}' WHERE id = 2")
    result = audit.verify(db)
    assert result.first_broken_id == 2 and "JSON array" in result.problem


# ---------------------------------------------------------------- hostile content


@pytest.mark.parametrize(
    "reason",
    [
        "Line one\nline two\r\n\tindented",
        'A "quoted" reason\\", "action": "read',  # JSON injection goes nowhere
        "Kundin rief an: Größe passt nicht — 返品",
        "x" * audit.MAX_REASON,
        "",
    ],
)
def test_a_reason_is_kept_exactly_and_still_verifies(db: Session, reason: str) -> None:
    audit.append(db, event(reason=reason), T0)
    audit.append(db, READ, T0)
    assert _stored(db, 1).reason == reason.strip()
    assert audit.verify(db).intact


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": "x" * 10_000}, "reason"),
        ({"reason": "x" * (audit.MAX_REASON + 1)}, "reason"),
        ({"reason": "bell\x07"}, "reason"),
        ({"reason": "nul\x00byte"}, "reason"),
        ({"reason": "escape \x1b[31mred"}, "reason"),
        ({"reason": "right-to-left \u202eoverride"}, "reason"),
        ({"reason": "lone \ud800 surrogate"}, "reason"),
        ({"action": "delete_everything"}, "action"),
        ({"action": ""}, "action"),
        ({"subject": "customer:1\nforged"}, "subject"),
        ({"subject": "s" * 121}, "subject"),
        ({"origin": "o" * 101}, "origin"),
        ({"role": "r" * 41}, "role"),
        ({"staff_id": 0}, "staff_id"),
        ({"customer_id": -1}, "customer_id"),
        ({"customer_id": True}, "customer_id"),
        ({"fields": ["a"]}, "fields"),
        ({"fields": ("",)}, "fields"),
        ({"fields": ("f",) * 65}, "fields"),
        ({"data_kinds": ("contact\t",)}, "data_kinds"),
    ],
)
def test_a_hostile_entry_is_refused_naming_the_field_and_nothing_is_appended(
    db: Session, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(audit.AuditEntryRefused) as refused:
        audit.append(db, event(**changes), T0)
    assert refused.value.field == field and refused.value.status_code == 422
    assert refused.value.code == "audit_entry_refused"
    assert audit.chain_head(db) is None


def test_a_naive_time_is_refused(db: Session) -> None:
    with pytest.raises(ValueError, match="naive"):
        audit.append(db, READ, T0.replace(tzinfo=None))


def test_names_with_commas_cannot_collide_with_two_names() -> None:
    def row(fields: tuple[str, ...]) -> ChainRow:
        return ChainRow(1, T0, "read", 1, "", "", None, (), fields, "", "", GENESIS)

    assert canonical_bytes(row(("a,b",))) != canonical_bytes(row(("a", "b")))
    assert entry_hash(row(("a,b",))) != entry_hash(row(("a", "b")))
    assert entry_hash(row(('a","b',))) != entry_hash(row(("a", "b")))


def test_fields_with_commas_are_stored_and_verified_as_one_name(db: Session) -> None:
    audit.append(db, event(fields=("a,b",)), T0)
    audit.append(db, event(fields=("a", "b")), T0)
    assert (_stored(db, 1).fields, _stored(db, 2).fields) == ('["a,b"]', '["a","b"]')
    assert audit.verify(db).intact


def test_no_code_path_updates_or_deletes_an_entry() -> None:
    """The package's own source never names an UPDATE or DELETE of the table."""
    from pathlib import Path

    import quietshop

    root = Path(quietshop.__file__).parent
    for path in root.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if "audit_entries" in source or "AuditEntry" in source:
            for forbidden in ("update(AuditEntry", "delete(AuditEntry", "UPDATE audit_entries",
                              "DELETE FROM audit_entries", "session.delete("):  # fmt: skip
                assert forbidden not in source, (path, forbidden)


def test_reading_the_head_back_needs_the_exported_form(db: Session) -> None:
    _fill(db, 3)
    document = json.loads(audit.head_document(db))
    assert document == {
        "id": 3, "hash": _stored(db, 3).hash, "at": "2026-11-25T12:00:02.000000Z", "count": 3,
    }  # fmt: skip
    head = audit.parse_head_document(json.dumps(document))
    assert audit.holds_head(db, head)
    raw(db, "UPDATE audit_entries SET hash = :h WHERE id = 3", h="e" * 64)
    assert not audit.holds_head(db, head)
    bad_documents = (
        "", "[]", "{}", '{"id": "3", "hash": "ab", "at": "x"}',
        json.dumps({**document, "hash": "Z" * 64}), json.dumps({**document, "id": 0}),
    )  # fmt: skip
    for bad in bad_documents:
        with pytest.raises(InvalidInput) as refused:
            audit.parse_head_document(bad)
        assert refused.value.field == "head"


def test_the_empty_log_exports_an_empty_head(db: Session) -> None:
    assert json.loads(audit.head_document(db)) == {"id": None, "hash": None, "at": None, "count": 0}


_text = st.text(max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    entry_id=st.integers(1, 2**31 - 1),
    micros=st.integers(0, 10**12),
    staff_id=st.none() | st.integers(1, 2**31 - 1),
    texts=st.lists(_text, min_size=5, max_size=5),
    kinds=st.lists(_text, max_size=4),
    fields=st.lists(_text, max_size=4),
)
def test_the_fast_canonical_form_is_exactly_the_documented_json(
    entry_id: int,
    micros: int,
    staff_id: int | None,
    texts: list[str],
    kinds: list[str],
    fields: list[str],
) -> None:
    action, role, subject, reason, origin = texts
    row = ChainRow(
        entry_id, T0 + timedelta(microseconds=micros), action, staff_id, role, subject,
        staff_id, tuple(kinds), tuple(fields), reason, origin, GENESIS,
    )  # fmt: skip
    assert canonical_bytes(row) == canonical_bytes_by_json(row)
