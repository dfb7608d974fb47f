"""Customer service's inboxes (issue 9 items 2, 3, 7): the questions from the product pages,
the mail outbox and, in the demo, the mail its server captured; each cut to the role's
grant, each record shown in the audit chain, and never a link token or sealed link.

Real mail (a registration and a password reset queue one-time links, sealed), real staff
(enrolled, signed in through the API), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.accounts import service as accounts
from quietshop.app import build_app
from quietshop.mail import service as mail
from quietshop.mail.local_smtp import MaildirHandler
from quietshop.mail.models import OutboxMessage
from quietshop.mail.sender import build_email
from quietshop.orders import service as orders
from quietshop.orders.models import InformationRequest
from quietshop.settings import Settings
from quietshop.staff import inbox_api
from quietshop.staff.need_to_know import Action
from quietshop.staff.roles import Role
from tests.accounts.factories import Account, link_in, mails_to, make_customer
from tests.clock import T0, MovableClock
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk, granted
from tests.staff.factories import audit_entries

__all__ = ["cheap_customer_hashes", "clerk"]

QUESTIONS = "/api/v1/staff/questions"
OUTBOX = "/api/v1/staff/outbox"
CAPTURED = "/api/v1/staff/captured-mail"
OUTBOX_FIELDS = (*mail.OUTBOX_COLUMNS, "text_body")
QUESTION_FIELDS = orders.QUESTION_COLUMNS
SEALED_HINT = "[link sent in the mail; not kept]"


@pytest.fixture
def rep(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.CUSTOMER_SERVICE)


def ask(db: Session, settings: Settings, name: str, question: str, **changes: Any) -> int:
    fields: dict[str, Any] = {
        "kind": "question", "product_sku": None, "name": name,
        "email": f"{name.split()[0].lower()}@example.net", "question": question,
        "quantity": None, **changes,
    }  # fmt: skip
    orders.ask(db, settings, now=T0, **fields)
    db.commit()
    found = db.execute(select(InformationRequest.id).order_by(InformationRequest.id.desc()))
    return int(found.scalars().first() or 0)


# ---------------------------------------------------------------- questions


def test_questions_are_listed_open_first_and_each_read_is_its_own_entry(
    api: TestClient, rep: Clerk, db: Session, settings: Settings
) -> None:
    first = ask(db, settings, "Quinn Asker", "Does the cable bend?")
    second = ask(db, settings, "Rae Asker", "Ten of them by Friday?", kind="quote", quantity=10)
    third = ask(db, settings, "Sol Asker", "Is it waterproof?")
    orders.mark_answered(db, first, T0)
    db.commit()
    answer = api.get(QUESTIONS, headers=rep.headers)
    assert answer.status_code == 200, answer.text
    listed = answer.json()["questions"]
    assert [q["id"] for q in listed] == [second, third, first]
    assert listed[0] == {
        "id": second,
        "kind": "quote",
        "product_sku": None,
        "name": "Rae Asker",
        "email": "rae@example.net",
        "question": "Ten of them by Friday?",
        "quantity": 10,
        "answered_at": None,
        "created_at": "2026-11-25T12:00:00Z",
        "delete_after": listed[0]["delete_after"],
    }
    assert set(listed[0]) == granted(
        {Role.CUSTOMER_SERVICE}, "information_requests", QUESTION_FIELDS
    )
    assert answer.json()["next_offset"] is None
    # Each question shown is a read of its own, of no customer's record
    reads = audit_entries(db, action="read")
    assert sorted(e.subject for e in reads) == sorted(
        f"question:{i}" for i in (first, second, third)
    )
    assert all(e.customer_id is None and e.role == "customer_service" for e in reads)
    assert reads[0].fields == (
        "information_requests.email", "information_requests.name",
        "information_requests.question",
    )  # fmt: skip


def test_questions_page(api: TestClient, rep: Clerk, db: Session, settings: Settings) -> None:
    ids = [ask(db, settings, f"Asker {n} Person", f"Question {n}?") for n in range(3)]
    page = api.get(QUESTIONS, params={"limit": 2}, headers=rep.headers).json()
    assert [q["id"] for q in page["questions"]] == ids[:2]
    assert page["next_offset"] == 2
    rest = api.get(QUESTIONS, params={"limit": 2, "offset": 2}, headers=rep.headers).json()
    assert [q["id"] for q in rest["questions"]] == ids[2:]
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"limit": "ten"}):
        assert api.get(QUESTIONS, params=params, headers=rep.headers).status_code == 400


def test_a_question_is_marked_answered_once_and_the_change_recorded(
    api: TestClient, rep: Clerk, db: Session, settings: Settings, clock: MovableClock
) -> None:
    question = ask(db, settings, "Quinn Asker", "Does the cable bend?")
    url = f"{QUESTIONS}/{question}/answered"
    assert api.post(url, headers=rep.headers).status_code == 204
    clock.advance(minutes=5)
    assert api.post(url, headers=rep.headers).status_code == 204  # again: nothing changes
    db.expire_all()
    assert db.get(InformationRequest, question).answered_at == T0  # type: ignore[union-attr]
    changes = audit_entries(db, action="change")
    assert [(c.subject, c.customer_id, c.fields) for c in changes] == [
        (f"question:{question}", None, ("information_requests.answered_at",))
    ]
    assert api.post(f"{QUESTIONS}/999999/answered", headers=rep.headers).status_code == 404
    assert api.post(f"{QUESTIONS}/0/answered", headers=rep.headers).status_code == 400
    assert api.post(f"{QUESTIONS}/abc/answered", headers=rep.headers).status_code == 400


@pytest.mark.parametrize("role", [Role.BILLING, Role.FULFILMENT, Role.MARKETING, Role.ANALYST])
def test_other_roles_read_no_question_and_answer_none(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, settings: Settings, role: Role
) -> None:
    question = ask(db, settings, "Quinn Asker", "Does the cable bend?")
    who = clerk(role)
    listed = api.get(QUESTIONS, headers=who.headers)
    marked = api.post(f"{QUESTIONS}/{question}/answered", headers=who.headers)
    for answer in (listed, marked):
        assert answer.status_code == 403
        assert "Quinn" not in answer.text and "bend" not in answer.text
    assert len(audit_entries(db, action="denied", staff_id=who.staff.id)) == 2
    db.expire_all()
    assert db.get(InformationRequest, question).answered_at is None  # type: ignore[union-attr]


# ---------------------------------------------------------------- the outbox


@pytest.fixture
def ann(db: Session, settings: Settings) -> Account:
    """A registered customer who asked for a password reset: two mails with one-time links."""
    account = make_customer(db, settings, name="Ann Example", email="ann@example.org")
    accounts.request_password_reset(db, settings, account.email, T0)
    db.commit()
    return account


def tokens_of(db: Session, settings: Settings, address: str) -> list[str]:
    """The link tokens the mails to ``address`` will carry (sealed in the outbox)."""
    return [link_in(message, settings) for message in mails_to(db, address)]


def test_customer_service_reads_recipient_and_subject_and_never_a_token(
    api: TestClient, rep: Clerk, db: Session, settings: Settings, ann: Account
) -> None:
    secrets = tokens_of(db, settings, ann.email)
    assert len(secrets) == 2
    listed = api.get(OUTBOX, headers=rep.headers)
    assert listed.status_code == 200, listed.text
    messages = listed.json()["messages"]
    assert [(m["recipient"], m["purpose"], m["status"]) for m in messages] == [
        ("ann@example.org", "account", "queued")
    ] * 2
    assert set(messages[0]) == granted({Role.CUSTOMER_SERVICE}, "mail_outbox", mail.OUTBOX_COLUMNS)
    one = api.get(f"{OUTBOX}/{messages[0]['id']}", headers=rep.headers)
    assert SEALED_HINT in one.json()["text_body"]
    # No token of either link, and no sealed link, in any answer
    for answer in (listed, one):
        assert "sealed_context" not in answer.text
        assert "token=" not in answer.text
        for secret in secrets:
            assert secret not in answer.text
            assert secret[:12] not in answer.text


@pytest.mark.parametrize("role", [Role.OWNER, Role.MARKETING])
def test_owner_and_marketing_see_that_mail_went_out_never_to_whom(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, ann: Account, role: Role
) -> None:
    who = clerk(role)
    listed = api.get(OUTBOX, headers=who.headers)
    assert listed.status_code == 200, listed.text
    messages = listed.json()["messages"]
    assert len(messages) == 2
    expected = granted({role}, "mail_outbox", mail.OUTBOX_COLUMNS)
    assert all(set(m) == expected for m in messages)
    assert "recipient" not in expected and "subject" not in expected
    one = api.get(f"{OUTBOX}/{messages[0]['id']}", headers=who.headers).json()
    assert set(one) == expected
    for secret in ("ann@example.org", "Ann Example", ann.customer.customer_number, "Reset"):
        assert secret not in listed.text
    # Nothing personal was shown: nothing to record as a read
    assert audit_entries(db, action="read") == []


@pytest.mark.parametrize("role", [Role.BILLING, Role.FULFILMENT, Role.ANALYST, Role.CATALOG])
def test_roles_without_the_outbox_are_refused(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, ann: Account, role: Role
) -> None:
    who = clerk(role)
    message_id = mails_to(db, ann.email)[0].id
    for url in (OUTBOX, f"{OUTBOX}/{message_id}", CAPTURED, f"{CAPTURED}/some.key"):
        answer = api.get(url, headers=who.headers)
        assert answer.status_code == 403, url
        assert "ann@example.org" not in answer.text
    assert len(audit_entries(db, action="denied", staff_id=who.staff.id)) == 4


def test_each_message_read_is_an_entry_the_customer_sees(
    api: TestClient, rep: Clerk, db: Session, ann: Account
) -> None:
    api.get(OUTBOX, headers=rep.headers)
    reads = audit_entries(db, action="read", customer_id=ann.customer.id)
    ids = sorted(m.id for m in mails_to(db, ann.email))
    assert sorted(e.subject for e in reads) == [f"mail:{i}" for i in ids]
    assert "mail_outbox.recipient" in reads[0].fields
    assert reads[0].reason == "customer service read the mail outbox"


def test_the_outbox_filters_and_pages(
    api: TestClient, rep: Clerk, db: Session, settings: Settings, ann: Account
) -> None:
    make_customer(db, settings, name="Bob Other", email="bob@example.org")
    db.commit()
    ids = [
        m.id for m in db.execute(select(OutboxMessage).order_by(OutboxMessage.id.desc())).scalars()
    ]
    first = api.get(OUTBOX, params={"limit": 2}, headers=rep.headers).json()
    assert [m["id"] for m in first["messages"]] == ids[:2]
    assert first["next_before"] == ids[1]
    rest = api.get(OUTBOX, params={"limit": 2, "before": ids[1]}, headers=rep.headers).json()
    assert [m["id"] for m in rest["messages"]] == ids[2:]
    assert rest["next_before"] is None
    sent = api.get(OUTBOX, params={"status": "sent"}, headers=rep.headers).json()
    assert sent["messages"] == []
    mine = api.get(OUTBOX, params={"purpose": "account"}, headers=rep.headers).json()
    assert len(mine["messages"]) == 3


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"purpose": "spam"}, {"limit": 51}, {"limit": 10**9}, {"before": 0},
     {"status": "x" * 10_000}, {"status": "sent' OR '1'='1"}],
)  # fmt: skip
def test_a_bad_outbox_filter_is_a_400_and_reads_nothing(
    api: TestClient, rep: Clerk, db: Session, ann: Account, params: dict[str, Any]
) -> None:
    answer = api.get(OUTBOX, params=params, headers=rep.headers)
    assert answer.status_code == 400, answer.text
    assert audit_entries(db, action="read") == []


def test_an_unknown_message_is_not_found(api: TestClient, rep: Clerk) -> None:
    assert api.get(f"{OUTBOX}/424242", headers=rep.headers).status_code == 404
    assert api.get(f"{OUTBOX}/-1", headers=rep.headers).status_code == 400


def test_every_route_declares_the_action_it_checks() -> None:
    assert {
        ("GET", QUESTIONS): Action.ANSWER_QUESTIONS,
        ("POST", f"{QUESTIONS}/{{question_id}}/answered"): Action.ANSWER_QUESTIONS,
        ("GET", OUTBOX): Action.READ_OUTBOX,
        ("GET", f"{OUTBOX}/{{message_id}}"): Action.READ_OUTBOX,
        ("GET", CAPTURED): Action.READ_CAPTURED_MAIL,
        ("GET", f"{CAPTURED}/{{key}}"): Action.READ_CAPTURED_MAIL,
    } == inbox_api.STAFF_ROUTE_ACTIONS


# ---------------------------------------------------------------- the demo's captured mail


def test_captured_mail_is_not_found_outside_the_demo(api: TestClient, rep: Clerk) -> None:
    for url in (CAPTURED, f"{CAPTURED}/1733112345.M1P2Q3.host"):
        answer = api.get(url, headers=rep.headers)
        assert answer.status_code == 404, url
        assert answer.json()["error"] == "not_found"


@pytest.fixture
def demo(
    settings: Settings, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[tuple[TestClient, Settings]]:
    """The same shop as the demo runs it, beside the test's ordinary app."""
    shown = settings.model_copy(update={"demo": True, "local_smtp": True})
    app = build_app(shown, sessions, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield client, shown


def deliver(db: Session, settings: Settings, address: str) -> list[str]:
    """What the demo's mail server would have caught of the mails to ``address``: sent as
    the sender sends them, links and all; their Maildir keys, oldest first."""
    box = MaildirHandler(settings.mail_dir).maildir
    return [box.add(build_email(message, settings)) for message in mails_to(db, address)]


def test_the_demo_s_captured_mail_is_listed_and_read_with_every_token_cut_out(
    demo: tuple[TestClient, Settings], rep: Clerk, db: Session, ann: Account
) -> None:
    client, shown = demo
    keys = deliver(db, shown, ann.email)
    secrets = tokens_of(db, shown, ann.email)
    listed = client.get(CAPTURED, headers=rep.headers)
    assert listed.status_code == 200, listed.text
    messages = listed.json()["messages"]
    assert sorted(m["key"] for m in messages) == sorted(keys)
    assert all(m["to"] == "Ann Example <ann@example.org>" and m["text"] is None for m in messages)
    one = client.get(f"{CAPTURED}/{keys[1]}", headers=rep.headers)
    assert one.status_code == 200, one.text
    text = one.json()["text"]
    assert "token=[redacted]" in text
    for answer in (listed, one):
        for secret in secrets:
            assert secret not in answer.text
    # Each message shown is a read, of the customer it was for
    reads = audit_entries(db, action="read", customer_id=ann.customer.id)
    assert [e.subject for e in reads][-1] == f"captured_mail:{keys[1]}"
    assert reads[-1].fields == ("captured_mail.to", "captured_mail.subject", "captured_mail.text")
    assert len(reads) == 3


@pytest.mark.parametrize("key", ["no.such.key", "..", "a" * 200])
def test_a_captured_key_the_mailbox_does_not_hold_is_not_found(
    demo: tuple[TestClient, Settings], rep: Clerk, db: Session, ann: Account, key: str
) -> None:
    client, shown = demo
    deliver(db, shown, ann.email)
    assert client.get(f"{CAPTURED}/{key}", headers=rep.headers).status_code == 404


@pytest.mark.parametrize("key", ["..%2F..%2Fsecret.key", "a%00b", "a" * 201, "key with spaces"])
def test_a_malformed_captured_key_is_refused(
    demo: tuple[TestClient, Settings], rep: Clerk, key: str
) -> None:
    client, _ = demo
    assert client.get(f"{CAPTURED}/{key}", headers=rep.headers).status_code in (400, 404)


def test_text_as_staff_see_it_never_holds_a_usable_link() -> None:
    stored = "Reset: [[link:link]]\nOr https://shop.test/account/reset#token=abc.DEF_1-2 now."
    assert mail.redacted(stored) == (
        f"Reset: {SEALED_HINT}\nOr https://shop.test/account/reset#token=[redacted] now."
    )
    assert mail.redacted('<a href="https://x/unsubscribe?token=n.s&amp;x=1">') == (
        '<a href="https://x/unsubscribe?token=[redacted]&amp;x=1">'
    )
