"""The hash chain (issue 9 item 3): appends insert entries alone, the sealer links each one
to the seal before it, and `verify` names the first entry where someone with database
access changed, removed, reordered or slipped in an entry or a seal, and reports entries
left unsealed — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import logging
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
from quietshop.audit.models import AuditEntry, AuditSeal
from quietshop.errors import InvalidInput
from tests.audit.conftest import READ, event, raw, seal_all
from tests.clock import T0

ENTRY_COLUMNS = (
    "id, at, action, staff_id, role, subject, customer_id, data_kinds, fields, reason, origin"
)


def _fill(db: Session, count: int) -> list[int]:
    """``count`` entries a second apart from T0, sealed; their ids."""
    ids = [
        audit.append(db, event(subject=f"order:{n}"), T0 + timedelta(seconds=n))
        for n in range(count)
    ]
    assert seal_all(db, T0 + timedelta(seconds=count)).sealed == count
    return ids


def _entry(db: Session, entry_id: int) -> AuditEntry:
    db.expire_all()
    return db.execute(select(AuditEntry).where(AuditEntry.id == entry_id)).scalar_one()


def _seal(db: Session, seq: int) -> AuditSeal:
    db.expire_all()
    return db.execute(select(AuditSeal).where(AuditSeal.seq == seq)).scalar_one()


def _seals(db: Session) -> list[tuple[int, int]]:
    db.expire_all()
    rows = db.execute(select(AuditSeal.seq, AuditSeal.entry_id).order_by(AuditSeal.seq))
    return [(seq, entry_id) for seq, entry_id in rows]


def _broken(db: Session) -> tuple[int | None, int | None, int, str]:
    result = audit.verify(db)
    return result.first_broken_seq, result.first_broken_id, result.count, result.problem


# ---------------------------------------------------------------- appending and sealing


def test_an_append_stores_the_entry_alone_and_the_sealer_links_it(db: Session) -> None:
    ids = [audit.append(db, event(subject=f"s{n}"), T0 + timedelta(seconds=n)) for n in range(3)]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]  # from the database, in order
    assert _seals(db) == [] and audit.chain_head(db) is None  # the append wrote no seal
    third = _entry(db, ids[2])
    assert (third.action, third.staff_id, third.role, third.subject, third.customer_id) == (
        "read", 5, "customer_service", "s2", 12,
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
    assert db.execute(at_third).scalar_one() == ids[2]

    assert seal_all(db) == audit.SealRun(sealed=3, late=0, skipped=())
    assert _seals(db) == [(1, ids[0]), (2, ids[1]), (3, ids[2])]
    first, second, last = (_seal(db, seq) for seq in (1, 2, 3))
    assert first.prev_hash == GENESIS == "0" * 64
    assert (second.prev_hash, last.prev_hash) == (first.hash, second.hash)
    assert len({first.hash, second.hash, last.hash}) == 3
    assert seal_all(db).sealed == 0  # nothing twice


def test_the_link_hash_is_sha256_of_the_documented_canonical_form(db: Session) -> None:
    """chain.py's definition, spelled out by hand: what a 20-line script recomputes."""
    entry_id = audit.append(db, READ, T0.replace(microsecond=1234))
    seal_all(db)
    form = [
        "quietshop-audit/1", entry_id, "2026-11-25T12:00:00.001234Z", "read", 5,
        "customer_service", "customer:12", 12, ["contact"], ["customers.name", "customers.email"],
        "Customer called about a late parcel", "192.0.2.10", "0" * 64,
    ]  # fmt: skip
    expected = json.dumps(form, ensure_ascii=True, separators=(",", ":")).encode()
    assert _seal(db, 1).hash == hashlib.sha256(expected).hexdigest()


def test_an_empty_log_verifies_with_no_entries(db: Session) -> None:
    result = audit.verify(db, now=T0)
    assert (result.intact, result.passed, result.count, result.first_broken_id) == (
        True, True, 0, None,
    )  # fmt: skip
    assert (result.head, result.unsealed) == (None, audit.Unsealed(0, None, None))
    assert audit.chain_head(db) is None


