"""Marketing's mailings in the back office (issue 9): write, preview, send once, list, and
count the subscribers; marketing never sees an address, a name or a customer number.

Real customers (registered through the accounts service, some opted in with a confirmed
address), real staff (enrolled, signed in through the API), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import build_app
from quietshop.mail.models import Mailing, OutboxMessage
from quietshop.settings import Settings
from quietshop.staff import mailings_api, policies
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.accounts.factories import Account, make_customer
from tests.clock import T0, MovableClock
from tests.staff.desk import Clerk, cheap_customer_hashes, clerk
from tests.staff.factories import audit_entries

__all__ = ["cheap_customer_hashes", "clerk"]

MAILINGS = "/api/v1/staff/mailings"
SUBSCRIBERS = f"{MAILINGS}/subscribers"


def preview_url(mailing_id: int) -> str:
    return f"{MAILINGS}/{mailing_id}/preview"


def send_url(mailing_id: int) -> str:
    return f"{MAILINGS}/{mailing_id}/send"


@pytest.fixture
def marketer(clerk: Callable[..., Clerk]) -> Clerk:
    return clerk(Role.MARKETING)


@pytest.fixture
def customers(db: Session, settings: Settings) -> list[Account]:
    """Two subscribers (opted in, address confirmed), one who ticked the box and never
    confirmed, one who did not opt in: each with a name and address to look for."""
    made = [
        make_customer(db, settings, name="Zelda Quillfeather", email="zelda.q@example.org",
                      opt_in=True, verified=True),
        make_customer(db, settings, name="Yusuf Brandtmeier", email="yusuf.b@example.net",
                      opt_in=True, verified=True),
        make_customer(db, settings, name="Xenia Unconfirmed", email="xenia.u@example.com",
                      opt_in=True),
        make_customer(db, settings, name="Walter Neversubscribed", email="walter.n@example.org",
                      verified=True),
    ]  # fmt: skip
    db.commit()
    return made


def personal_values(customers: list[Account]) -> list[bytes]:
    """What must never be in a marketing answer: each customer's address, name (whole and
    each part) and customer number."""
    values: list[str] = []
    for account in customers:
        values += [account.email, account.customer.name, account.customer.customer_number]
        values += account.customer.name.split()
    return [value.encode() for value in values]


def assert_no_personal_data(response: Response, customers: list[Account]) -> None:
    raw = response.content
    leaked = [value for value in personal_values(customers) if value in raw]
    assert leaked == [], f"{response.request.url} answered with {leaked}"
    assert b"@example." not in raw  # no address of any kind


def outbox_count(db: Session) -> int:
    db.expire_all()
    return db.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()


def mailing_count(db: Session) -> int:
    db.expire_all()
    return db.execute(select(func.count()).select_from(Mailing)).scalar_one()


# ---------------------------------------------------------------- the journey


def test_marketing_writes_previews_and_sends_a_mailing_once_without_seeing_anyone(
    api: TestClient, marketer: Clerk, db: Session, customers: list[Account], clock: MovableClock
) -> None:
    answers: list[Response] = []

    def call(method: str, url: str, **kwargs: object) -> Response:
        answer = api.request(method, url, headers=marketer.headers, **kwargs)  # type: ignore[arg-type]
        answers.append(answer)
        return answer

    # Given two subscribers right now (the unconfirmed and the unsubscribed do not count)
    counted = call("GET", SUBSCRIBERS)
    assert counted.status_code == 200, counted.text
    assert counted.json() == {"subscribers": 2, "counted_at": "2026-11-25T12:00:00Z"}
    before = outbox_count(db)

    # When marketing writes a mailing
    text = "Our cables cost less this spring.\n\nEnjoy them."
    made = call("POST", MAILINGS, json={"subject": "Spring prices", "text": text})
    assert made.status_code == 201, made.text
    mailing = made.json()
    assert mailing == {
        "id": mailing["id"],
        "subject": "Spring prices",
        "created_at": "2026-11-25T12:00:00Z",
        "sent_at": None,
        "recipient_count": 0,
    }

    # Then it is listed, not sent, and nothing is queued
    listed = call("GET", MAILINGS)
    assert listed.json() == {"mailings": [mailing], "next_before": None}
    assert outbox_count(db) == before

    # And the preview reads as a subscriber would, greeting a placeholder, never a customer
    preview = call("GET", preview_url(mailing["id"]))
    assert preview.status_code == 200, preview.text
    assert preview.json()["subject"] == "Spring prices"
    assert "Our cables cost less this spring." in preview.json()["text"]
    assert "Sample Customer" in preview.json()["text"]
    assert outbox_count(db) == before

    # When they send it, ten minutes later
    clock.advance(minutes=10)
    sent = call("POST", send_url(mailing["id"]))

    # Then it is queued for the two subscribers only, and says so
    assert sent.status_code == 200, sent.text
    assert sent.json() == {
        "mailing": {**mailing, "sent_at": "2026-11-25T12:10:00Z", "recipient_count": 2},
        "queued": 2,
    }
    db.expire_all()
    queued = db.execute(
        select(OutboxMessage.recipient).where(OutboxMessage.purpose == "mailing")
    ).scalars()
    assert sorted(queued) == ["yusuf.b@example.net", "zelda.q@example.org"]

    # And a second send is refused, queueing nothing more
    again = call("POST", send_url(mailing["id"]))
    assert again.status_code == 409, again.text
    assert again.json()["error"] == "mailing_already_sent"
    assert outbox_count(db) == before + 2
    assert call("GET", MAILINGS).json()["mailings"][0]["recipient_count"] == 2

    # And no answer on the way held anyone's address, name or customer number
    for answer in answers:
        assert_no_personal_data(answer, customers)
    # Nor is any personal data read: no read entry in the audit chain
    assert audit_entries(db, action="read") == []


def test_the_list_pages_newest_first(api: TestClient, marketer: Clerk) -> None:
    ids = [
        api.post(MAILINGS, json={"subject": f"News {n}", "text": "Hello."},
                 headers=marketer.headers).json()["id"]
        for n in range(3)
    ]  # fmt: skip
    first = api.get(MAILINGS, params={"limit": 2}, headers=marketer.headers).json()
    assert [m["id"] for m in first["mailings"]] == [ids[2], ids[1]]
    assert first["next_before"] == ids[1]
    rest = api.get(MAILINGS, params={"limit": 2, "before": ids[1]}, headers=marketer.headers).json()
    assert [m["id"] for m in rest["mailings"]] == [ids[0]]
    assert rest["next_before"] is None
    for params in ({"limit": 0}, {"limit": 101}, {"before": 0}, {"limit": "many"}):
        assert api.get(MAILINGS, params=params, headers=marketer.headers).status_code == 400


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("subject", "text", "field", "says"),
    [
        ("", "Hello.", "subject", "must not be empty"),
        ("   ", "Hello.", "subject", "must not be empty"),
        ("Spring\r\nBcc: everyone@example.org", "Hello.", "subject", "line breaks"),
        ("Tab\tin subject", "Hello.", "subject", "control characters"),
        ("x" * 201, "Hello.", "subject", "at most 200"),
        ("Spring prices", "", "text", "must not be empty"),
        ("Spring prices", " \n\n ", "text", "must not be empty"),
        ("Spring prices", "Hello\x00there", "text", "control characters"),
        ("Spring prices", "Hello \x1b[31mred\x1b[0m", "text", "control characters"),
        ("Spring prices", "é" * (32 * 1024 + 1), "text", "at most 65536 bytes"),
    ],
)
def test_content_the_mail_rules_refuse_is_a_422_naming_the_field(
    api: TestClient, marketer: Clerk, db: Session, subject: str, text: str, field: str, says: str
) -> None:
    answer = api.post(MAILINGS, json={"subject": subject, "text": text}, headers=marketer.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "mailing_refused"
    [problem] = answer.json()["detail"]
    assert problem["field"] == field and says in problem["message"]
    assert mailing_count(db) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"subject": "Spring prices"},
        {"text": "Hello."},
        {"subject": 12, "text": "Hello."},
        {"subject": "Spring prices", "text": ["Hello."]},
        {"subject": "Spring prices", "text": "Hello.", "audience": "everyone"},
        {"subject": "x" * 1001, "text": "Hello."},  # not even parsed past its size
        {"subject": "Spring prices", "text": "x" * (80 * 1024 + 1)},
    ],
)
def test_a_body_of_the_wrong_shape_is_a_400_and_saves_nothing(
    api: TestClient, marketer: Clerk, db: Session, body: dict[str, object]
) -> None:
    answer = api.post(MAILINGS, json=body, headers=marketer.headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_parameter"
    assert mailing_count(db) == 0


def test_a_request_larger_than_the_limit_is_refused_before_it_is_read(
    api: TestClient, marketer: Clerk, db: Session
) -> None:
    huge = {"subject": "Spring prices", "text": "x" * (mailings_api.BODY_LIMIT + 1)}
    answer = api.post(MAILINGS, json=huge, headers=marketer.headers)
    assert answer.status_code == 413
    assert mailing_count(db) == 0


def test_unknown_and_malformed_mailing_ids(api: TestClient, marketer: Clerk) -> None:
    for url in (preview_url(999_999), send_url(999_999)):
        method = "GET" if url.endswith("preview") else "POST"
        answer = api.request(method, url, headers=marketer.headers)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "not_found"
    for bad in ("0", "-1", "abc", "1.5", str(2**31), "1;DROP"):
        answer = api.get(f"{MAILINGS}/{bad}/preview", headers=marketer.headers)
        assert answer.status_code in (400, 404), (bad, answer.text)


def test_a_send_is_refused_until_the_shop_links_are_configured(
    api: TestClient,
    marketer: Clerk,
    db: Session,
    customers: list[Account],
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: MovableClock,
) -> None:
    made = api.post(
        MAILINGS, json={"subject": "Spring prices", "text": "Hello."}, headers=marketer.headers
    ).json()
    before = outbox_count(db)
    # The same shop, served by a process that was not told its public address
    unconfigured = build_app(settings.model_copy(update={"public_base_url": ""}), sessions,
                             clock=clock)  # fmt: skip
    with TestClient(unconfigured, base_url="https://testserver") as elsewhere:
        answer = elsewhere.post(send_url(made["id"]), headers=marketer.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["field"] == "settings"
    assert "QUIETSHOP_PUBLIC_BASE_URL" in answer.json()["detail"][0]["message"]
    db.expire_all()
    assert db.get(Mailing, made["id"]).sent_at is None  # type: ignore[union-attr]
    assert outbox_count(db) == before
    # Once configured, the same mailing goes
    assert api.post(send_url(made["id"]), headers=marketer.headers).json()["queued"] == 2


# ---------------------------------------------------------------- who may


ROUTES = [
    ("GET", MAILINGS, None),
    ("GET", SUBSCRIBERS, None),
    ("POST", MAILINGS, {"subject": "Spring prices", "text": "Hello."}),
    ("GET", preview_url(1), None),
    ("POST", send_url(1), None),
]


def test_every_mailing_route_declares_send_mailings() -> None:
    declared = mailings_api.STAFF_ROUTE_ACTIONS
    assert declared == {
        ("GET", MAILINGS): Action.SEND_MAILINGS,
        ("POST", MAILINGS): Action.SEND_MAILINGS,
        ("GET", SUBSCRIBERS): Action.SEND_MAILINGS,
        ("GET", f"{MAILINGS}/{{mailing_id}}/preview"): Action.SEND_MAILINGS,
        ("POST", f"{MAILINGS}/{{mailing_id}}/send"): Action.SEND_MAILINGS,
    }
    assert ACTION_ROLES[Action.SEND_MAILINGS] == {Role.MARKETING}


@pytest.mark.parametrize("role", [role for role in Role if role is not Role.MARKETING])
def test_every_other_role_is_refused_and_each_refusal_is_in_the_audit_chain(
    api: TestClient, clerk: Callable[..., Clerk], db: Session, role: Role
) -> None:
    # Given a mailing that exists (so a refusal cannot be a 404 in disguise)
    db.add(Mailing(subject="Spring prices", text_body="Hello.", created_at=T0))
    db.commit()
    someone = clerk(role)
    for method, url, body in ROUTES:
        answer = api.request(method, url, json=body, headers=someone.headers)
        assert answer.status_code == 403, (method, url, answer.text)
        assert answer.json()["error"] == "forbidden"
    denied = audit_entries(db, action="denied", staff_id=someone.staff.id)
    assert len(denied) == len(ROUTES)
    assert all("send_mailings not granted" in entry.reason for entry in denied)
    assert mailing_count(db) == 1 and outbox_count(db) == 0


def test_marketing_before_acknowledging_the_policies_is_refused_and_recorded(
    api: TestClient,
    clerk: Callable[..., Clerk],
    db: Session,
    settings: Settings,
    customers: list[Account],
) -> None:
    policies.publish_policy(db, settings, "security", "Security", "Lock your screen.", T0)
    db.commit()
    late = clerk(Role.MARKETING, acknowledged=False)
    answer = api.get(SUBSCRIBERS, headers=late.headers)
    assert answer.status_code == 403
    assert answer.json()["error"] == "policies_pending"
    assert_no_personal_data(answer, customers)
    denied = audit_entries(db, action="denied", staff_id=late.staff.id)
    assert [entry.reason.split(":")[0] for entry in denied] == [
        f"GET {SUBSCRIBERS} (send_mailings)"
    ]


def test_without_a_token_nothing_is_said(api: TestClient) -> None:
    for method, url, body in ROUTES:
        assert api.request(method, url, json=body).status_code == 401


def test_a_mailing_written_later_is_listed_first(
    api: TestClient, marketer: Clerk, clock: MovableClock
) -> None:
    old = api.post(MAILINGS, json={"subject": "Old", "text": "A."}, headers=marketer.headers)
    clock.advance(minutes=5)
    new = api.post(MAILINGS, json={"subject": "New", "text": "B."}, headers=marketer.headers)
    listed = api.get(MAILINGS, headers=marketer.headers).json()["mailings"]
    assert [m["subject"] for m in listed] == ["New", "Old"]
    assert listed[0]["created_at"] == "2026-11-25T12:05:00Z"
    assert old.json()["id"] < new.json()["id"]
