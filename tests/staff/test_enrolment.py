"""Enrolment (P7): `staff add` makes a one-time link; opening it gives a fresh TOTP secret
with its QR code drawn here as SVG; the password and a current code finish it and spend it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.errors import InvalidInput
from quietshop.keyring import DecryptionFailed, Keyring
from quietshop.settings import Settings
from quietshop.staff import passwords, second_factor, service
from quietshop.staff.models import StaffMember
from quietshop.staff.roles import Role
from tests.clock import T0, MovableClock
from tests.staff.factories import audit_entries, enrolment_token, make_staff

START = "/api/v1/staff/enrolment"
COMPLETE = "/api/v1/staff/enrolment/complete"
NEW_PASSWORD = "packing tape 42 rolls"


@pytest.fixture
def token(db: Session, settings: Settings) -> str:
    link = service.add_staff(
        db, settings, "  Phil   Parcel ", "Phil@Shop.example", frozenset({Role.FULFILMENT}), T0
    )
    assert link.url.startswith("https://shop.test/staff/enrol#token=")
    assert link.expires_at == T0 + timedelta(hours=72)
    return enrolment_token(link.url)


def member(db: Session, email: str = "phil@shop.example") -> StaffMember:
    found = service.signin.member_by_email(db, email)
    assert found is not None
    db.refresh(found)
    return found


def test_enrolment_sets_the_password_and_the_second_factor_and_spends_the_link(
    api: TestClient, db: Session, token: str, clock: MovableClock
) -> None:
    started = api.post(START, json={"token": token})
    assert started.status_code == 200, started.text
    answer = started.json()
    assert (answer["name"], answer["email"]) == ("Phil Parcel", "Phil@Shop.example")
    uri = urlsplit(answer["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [answer["secret"]]
    assert parse_qs(uri.query)["issuer"] == ["Quietshop Test"]
    code = second_factor.code_at(answer["secret"], T0)
    done = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": code})
    assert done.status_code == 200, done.text
    phil = member(db)
    assert phil.enrolled_at == T0 and phil.enrolment_token_hash is None
    assert passwords.verify_password(phil.password_hash, NEW_PASSWORD)
    (entry,) = audit_entries(db, action="enrol")
    assert entry.staff_id == phil.id
    (added,) = audit_entries(db, action="staff_change")
    assert (added.staff_id, added.subject) == (None, f"staff:{phil.id}")
    assert added.reason == "added with the roles fulfilment (the owner at the command line)"
    # The link is spent: neither step works again.
    again = api.post(START, json={"token": token})
    assert (again.status_code, again.json()["detail"][0]["message"]) == (400, service.INVALID_LINK)
    clock.advance(seconds=30)
    code = second_factor.code_at(answer["secret"], clock.now)
    replay = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": code})
    assert replay.status_code == 400


def test_an_expired_link_is_refused(api: TestClient, token: str, clock: MovableClock) -> None:
    clock.advance(hours=71, minutes=59)
    assert api.post(START, json={"token": token}).status_code == 200
    clock.advance(minutes=1)
    refused = api.post(START, json={"token": token})
    assert refused.json()["detail"] == [{"field": "token", "message": service.INVALID_LINK}]


@pytest.mark.parametrize(
    "forged",
    ["A" * 43, "x", "A" * 100, "../../etc/passwd", "é" * 43, "' OR 1=1 --"],
)
def test_a_forged_token_is_refused(api: TestClient, token: str, forged: str) -> None:
    refused = api.post(START, json={"token": forged})
    assert refused.status_code == 400
    assert refused.json()["detail"] == [{"field": "token", "message": service.INVALID_LINK}]


@pytest.mark.parametrize(
    "body", [{}, {"token": ""}, {"token": "A" * 101}, {"token": 43}, {"token": "A", "x": 1}]
)
def test_malformed_bodies_are_400(api: TestClient, body: dict[str, object]) -> None:
    assert api.post(START, json=body).status_code == 400


def test_the_qr_code_is_plain_svg_without_script(api: TestClient, token: str) -> None:
    svg = api.post(START, json={"token": token}).json()["qr_svg"]
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for element in root.iter():
        assert element.tag.rsplit("}", 1)[-1] in {"svg", "title", "g", "path"}, element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "javascript:" not in value and "http" not in value.replace(
                "http://www.w3.org/2000/svg", ""
            ), (name, value)
    assert "<script" not in svg.lower()


def test_asking_again_gives_a_fresh_secret_and_only_the_newest_works(
    api: TestClient, db: Session, token: str
) -> None:
    first = api.post(START, json={"token": token}).json()["secret"]
    second = api.post(START, json={"token": token}).json()["secret"]
    assert first != second
    old_code = second_factor.code_at(first, T0)
    new_code = second_factor.code_at(second, T0)
    if old_code != new_code:  # one chance in a million they agree
        old = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": old_code})
        assert old.json()["detail"][0]["field"] == "code"
    done = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": new_code})
    assert done.status_code == 200


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("abcdefghij1", "String should have at least 12 characters"),  # 11: the schema's bound
        ("abcdefghijkl", "Use at least one digit as well as letters."),
        ("123456789012", "Use letters as well as digits."),
        ("            ", "Use letters as well as digits."),
    ],
)
def test_the_password_rule_refuses_and_nothing_changes(
    api: TestClient, db: Session, token: str, password: str, message: str
) -> None:
    secret = api.post(START, json={"token": token}).json()["secret"]
    code = second_factor.code_at(secret, T0)
    refused = api.post(COMPLETE, json={"token": token, "password": password, "code": code})
    assert refused.status_code == 400
    assert refused.json()["detail"] == [{"field": "password", "message": message}]
    phil = member(db)
    assert phil.password_hash is None and phil.enrolment_token_hash is not None
    # The code was not spent by the refused try.
    ok = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": code})
    assert ok.status_code == 200


def test_the_password_rule_itself() -> None:
    for good in ("abcdefghijk1", "Zwölf Zeichen 1", "1" * 11 + "a", "ä" * 127 + "1"):
        passwords.check_password_rule(good)
    bad = [
        "", "abcdefghij1", "abcdefghijkl", "123456789012", "a1" * 65,
        "a1" * 1000, "abcdefghijk\ud8001",
    ]  # fmt: skip
    for password in bad:
        with pytest.raises(InvalidInput) as refused:
            passwords.check_password_rule(password)
        assert refused.value.field == "password"
        assert not password or password not in refused.value.message


def test_a_wrong_code_leaves_enrolment_open(api: TestClient, db: Session, token: str) -> None:
    secret = api.post(START, json={"token": token}).json()["secret"]
    right = second_factor.code_at(secret, T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": wrong})
    assert refused.json()["detail"][0]["field"] == "code"
    assert member(db).enrolled_at is None


def test_completing_before_the_secret_was_shown_is_refused(
    api: TestClient, db: Session, token: str
) -> None:
    refused = api.post(COMPLETE, json={"token": token, "password": NEW_PASSWORD, "code": "123456"})
    assert refused.json()["detail"][0]["field"] == "code"


def test_the_secret_is_sealed_and_bound_to_its_row(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    ann = make_staff(db, settings, keyring, email="ann@shop.example")
    bob = make_staff(db, settings, keyring, email="bob@shop.example")
    ann_row, bob_row = member(db, ann.email), member(db, bob.email)
    assert ann_row.totp_ciphertext is not None
    assert ann.secret.encode() not in ann_row.totp_ciphertext
    assert ann_row.totp_key_id == keyring.active_key_id
    # Copied onto another staff member's row, it does not open.
    bob_row.totp_ciphertext = ann_row.totp_ciphertext
    with pytest.raises(DecryptionFailed):
        second_factor.open_secret(keyring, bob_row)
    assert service.totp_secrets_per_key(db) == {keyring.active_key_id: 2}


def test_adding_refuses_a_taken_address_bad_names_and_no_role(
    db: Session, settings: Settings, token: str
) -> None:
    billing = frozenset({Role.BILLING})
    cases = [
        ("Phil Again", "PHIL@shop.example", billing, "email"),
        ("Nobody", "not an address", billing, "email"),
        ("Nobody", "a@b", billing, "email"),
        ("", "new@shop.example", billing, "name"),
        ("x" * 201, "new@shop.example", billing, "name"),
        ("Null\x00byte", "new@shop.example", billing, "name"),
        ("Nobody", "new@shop.example\u202e", billing, "email"),
        ("Nobody", "new@shop.example", frozenset(), "role"),
    ]
    for name, email, roles, field in cases:
        with pytest.raises(InvalidInput) as refused:
            service.add_staff(db, settings, name, email, roles, T0)
        assert refused.value.field == field, (name, email)
    assert [person.email for person in service.list_staff(db, T0)] == ["Phil@Shop.example"]


def test_a_disabled_members_link_is_refused(api: TestClient, db: Session, token: str) -> None:
    service.disable_staff(db, "phil@shop.example", "changed their mind", T0)
    db.flush()
    assert api.post(START, json={"token": token}).status_code == 400