def test_an_intact_chain_verifies_and_reports_its_head(db: Session) -> None:
    ids = _fill(db, 12)
    seen: list[tuple[int, int]] = []
    result = audit.verify(db, progress=lambda done, total: seen.append((done, total)), now=T0)
    head = audit.chain_head(db)
    assert result.intact and result.passed and result.count == 12 and result.problem == ""
    assert head is not None and result.head == head
    assert (head.seq, head.entry_id, head.at) == (12, ids[11], T0 + timedelta(seconds=11))
    assert seen[-1] == (12, 12)


def test_verify_walks_past_one_batch(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("quietshop.audit.checking.VERIFY_BATCH", 4)
    ids = _fill(db, 10)
    raw(db, "UPDATE audit_entries SET reason = 'x' WHERE id = :id", id=ids[8])
    assert _broken(db)[:3] == (9, ids[8], 8)


def test_the_sealer_works_in_batches(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("quietshop.audit.sealer.SEAL_BATCH", 3)
    ids = _fill(db, 10)
    assert [entry_id for _, entry_id in _seals(db)] == ids
    assert audit.verify(db).count == 10


def test_the_window_seals_only_recent_entries_the_sweep_all_of_them(db: Session) -> None:
    old = audit.append(db, event(subject="old"), T0)
    recent = audit.append(db, event(subject="recent"), T0 + timedelta(minutes=20))
    now = T0 + timedelta(minutes=21)
    assert seal_all(db, now, since=now - timedelta(minutes=10)).sealed == 1
    assert _seals(db) == [(1, recent)]
    swept = seal_all(db, now, late_after=timedelta(minutes=5))
    assert (swept.sealed, swept.late) == (1, 1)  # the old one, appended 21 minutes before
    assert _seals(db) == [(1, recent), (2, old)]
    assert audit.verify(db, now=now).passed


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
    ],
)
def test_one_changed_column_of_one_entry_is_named(db: Session, column: str, value: object) -> None:
    ids = _fill(db, 6)
    if column == "at" and db.get_bind().dialect.name == "postgresql":
        value = "2026-11-25 12:00:03.5+00"
    raw(db, f"UPDATE audit_entries SET {column} = :value WHERE id = :id", value=value, id=ids[3])
    result = audit.verify(db)
    assert (result.intact, result.first_broken_seq, result.first_broken_id, result.count) == (
        False, 4, ids[3], 3,
    )  # fmt: skip
    assert result.problem == "its content does not match its seal's hash (a value was changed)"
    assert result.head is not None and result.head.seq == 3


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("prev_hash", "f" * 64, "its seal's prev_hash is not the hash of seal 3"),
        ("hash", "e" * 64, "its content does not match its seal's hash (a value was changed)"),
    ],
)
def test_one_changed_seal_is_named(db: Session, column: str, value: str, problem: str) -> None:
    ids = _fill(db, 6)
    raw(db, f"UPDATE audit_seals SET {column} = :value WHERE seq = 4", value=value)
    assert _broken(db) == (4, ids[3], 3, problem)


def test_a_seal_pointed_at_another_entry_is_named(db: Session) -> None:
    _fill(db, 6)
    extra = audit.append(db, READ, T0)  # unsealed: a seal could be moved onto it
    raw(db, "UPDATE audit_seals SET entry_id = :other WHERE seq = 4", other=extra)
    assert _broken(db)[:3] == (4, extra, 3)


def test_two_entries_swapped_between_their_seals_are_caught_at_the_first(db: Session) -> None:
    ids = _fill(db, 6)
    raw(db, "UPDATE audit_seals SET entry_id = -1 WHERE seq = 3")
    raw(db, "UPDATE audit_seals SET entry_id = :a WHERE seq = 4", a=ids[2])
    raw(db, "UPDATE audit_seals SET entry_id = :b WHERE seq = 3", b=ids[3])
    assert _broken(db)[:3] == (3, ids[3], 2)


