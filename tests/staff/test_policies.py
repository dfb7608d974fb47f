"""Policy publication and staff acknowledgements (P7, issue 9 items 6 and 8), without HTTP:
versions and their bad input, who is told (customers once each, resumable; staff on
publication and once a quarter), the quarter boundary, and the compliance list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.accounts import passwords as customer_passwords
from quietshop.accounts import service as accounts
from quietshop.app import personal_data_registry
from quietshop.errors import InvalidInput, NotFound
from quietshop.keyring import Keyring
from quietshop.mail.models import OutboxMessage
from quietshop.privacy.models import Policy
from quietshop.settings import Settings
from quietshop.staff import policies, service
from quietshop.staff.models import StaffPolicyAcknowledgement, StaffPolicyMailRun
from quietshop.staff.need_to_know import AccessDenied
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff
from tests.accounts.factories import PASSWORD as CUSTOMER_PASSWORD
from tests.accounts.factories import make_customer
from tests.clock import T0, MovableClock
from tests.staff.factories import Staff, audit_entries, make_staff

SECURITY_TEXT = "## Screens\n\nLock your screen when you leave your desk.\n\nNo exceptions."
PRIVACY_TEXT = "## Our promise\n\nWe keep quiet about you.\n\nStill no cookies."

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


@pytest.fixture(autouse=True)
def cheap_customer_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering customers costs an argon2id hash each; here a hash only needs to be one."""
    monkeypatch.setattr(customer_passwords, "_HASHER", CHEAP)


# ---------------------------------------------------------------- helpers


def signed_in_as(staff: Staff) -> SignedInStaff:
    """What a live session of ``staff`` resolves to (the services take no token)."""
    return SignedInStaff(staff.id, staff.name, staff.email, staff.roles, 0, "203.0.113.9", T0)


