"""Staff sign-in (P7): a password and a TOTP code every time, a code accepted once, one
answer for every failure, ten failures lock for thirty minutes, 90 days unused disable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import AssembledApp
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import service, signin
from quietshop.staff.errors import SIGN_IN_FAILED, SignInFailed
from quietshop.staff.models import StaffMember
from quietshop.staff.roles import Role
from quietshop.staff.second_factor import TotpCode
from quietshop.staff.sessions import TOKEN_PREFIX
from tests.clock import T0, MovableClock
from tests.staff.conftest import ME, SIGN_IN, bearer, sign_in_body, signed_in
from tests.staff.factories import Staff, audit_entries, make_staff

FAILED = {"error": "sign_in_failed", "detail": SIGN_IN_FAILED}


def test_a_password_and_a_current_code_sign_in(api: TestClient, bea: Staff) -> None:
    response = api.post(SIGN_IN, json=sign_in_body(bea, T0))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["token"].startswith(TOKEN_PREFIX) and len(answer["token"]) == 52
    assert answer["roles"] == ["billing"]
    assert answer["idle_lock_minutes"] == 15
    assert answer["expires_at"] == "2026-11-26T00:00:00Z"
    assert "set-cookie" not in response.headers
    assert api.get(ME, headers=bearer(answer["token"])).status_code == 200


def test_sign_in_without_the_second_factor_fails(api: TestClient, bea: Staff) -> None:
    no_code = {"email": bea.email, "password": bea.password}
    response = api.post(SIGN_IN, json=no_code)
    assert response.status_code == 400
    assert response.json()["detail"] == [{"field": "code", "message": "Field required"}]
    for empty in ("", "      "):
        refused = api.post(SIGN_IN, json={**no_code, "code": empty})
        assert refused.status_code in (400, 401) and "token" not in refused.json()


def test_a_wrong_code_fails_with_the_common_answer(
    api: TestClient, db: Session, bea: Staff
) -> None:
    right = bea.code(T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for code in (wrong, "abcdef", "12345x", "1234567"):
        response = api.post(SIGN_IN, json=sign_in_body(bea, T0, code=code))
        assert (response.status_code, response.json()) == (401, FAILED), code
    reasons = [e.reason for e in audit_entries(db, action="sign_in_failed")]
    assert reasons[0] == "wrong code" and len(reasons) == 4


def test_a_code_is_accepted_once(api: TestClient, db: Session, bea: Staff) -> None:
    first = signed_in(api, bea, T0)
    api.post("/api/v1/staff/sign-out", headers=first)
    replayed = api.post(SIGN_IN, json=sign_in_body(bea, T0))
    assert (replayed.status_code, replayed.json()) == (401, FAILED)
    # An older code than the one used is refused as well, though still in the window.
    older = api.post(SIGN_IN, json=sign_in_body(bea, T0, steps=-1))
    assert older.status_code == 401
    (entry, older_entry) = audit_entries(db, action="sign_in_failed")
    assert entry.reason == older_entry.reason == "replayed code"
    assert entry.staff_id == bea.id and entry.subject == f"staff:{bea.id}"


def test_the_previous_steps_code_is_accepted_once(
    api: TestClient, bea: Staff, clock: MovableClock
) -> None:
    """A code typed at the end of its step arrives in the next: the window is +-1 step."""
    clock.advance(seconds=30)
    assert api.post(SIGN_IN, json=sign_in_body(bea, T0)).status_code == 200
    assert api.post(SIGN_IN, json=sign_in_body(bea, T0)).status_code == 401
    # Two steps old is out of the window, whatever happened before.
    assert api.post(SIGN_IN, json=sign_in_body(bea, T0, steps=-1)).status_code == 401


def test_every_failure_gets_the_same_answer(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, bea: Staff
) -> None:
    """Unknown address, wrong password, disabled, not enrolled: nobody learns who works here."""
    service.add_staff(db, settings, "Nell New", "nell@shop.example", frozenset({Role.ANALYST}), T0)
    dora = make_staff(db, settings, keyring, email="dora@shop.example")
    service.disable_staff(db, dora.email, "left the shop", T0)
    attempts = [
        sign_in_body(bea, T0, email="nobody@shop.example"),
        sign_in_body(bea, T0, password="not the password 1"),
        {"email": "nell@shop.example", "password": "whatever it is 1", "code": "123456"},
        sign_in_body(dora, T0),
    ]
    for body in attempts:
        response = api.post(SIGN_IN, json=body)
        assert (response.status_code, response.json()) == (401, FAILED), body["email"]
        assert response.headers["www-authenticate"] == "Bearer"
    entries = audit_entries(db, action="sign_in_failed")
    assert [(e.staff_id is None, e.reason) for e in entries] == [
        (True, "unknown address"),
        (False, "wrong password"),
        (False, "not enrolled"),
        (False, "account disabled"),
    ]
    # The address typed is never recorded: it may be a customer's, or a password.
    assert all("nobody" not in f"{e.subject} {e.reason}" for e in entries)


def test_ten_failures_lock_the_account_for_thirty_minutes(
    api: TestClient, db: Session, bea: Staff, clock: MovableClock
) -> None:
    for attempt in range(10):
        wrong = sign_in_body(bea, T0, password=f"wrong password {attempt}")
        assert api.post(SIGN_IN, json=wrong).status_code == 401
    # The right password and code now get the common answer too.
    clock.advance(minutes=29, seconds=59)
    locked = api.post(SIGN_IN, json=sign_in_body(bea, clock.now))
    assert (locked.status_code, locked.json()) == (401, FAILED)
    assert audit_entries(db, action="sign_in_failed")[-1].reason == "account locked"
    (lock,) = audit_entries(db, action="account_locked")
    assert lock.staff_id == bea.id and lock.at == T0
    clock.advance(seconds=1)
    assert api.post(SIGN_IN, json=sign_in_body(bea, clock.now, steps=1)).status_code == 200


def test_a_success_resets_the_count(api: TestClient, bea: Staff, clock: MovableClock) -> None:
    for attempt in range(9):
        api.post(SIGN_IN, json=sign_in_body(bea, T0, password=f"wrong password {attempt}"))
    assert api.post(SIGN_IN, json=sign_in_body(bea, T0)).status_code == 200
    clock.advance(seconds=30)
    api.post(SIGN_IN, json=sign_in_body(bea, T0, password="wrong password again"))
    assert api.post(SIGN_IN, json=sign_in_body(bea, clock.now)).status_code == 200


def test_sign_in_and_its_entry_in_the_chain(api: TestClient, db: Session, bea: Staff) -> None:
    signed_in(api, bea, T0)
    (entry,) = audit_entries(db, action="sign_in")
    assert (entry.staff_id, entry.subject, entry.at, entry.origin) == (
        bea.id, f"staff:{bea.id}", T0, "testclient",
    )  # fmt: skip


def test_an_account_unused_for_90_days_is_disabled_at_sign_in(
    api: TestClient, db: Session, bea: Staff, clock: MovableClock
) -> None:
    clock.advance(days=90)
    response = api.post(SIGN_IN, json=sign_in_body(bea, clock.now))
    assert (response.status_code, response.json()) == (401, FAILED)
    member = db.get_one(StaffMember, bea.id)
    db.refresh(member)
    assert (member.disabled_at, member.disabled_reason) == (clock.now, "unused for 90 days")


def test_housekeeping_disables_accounts_unused_for_90_days(
    db: Session, settings: Settings, keyring: Keyring
) -> None:
    old = make_staff(db, settings, keyring, enrolled_at=T0 - timedelta(days=90))
    recent = make_staff(db, settings, keyring, enrolled_at=T0 - timedelta(days=89))
    never = service.add_staff(db, settings, "Nell New", "nell@shop.example",
                              frozenset({Role.ANALYST}), T0 - timedelta(days=91))  # fmt: skip
    assert never.url
    assert service.disable_unused(db, T0) == 2
    assert service.disable_unused(db, T0) == 0  # already disabled
    disabled = [e for e in audit_entries(db, action="staff_change") if "disabled" in e.reason]
    assert [e.reason for e in disabled] == ["disabled: unused for 90 days"] * 2
    statuses = {person.email: person.status for person in service.list_staff(db, T0)}
    assert statuses[old.email] == statuses["nell@shop.example"] == ("disabled (unused for 90 days)")
    assert statuses[recent.email] == "active"


def test_a_disabled_accounts_sessions_end(api: TestClient, db: Session, bea: Staff) -> None:
    headers = signed_in(api, bea, T0)
    service.disable_staff(db, bea.email, "left the shop", T0)
    db.flush()
    response = api.get(ME, headers=headers)
    assert (response.status_code, response.json()["error"]) == (401, "signed_out")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@shop.example", "password": "x", "code": 123456},
        {"email": "a@shop.example", "password": "x", "code": "123456", "extra": 1},
        {"email": "", "password": "x", "code": "123456"},
        {"email": "a@shop.example", "password": "", "code": "123456"},
        {"email": "a@shop.example", "password": "x" * 129, "code": "123456"},
        {"email": "a@shop.example", "password": "x", "code": "1" * 10},
        {"email": ["a"], "password": "x", "code": "123456"},
    ],
)
def test_malformed_sign_ins_are_400(api: TestClient, body: dict[str, object]) -> None:
    response = api.post(SIGN_IN, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_parameter"


def test_not_json_huge_and_empty_bodies_are_refused(api: TestClient) -> None:
    as_json = {"content-type": "application/json"}
    assert api.post(SIGN_IN, content=b"{not json", headers=as_json).status_code == 400
    assert api.post(SIGN_IN, content=b"").status_code == 400
    huge = {"email": "a@shop.example", "password": "p" * 70_000, "code": "1"}
    response = api.post(SIGN_IN, json=huge)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")


def test_sign_in_counts_against_the_address_limit(
    api: TestClient, assembled: AssembledApp, bea: Staff
) -> None:
    assembled.state.limiter.limit = 2
    for _ in range(2):
        api.post(SIGN_IN, json=sign_in_body(bea, T0, password="wrong password 1"))
    refused = api.post(SIGN_IN, json=sign_in_body(bea, T0))
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_the_service_signs_in_any_case_of_the_address_and_refuses_a_replay(
    settings: Settings, keyring: Keyring, sessions: sessionmaker[Session], bea: Staff
) -> None:
    attempt = signin.SignInAttempt(bea.email.upper(), bea.password, TotpCode(bea.code(T0)))
    signed = signin.sign_in(sessions, settings, lambda: keyring, attempt, T0)
    assert signed.roles == frozenset({Role.BILLING})
    with pytest.raises(SignInFailed):
        signin.sign_in(sessions, settings, lambda: keyring, attempt, T0)