def test_a_changed_entry_with_its_seal_rehashed_breaks_the_next_link(db: Session) -> None:
    """Whoever knows the form can rehash the seal of the entry they changed; the next seal
    still holds the old hash."""
    ids = _fill(db, 6)
    row, seal = _entry(db, ids[3]), _seal(db, 4)
    forged = ChainRow(
        ids[3], row.at, row.action, row.staff_id, row.role, row.subject, row.customer_id,
        ("contact",), ("customers.name", "customers.email"), "A better reason", row.origin,
        seal.prev_hash,
    )  # fmt: skip
    raw(db, "UPDATE audit_entries SET reason = 'A better reason' WHERE id = :id", id=ids[3])
    raw(db, "UPDATE audit_seals SET hash = :h WHERE seq = 4", h=entry_hash(forged))
    assert _broken(db) == (5, ids[4], 4, "its seal's prev_hash is not the hash of seal 4")


def test_an_entry_removed_under_its_seal_is_named(db: Session) -> None:
    ids = _fill(db, 8)
    raw(db, "DELETE FROM audit_entries WHERE id = :id", id=ids[4])
    assert _broken(db) == (5, ids[4], 4, "the entry is gone (its seal 5 is still there)")


def test_a_seal_removed_in_the_middle_is_named_by_the_seal_after_it(db: Session) -> None:
    ids = _fill(db, 8)
    raw(db, "DELETE FROM audit_seals WHERE seq = 5")
    result = audit.verify(db, now=T0 + timedelta(seconds=9))
    assert (result.first_broken_seq, result.first_broken_id, result.count) == (6, ids[5], 4)
    assert result.problem == "seal 6 follows seal 4: seals are missing between them"


def test_an_entry_removed_with_its_seal_is_named_by_the_seal_after_it(db: Session) -> None:
    ids = _fill(db, 8)
    raw(db, "DELETE FROM audit_entries WHERE id = :id", id=ids[4])
    raw(db, "DELETE FROM audit_seals WHERE seq = 5")
    assert _broken(db)[:3] == (6, ids[5], 4)


def test_a_seal_removed_and_the_later_ones_renumbered_is_named(db: Session) -> None:
    ids = _fill(db, 6)
    raw(db, "DELETE FROM audit_seals WHERE seq = 3")
    for seq in range(4, 7):  # one by one: the primary key is checked per row
        raw(db, "UPDATE audit_seals SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    assert _broken(db) == (3, ids[3], 2, "its seal's prev_hash is not the hash of seal 2")


def test_the_first_seal_removed_is_caught(db: Session) -> None:
    ids = _fill(db, 3)
    raw(db, "DELETE FROM audit_seals WHERE seq = 1")
    assert _broken(db)[:3] == (2, ids[1], 0)


def test_two_seals_swapped_are_caught_at_the_first(db: Session) -> None:
    ids = _fill(db, 6)
    raw(db, "UPDATE audit_seals SET seq = 1000 WHERE seq = 3")
    raw(db, "UPDATE audit_seals SET seq = 3 WHERE seq = 4")
    raw(db, "UPDATE audit_seals SET seq = 4 WHERE seq = 1000")
    assert _broken(db)[:3] == (3, ids[3], 2)


def test_a_forged_seal_at_the_end_is_named(db: Session) -> None:
    _fill(db, 4)
    forged = audit.append(db, event(reason="forged"), T0)
    raw(
        db, "INSERT INTO audit_seals (seq, entry_id, prev_hash, hash) VALUES (5, :e, :p, :h)",
        e=forged, p="1" * 64, h="2" * 64,
    )  # fmt: skip
    assert _broken(db)[:2] == (5, forged)


def test_a_well_forged_seal_slipped_in_breaks_the_seal_after_it(db: Session) -> None:
    """Renumber the later seals and slip in an entry and a seal hashed by the documented
    form: the renumbered seal still holds the hash of the one it followed."""
    ids = _fill(db, 8)
    for seq in range(8, 5, -1):
        raw(db, "UPDATE audit_seals SET seq = :new WHERE seq = :old", new=seq + 1, old=seq)
    forged_id = audit.append(db, event(staff_id=1, reason="forged"), T0)
    row = _entry(db, forged_id)
    five = _seal(db, 5)
    forged = ChainRow(
        forged_id, row.at, "read", 1, row.role, row.subject, row.customer_id, ("contact",),
        ("customers.name", "customers.email"), "forged", row.origin, five.hash,
    )  # fmt: skip
    raw(
        db, "INSERT INTO audit_seals (seq, entry_id, prev_hash, hash) VALUES (6, :e, :p, :h)",
        e=forged_id, p=five.hash, h=entry_hash(forged),
    )  # fmt: skip
    assert _broken(db) == (7, ids[5], 6, "its seal's prev_hash is not the hash of seal 6")


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("column", "value"),
    [("at", "not a time"), ("at", 7), ("customer_id", "twelve"), ("role", 5), ("reason", 1.5)],
)
def test_a_value_of_another_type_is_named_not_a_crash(
    db: Session, column: str, value: object
) -> None:
    """SQLite keeps whatever is written (PostgreSQL's column types refuse it at the UPDATE)."""
    ids = _fill(db, 3)
    raw(db, f"UPDATE audit_entries SET {column} = :value WHERE id = :id", value=value, id=ids[1])
    assert _broken(db)[:3] == (2, ids[1], 1)