@pytest.fixture
def olive(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    """The shop's owner."""
    return make_staff(
        db, settings, keyring, roles=frozenset({Role.OWNER}), name="Olive Owner",
        email="olive@shop.example",
    )  # fmt: skip


def publish(
    db: Session,
    settings: Settings,
    kind: str = "security",
    title: str = "Security policy",
    body: str = SECURITY_TEXT,
    now: datetime = T0,
    summary: str = "",
) -> policies.Publication:
    if kind == "privacy" and not summary:
        summary = "Clearer words on log files."
    published = policies.publish_policy(db, settings, kind, title, body, now, summary=summary)
    db.flush()
    return published


def outbox(db: Session, purpose: str) -> list[OutboxMessage]:
    return list(
        db.execute(
            select(OutboxMessage).where(OutboxMessage.purpose == purpose).order_by(OutboxMessage.id)
        ).scalars()
    )


def notices(db: Session) -> list[tuple[str, str | None]]:
    """(recipient, reference) of every customer notice, by recipient."""
    return sorted((m.recipient, m.reference) for m in outbox(db, "policy_change"))


def policy_count(db: Session) -> int:
    return db.execute(select(func.count()).select_from(Policy)).scalar_one()


# ---------------------------------------------------------------- quarters


@pytest.mark.parametrize(
    ("moment", "start", "label"),
    [
        (datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "2027Q1"),
        (datetime(2027, 4, 1, 0, 0, 0, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC), "2027Q2"),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "2027Q1"),
        (datetime(2027, 9, 30, 23, 59, 59, 999999, tzinfo=UTC),
         datetime(2027, 7, 1, tzinfo=UTC), "2027Q3"),
        (datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC),
         datetime(2027, 10, 1, tzinfo=UTC), "2027Q4"),
        # A leap day is an ordinary day of the first quarter.
        (datetime(2028, 2, 29, 12, 0, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC), "2028Q1"),
        # Reckoned in UTC: 01:30 on 1 April in UTC+2 is still 31 March, the first quarter.
        (datetime(2027, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
         datetime(2027, 1, 1, tzinfo=UTC), "2027Q1"),
        # ...and 20:00 on 31 March in UTC-5 is already 1 April.
        (datetime(2027, 3, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
         datetime(2027, 4, 1, tzinfo=UTC), "2027Q2"),
    ],
)  # fmt: skip
def test_quarter_start(moment: datetime, start: datetime, label: str) -> None:
    assert policies.quarter_start(moment) == start
    assert policies.quarter_start(moment).tzinfo is UTC
    assert policies.quarter_label(moment) == label


def test_the_next_quarter_of_the_fourth_is_next_years_first() -> None:
    assert policies.next_quarter_start(datetime(2027, 11, 5, tzinfo=UTC)) == datetime(
        2028, 1, 1, tzinfo=UTC
    )
    assert policies.next_quarter_start(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(
        2028, 4, 1, tzinfo=UTC
    )


def test_a_naive_time_has_no_quarter() -> None:
    with pytest.raises(ValueError, match="naive"):
        policies.quarter_start(datetime(2027, 4, 1))  # naive: the point of the test


# ---------------------------------------------------------------- publishing


def test_each_publication_is_the_next_version_and_old_ones_stay(
    db: Session, settings: Settings
) -> None:
    first = publish(db, settings, title="Security policy")
    later = T0 + timedelta(days=1)
    second = publish(db, settings, title="Security policy, revised", body="Shorter.", now=later)
    privacy = publish(db, settings, "privacy", "Privacy policy", PRIVACY_TEXT)  # v1 is seeded
    new_kind = publish(db, settings, "returns-and_refunds", "Returns", "Thirty days.")
    assert [(p.policy.kind, p.policy.version) for p in (first, second, privacy, new_kind)] == [
        ("security", 1), ("security", 2), ("privacy", 2), ("returns-and_refunds", 1),
    ]  # fmt: skip
    old = db.get(Policy, first.policy.id)
    assert old is not None and (old.title, old.body) == ("Security policy", SECURITY_TEXT)
    assert [(p.kind, p.version) for p in policies.current_policies(db)] == [
        ("privacy", 2), ("returns-and_refunds", 1), ("security", 2),
    ]  # fmt: skip
    assert [(h.kind, h.version) for h in policies.policy_history(db)] == [
        ("privacy", 2), ("privacy", 1), ("returns-and_refunds", 1),
        ("security", 2), ("security", 1),
    ]  # fmt: skip


def test_line_endings_become_line_feeds_and_a_full_length_body_is_taken(
    db: Session, settings: Settings
) -> None:
    published = publish(db, settings, body="One.\r\n\r\nTwo.\rThree.")
    assert published.policy.body == "One.\n\nTwo.\nThree."
    assert len(publish(db, settings, body="x" * 100_000).policy.body) == 100_000
    assert publish(db, settings, title="  Padded  ").policy.title == "Padded"


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("kind", {"kind": ""}),
        ("kind", {"kind": "a"}),
        ("kind", {"kind": "k" * 41}),
        ("kind", {"kind": "Privacy"}),  # upper case
        ("kind", {"kind": "pri vacy"}),
        ("kind", {"kind": "security\n"}),
        ("kind", {"kind": "../etc"}),
        ("kind", {"kind": "sécurité"}),
        ("title", {"title": ""}),
        ("title", {"title": "   "}),
        ("title", {"title": "t" * 201}),
        ("title", {"title": "two\nlines"}),
        ("title", {"title": "bell\x07"}),
        ("title", {"title": "\u202eyciloP"}),  # right-to-left override
        ("body", {"body": ""}),
        ("body", {"body": " \n\t\n "}),
        ("body", {"body": "b" * 100_001}),
        ("body", {"body": "nul \x00 byte"}),
        ("body", {"body": "escape \x1b[31m red"}),
        ("body", {"body": "C1 \x85 control"}),
        ("body", {"body": "hidden \u2066 isolate"}),
        ("summary", {"kind": "privacy", "summary": ""}),  # customers must be told what changed
        ("summary", {"kind": "privacy", "summary": "s" * 501}),
        ("summary", {"kind": "privacy", "summary": "null \x00"}),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    db: Session, settings: Settings, olive: Staff, field: str, changes: dict[str, str]
) -> None:
    given = {"kind": "security", "title": "Security policy", "body": SECURITY_TEXT, "summary": "x"}
    given.update(changes)
    before = policy_count(db)
    with pytest.raises(InvalidInput) as refused:
        policies.publish_policy(
            db, settings, given["kind"], given["title"], given["body"], T0, summary=given["summary"]
        )
    assert refused.value.field == field
    assert policy_count(db) == before
    assert outbox(db, "account") == []


def test_only_a_role_that_may_publish_publishes(
    db: Session, settings: Settings, olive: Staff, bea: Staff
) -> None:
    with pytest.raises(AccessDenied):
        policies.publish_policy(
            db, settings, "security", "Security", SECURITY_TEXT, T0, by=signed_in_as(bea)
        )
    assert policy_count(db) == 1
    published = policies.publish_policy(
        db, settings, "security", "Security", SECURITY_TEXT, T0, by=signed_in_as(olive)
    )
    (entry,) = audit_entries(db, action="policy_publish")
    assert (entry.staff_id, entry.role, entry.subject, entry.reason, entry.origin) == (
        olive.id, "owner", f"policy:{published.policy.id}", "security version 1", "203.0.113.9",
    )  # fmt: skip


# ---------------------------------------------------------------- telling staff


def test_every_publication_reminds_every_active_staff_member(
    db: Session, settings: Settings, keyring: Keyring, olive: Staff, bea: Staff
) -> None:
    gone = make_staff(db, settings, keyring, name="Gone Away", email="gone@shop.example")
    service.disable_staff(db, gone.email, "left the shop", T0)
    service.add_staff(db, settings, "New Person", "new@shop.example", frozenset({Role.CATALOG}), T0)
    published = publish(db, settings)
    assert published.staff_reminded == 2 and published.customers_to_notify is False
    reminders = outbox(db, "account")
    assert [(m.recipient, m.reference) for m in reminders] == [
        (olive.email, f"staff-policy:security:1:{olive.id}"),
        (bea.email, f"staff-policy:security:1:{bea.id}"),
    ]
    message = reminders[1]
    assert message.subject == "A new policy to read and acknowledge"
    assert message.customer_number is None
    assert "We published version 1 of our security policy, \u201cSecurity policy\u201d." in (
        message.text_body
    )
    assert "https://shop.test/staff" in message.text_body
    assert "Hello Bea Ledger," in message.text_body
    assert outbox(db, "policy_change") == []  # the customers' policy did not change


def test_the_quarterly_reminder_goes_once_a_quarter(
    db: Session, settings: Settings, olive: Staff, bea: Staff
) -> None:
    publish(db, settings)
    april = datetime(2027, 4, 1, 0, 0, tzinfo=UTC)
    assert policies.remind_for_quarter(db, settings, april) == 2
    assert policies.remind_for_quarter(db, settings, april + timedelta(days=40)) == 0
    assert policies.remind_for_quarter(db, settings, april + timedelta(days=91)) == 2  # July
    quarterly = [m for m in outbox(db, "account") if (m.reference or "").startswith("staff-q")]
    assert [m.reference for m in quarterly] == [
        f"staff-quarter:2027Q2:{olive.id}", f"staff-quarter:2027Q2:{bea.id}",
        f"staff-quarter:2027Q3:{olive.id}", f"staff-quarter:2027Q3:{bea.id}",
    ]  # fmt: skip
    assert quarterly[0].subject == "A new quarter (2027Q2): please read our policies again"
    assert (
        "Please read them again: \u201cPrivacy policy\u201d (version 1), "
        "\u201cSecurity policy\u201d (version 1)."
    ) in " ".join(quarterly[0].text_body.split())


# ---------------------------------------------------------------- telling customers


@pytest.fixture
def customers(db: Session, settings: Settings) -> dict[str, str]:
    """Two accounts, a guest, a closed account: name -> address."""
    made = {
        "ann": make_customer(db, settings, name="Ann", email="ann@example.org").email,
        "bob": make_customer(db, settings, name="Bob", email="bob@example.org").email,
    }
    accounts.guest_buyer(db, "Gus Guest", "gus@example.org", T0)
    made["gus"] = "gus@example.org"
    closing = make_customer(db, settings, name="Cleo Closed", email="cleo@example.org")
    accounts.close_account(
        db, settings, closing.signed_in, CUSTOMER_PASSWORD, T0, personal_data_registry()
    )
    db.flush()
    return made


def test_a_new_privacy_policy_is_told_once_to_every_customer_guests_too(
    db: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: MovableClock,
    customers: dict[str, str],
) -> None:
    clock.advance(hours=1)
    published = publish(db, settings, "privacy", "Privacy policy", PRIVACY_TEXT, clock())
    # Registered after the publication: they read version 2 when they registered.
    make_customer(db, settings, name="Late", email="late@example.org", now=clock())
    db.flush()
    assert published.customers_to_notify is True
    assert notices(db) == []  # queued in batches of their own, after the publication
    assert policies.queue_customer_notices(sessions, settings, clock) == 3
    assert notices(db) == [
        ("ann@example.org", "policy:privacy:2"),
        ("bob@example.org", "policy:privacy:2"),
        ("gus@example.org", "policy:privacy:2"),
    ]
    ann = next(m for m in outbox(db, "policy_change") if m.recipient == "ann@example.org")
    assert ann.subject == "Our privacy policy changed (version 2)"
    assert "What changed: Clearer words on log files." in ann.text_body
    assert ann.customer_number is not None and ann.customer_number in ann.text_body
    assert policies.queue_customer_notices(sessions, settings, clock) == 0  # done is done


def test_notices_resume_after_a_crash_without_mailing_anyone_twice(
    db: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(5):
        make_customer(db, settings, name=f"Customer {n}", email=f"c{n}@example.org")
    clock.advance(hours=1)
    publish(db, settings, "privacy", "Privacy policy", PRIVACY_TEXT, clock())
    real_page = accounts.policy_notice_recipients
    pages = iter([real_page, _crash])
    monkeypatch.setattr(policies.accounts, "policy_notice_recipients", lambda *a: next(pages)(*a))
    with pytest.raises(RuntimeError, match="the process died"):
        policies.queue_customer_notices(sessions, settings, clock, batch_size=2)
    assert [r for r, _ in notices(db)] == ["c0@example.org", "c1@example.org"]
    monkeypatch.setattr(policies.accounts, "policy_notice_recipients", real_page)
    assert policies.queue_customer_notices(sessions, settings, clock, batch_size=2) == 3
    assert [r for r, _ in notices(db)] == [f"c{n}@example.org" for n in range(5)]
    run = db.execute(select(StaffPolicyMailRun)).scalar_one()
    db.refresh(run)
    assert (run.queued, run.finished_at) == (5, clock())


def _crash(*_: object) -> list[accounts.NoticeRecipient]:
    raise RuntimeError("the process died")


def test_a_newer_privacy_version_stops_the_older_ones_notices(
    db: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: MovableClock,
    customers: dict[str, str],
) -> None:
    clock.advance(hours=1)
    publish(db, settings, "privacy", "Privacy policy", PRIVACY_TEXT, clock())
    clock.advance(hours=1)
    publish(db, settings, "privacy", "Privacy policy", PRIVACY_TEXT + "\n\nMore.", clock())
    assert policies.queue_customer_notices(sessions, settings, clock) == 3
    assert {reference for _, reference in notices(db)} == {"policy:privacy:3"}


# ---------------------------------------------------------------- acknowledgements


@pytest.fixture
def february() -> MovableClock:
    return MovableClock(datetime(2027, 2, 10, 9, 30, tzinfo=UTC))


def test_an_acknowledgement_lapses_when_the_quarter_turns(
    db: Session, settings: Settings, bea: Staff, february: MovableClock
) -> None:
    security = publish(db, settings, now=february()).policy
    assert [(p.kind, p.version) for p in policies.pending_for(db, bea.id, february())] == [
        ("privacy", 1), ("security", 1),
    ]  # fmt: skip
    for policy in policies.current_policies(db):
        done = policies.acknowledge(db, bea.id, policy.id, february())
        assert done.lapses_at == datetime(2027, 4, 1, tzinfo=UTC)
    assert policies.pending_for(db, bea.id, february()) == []

    february.now = datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert policies.pending_for(db, bea.id, february()) == []
    policies.require_acknowledged(db, bea.id, february())

    february.now = datetime(2027, 4, 1, 0, 0, 0, tzinfo=UTC)
    assert [p.kind for p in policies.pending_for(db, bea.id, february())] == ["privacy", "security"]
    with pytest.raises(policies.PoliciesPending) as refused:
        policies.require_acknowledged(db, bea.id, february())
    assert (refused.value.status_code, refused.value.code) == (403, "policies_pending")
    assert refused.value.extra()["pending"][1] == {
        "id": security.id, "kind": "security", "version": 1, "title": "Security policy",
    }  # fmt: skip


def test_a_new_version_needs_a_new_acknowledgement(
    db: Session, settings: Settings, bea: Staff
) -> None:
    for policy in policies.current_policies(db):
        policies.acknowledge(db, bea.id, policy.id, T0)
    assert policies.pending_for(db, bea.id, T0) == []
    security = publish(db, settings, now=T0 + timedelta(minutes=1)).policy
    assert [p.id for p in policies.pending_for(db, bea.id, T0)] == [security.id]


def test_acknowledging_an_old_version_is_refused(
    db: Session, settings: Settings, bea: Staff
) -> None:
    old = publish(db, settings).policy
    publish(db, settings, body="Version two.")
    with pytest.raises(policies.PolicySuperseded) as refused:
        policies.acknowledge(db, bea.id, old.id, T0)
    assert (refused.value.status_code, refused.value.code) == (409, "policy_superseded")
    assert str(refused.value) == (
        "Version 1 of the security policy has been replaced by version 2: read and "
        "acknowledge that one."
    )
    with pytest.raises(NotFound):
        policies.acknowledge(db, bea.id, 999_999, T0)
    assert db.execute(select(func.count()).select_from(StaffPolicyAcknowledgement)).scalar() == 0
    assert audit_entries(db, action="policy_acknowledge") == []


def test_acknowledging_twice_in_a_quarter_keeps_the_first(
    db: Session, settings: Settings, bea: Staff
) -> None:
    (privacy,) = policies.current_policies(db)
    first = policies.acknowledge(db, bea.id, privacy.id, T0, origin="198.51.100.7")
    again = policies.acknowledge(db, bea.id, privacy.id, T0 + timedelta(hours=2))
    assert again.acknowledged_at == first.acknowledged_at == T0
    (entry,) = audit_entries(db, action="policy_acknowledge")
    assert (entry.staff_id, entry.subject, entry.reason, entry.origin) == (
        bea.id, f"policy:{privacy.id}", "privacy version 1", "198.51.100.7",
    )  # fmt: skip
    # Next quarter it is a new record, and the old one stays.
    policies.acknowledge(db, bea.id, privacy.id, datetime(2027, 1, 2, tzinfo=UTC))
    rows = db.execute(select(StaffPolicyAcknowledgement.quarter)).scalars().all()
    assert sorted(rows) == ["2026Q4", "2027Q1"]


def test_compliance_lists_each_person_and_kind(
    db: Session, settings: Settings, olive: Staff, bea: Staff
) -> None:
    december = datetime(2026, 12, 1, tzinfo=UTC)
    security = publish(db, settings, now=T0).policy
    (privacy,) = [p for p in policies.current_policies(db) if p.kind == "privacy"]
    policies.acknowledge(db, bea.id, privacy.id, T0)  # this quarter (Q4 2026)
    for policy in (privacy, security):
        policies.acknowledge(db, olive.id, policy.id, december)
    assert policies.compliance(db, december) == [
        policies.StaffCompliance(bea.id, "Bea Ledger", (Role.BILLING,), (
            policies.KindStatus("privacy", 1, 1, T0, True),
            policies.KindStatus("security", 1, None, None, False),
        )),
        policies.StaffCompliance(olive.id, "Olive Owner", (Role.OWNER,), (
            policies.KindStatus("privacy", 1, 1, december, True),
            policies.KindStatus("security", 1, 1, december, True),
        )),
    ]  # fmt: skip
    january = datetime(2027, 1, 5, tzinfo=UTC)
    policies.acknowledge(db, olive.id, privacy.id, january)
    later = policies.compliance(db, january)
    assert [(c.name, c.compliant) for c in later] == [("Bea Ledger", False), ("Olive Owner", False)]
    assert later[1].policies == (
        policies.KindStatus("privacy", 1, 1, january, True),
        policies.KindStatus("security", 1, 1, december, False),  # lapsed with the year
    )