def test_stored_arrays_that_are_not_arrays_of_text_are_named(db: Session) -> None:
    ids = _fill(db, 3)
    raw(db, "UPDATE audit_entries SET fields = '{\"a\": 1}' WHERE id = :id", id=ids[1])
    result = audit.verify(db)
    assert result.first_broken_id == ids[1] and "JSON array" in result.problem


# ---------------------------------------------------------------- entries not sealed yet


def test_unsealed_entries_are_reported_and_pass_within_the_limit(db: Session) -> None:
    _fill(db, 3)
    first = audit.append(db, READ, T0 + timedelta(minutes=1))
    audit.append(db, READ, T0 + timedelta(minutes=2))
    result = audit.verify(db, now=T0 + timedelta(minutes=5), unsealed_limit=timedelta(minutes=5))
    assert (result.intact, result.count, result.held_back, result.passed) == (True, 3, False, True)
    assert result.unsealed == audit.Unsealed(2, first, T0 + timedelta(minutes=1))


def test_an_entry_unsealed_longer_than_the_limit_fails_verify(db: Session) -> None:
    _fill(db, 3)
    held = audit.append(db, READ, T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=6, seconds=1)
    result = audit.verify(db, now=later, unsealed_limit=timedelta(minutes=5))
    assert (result.intact, result.held_back, result.passed) == (True, True, False)
    assert (result.unsealed.count, result.unsealed.oldest_id) == (1, held)
    # Without a time to judge by, verify only reports it.
    assert audit.verify(db).passed


def test_a_seal_removed_from_the_end_leaves_its_entry_unsealed(db: Session) -> None:
    """Cutting the last seal leaves an intact, shorter chain and an unsealed entry; the
    sealer seals it again, and the chain is whole again (an exported head shows a cut)."""
    ids = _fill(db, 4)
    raw(db, "DELETE FROM audit_seals WHERE seq = 4")
    result = audit.verify(db, now=T0 + timedelta(hours=1))
    assert (result.intact, result.count, result.unsealed.oldest_id, result.held_back) == (
        True, 3, ids[3], True,
    )  # fmt: skip
    assert seal_all(db).sealed == 1 and audit.verify(db).count == 4


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_an_entry_whose_content_cannot_be_hashed_is_left_unsealed_and_named(
    db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    good = audit.append(db, READ, T0)
    bad = audit.append(db, READ, T0)
    raw(db, "UPDATE audit_entries SET at = 'not a time' WHERE id = :id", id=bad)
    after = audit.append(db, READ, T0)
    with caplog.at_level(logging.WARNING, logger="quietshop.audit"):
        run = seal_all(db)
    assert (run.sealed, run.skipped) == (2, (bad,))
    assert _seals(db) == [(1, good), (2, after)]
    assert f"[{bad}]" in caplog.text
    result = audit.verify(db, now=T0)
    assert (result.intact, result.unsealed.count, result.held_back) == (True, 1, True)


def test_entries_sealed_late_are_logged_by_count(
    db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    audit.append(db, event(reason="Customer Zebulon called"), T0)
    with caplog.at_level(logging.WARNING, logger="quietshop.audit"):
        run = seal_all(db, T0 + timedelta(minutes=10), late_after=timedelta(minutes=5))
    assert run.late == 1
    assert "1 entries sealed more than 0:05:00 after" in caplog.text
    assert "Zebulon" not in caplog.text  # ids and counts only


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
    entry_id = audit.append(db, event(reason=reason), T0)
    audit.append(db, READ, T0)
    seal_all(db)
    assert _entry(db, entry_id).reason == reason.strip()
    assert audit.verify(db).count == 2


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
    assert audit.entry_count(db) == 0


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
    one = audit.append(db, event(fields=("a,b",)), T0)
    two = audit.append(db, event(fields=("a", "b")), T0)
    seal_all(db)
    assert (_entry(db, one).fields, _entry(db, two).fields) == ('["a,b"]', '["a","b"]')
    assert audit.verify(db).count == 2


def test_no_code_path_updates_or_deletes_an_entry_or_a_seal() -> None:
    """The package's own source never names an UPDATE or DELETE of either table."""
    from pathlib import Path

    import quietshop

    root = Path(quietshop.__file__).parent
    forbidden = (
        "update(AuditEntry", "delete(AuditEntry", "UPDATE audit_entries",
        "DELETE FROM audit_entries", "update(AuditSeal", "delete(AuditSeal",
        "UPDATE audit_seals", "DELETE FROM audit_seals", "session.delete(",
    )  # fmt: skip
    for path in root.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        if any(
            name in source for name in ("audit_entries", "AuditEntry", "audit_seals", "AuditSeal")
        ):
            for statement in forbidden:
                assert statement not in source, (path, statement)


# ---------------------------------------------------------------- the exported head


def test_reading_the_head_back_needs_the_exported_form(db: Session) -> None:
    ids = _fill(db, 3)
    document = json.loads(audit.head_document(db))
    assert document == {
        "seq": 3, "hash": _seal(db, 3).hash, "entry_id": ids[2],
        "at": "2026-11-25T12:00:02.000000Z", "count": 3,
    }  # fmt: skip
    head = audit.parse_head_document(json.dumps(document))
    assert audit.holds_head(db, head)
    raw(db, "UPDATE audit_seals SET hash = :h WHERE seq = 3", h="e" * 64)
    assert not audit.holds_head(db, head)
    bad_documents = (
        "", "[]", "{}", "7", '"seq"', '{"seq": "3", "hash": "ab", "at": "x"}',
        json.dumps({**document, "hash": "Z" * 64}), json.dumps({**document, "seq": 0}),
        json.dumps({**document, "at": "yesterday"}), json.dumps({**document, "seq": True}),
        json.dumps({**document, "hash": "a" * 10_000}),
    )  # fmt: skip
    for bad in bad_documents:
        with pytest.raises(InvalidInput) as refused:
            audit.parse_head_document(bad)
        assert refused.value.field == "head"


def test_a_head_exported_before_the_seals_reads_back_as_the_same_seq(db: Session) -> None:
    """Before migration 0014 a head named an entry ``id``; the migration sealed each old
    entry with seq = its id, so the old document names the same link."""
    _fill(db, 3)
    old = {"id": 2, "hash": _seal(db, 2).hash, "at": "2026-11-25T12:00:01.000000Z", "count": 2}
    head = audit.parse_head_document(json.dumps(old))
    assert (head.seq, head.id, head.entry_id) == (2, 2, 2)
    assert audit.holds_head(db, head)


def test_the_empty_log_exports_an_empty_head(db: Session) -> None:
    assert json.loads(audit.head_document(db)) == {
        "seq": None, "hash": None, "entry_id": None, "at": None, "count": 0,
    }  # fmt: skip


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
