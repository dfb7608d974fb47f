"""Staff sessions (P7): the idle lock after 15 minutes, unlocking with the password only,
the end after 12 hours, sign-out, and tokens of one kind refused where the other belongs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff.auth import staff_session
from quietshop.staff.roles import Role
from quietshop.staff.sessions import TOKEN_PREFIX
from tests.accounts.factories import make_customer, token_for
from tests.clock import T0, MovableClock
from tests.staff.conftest import ME, SIGN_IN, bearer, sign_in_body, signed_in
from tests.staff.factories import Staff, audit_entries, make_staff

LOCK = "/api/v1/staff/lock"
UNLOCK = "/api/v1/staff/unlock"
SIGN_OUT = "/api/v1/staff/sign-out"


def error_of(response: Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def test_me_names_the_person_and_their_roles_and_nothing_secret(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring
) -> None:
    roles = frozenset({Role.OWNER, Role.PRIVACY_OFFICER})
    olive = make_staff(db, settings, keyring, roles=roles, name="Olive Owner")
    answer = api.get(ME, headers=signed_in(api, olive, T0))
    assert answer.status_code == 200
    assert answer.json() == {
        "name": "Olive Owner", "email": olive.email, "roles": ["owner", "privacy_officer"],
        "idle_lock_minutes": 15, "expires_at": "2026-11-26T00:00:00Z",
    }  # fmt: skip
    assert answer.headers["cache-control"] == "no-store"


def test_idle_for_15_minutes_locks_the_session(
    api: TestClient, db: Session, bea: Staff, clock: MovableClock
) -> None:
    headers = signed_in(api, bea, T0)
    clock.advance(minutes=14, seconds=59)
    assert api.get(ME, headers=headers).status_code == 200  # a request: counted from now
    clock.advance(minutes=15)
    assert error_of(api.get(ME, headers=headers)) == (401, "locked")
    assert error_of(api.get(ME, headers=headers)) == (401, "locked")
    assert error_of(api.post(LOCK, headers=headers)) == (401, "locked")
    (lock,) = audit_entries(db, action="lock")  # written once, by the request that found it
    assert (lock.staff_id, lock.reason, lock.at) == (bea.id, "idle for 15 minutes", clock.now)
    assert lock.origin == "testclient"


def test_a_shorter_idle_limit_is_kept(
    assembled: AssembledApp, api: TestClient, bea: Staff, clock: MovableClock
) -> None:
    headers = signed_in(api, bea, T0)
    assembled.state.settings.__dict__["staff_idle_lock_minutes"] = 5  # frozen: as loaded
    clock.advance(minutes=5)
    assert error_of(api.get(ME, headers=headers)) == (401, "locked")


def test_unlock_with_a_wrong_then_the_right_password(
    api: TestClient, db: Session, bea: Staff, clock: MovableClock
) -> None:
    headers = signed_in(api, bea, T0)
    clock.advance(minutes=20)
    assert error_of(api.get(ME, headers=headers)) == (401, "locked")
    wrong = api.post(UNLOCK, json={"password": "not my password 1"}, headers=headers)
    assert error_of(wrong) == (401, "unlock_failed")
    assert error_of(api.get(ME, headers=headers)) == (401, "locked")
    right = api.post(UNLOCK, json={"password": bea.password}, headers=headers)
    assert right.status_code == 204, right.text
    assert api.get(ME, headers=headers).status_code == 200
    actions = [(e.action, e.reason) for e in audit_entries(db, staff_id=bea.id)]
    assert actions[-3:] == [
        ("lock", "idle for 15 minutes"),
        ("unlock_failed", "wrong password"),
        ("unlock", ""),
    ]


def test_unlock_needs_no_code_and_an_idle_session_found_by_it_is_locked_first(
    api: TestClient, db: Session, bea: Staff, clock: MovableClock
) -> None:
    headers = signed_in(api, bea, T0)
    clock.advance(minutes=16)
    assert api.post(UNLOCK, json={"password": bea.password}, headers=headers).status_code == 204
    assert [e.action for e in audit_entries(db, staff_id=bea.id)][-2:] == ["lock", "unlock"]


def test_lock_now_then_unlock(api: TestClient, db: Session, bea: Staff) -> None:
    headers = signed_in(api, bea, T0)
    assert api.post(LOCK, headers=headers).status_code == 204
    assert error_of(api.get(ME, headers=headers)) == (401, "locked")
    assert api.post(UNLOCK, json={"password": bea.password}, headers=headers).status_code == 204
    (lock,) = audit_entries(db, action="lock")
    assert lock.reason == "locked by the staff member"


def test_ten_wrong_unlocks_lock_the_account(
    api: TestClient, db: Session, bea: Staff, clock: MovableClock
) -> None:
    headers = signed_in(api, bea, T0)
    api.post(LOCK, headers=headers)
    for attempt in range(9):
        wrong = api.post(UNLOCK, json={"password": f"wrong {attempt} again"}, headers=headers)
        assert error_of(wrong) == (401, "unlock_failed")
    tenth = api.post(UNLOCK, json={"password": "wrong 9 again"}, headers=headers)
    assert error_of(tenth) == (401, "account_locked")
    assert "12:30 UTC" in tenth.json()["detail"]
    right = api.post(UNLOCK, json={"password": bea.password}, headers=headers)
    assert error_of(right) == (401, "account_locked")  # the right one waits as well
    assert api.post(SIGN_IN, json=sign_in_body(bea, T0, steps=1)).status_code == 401
    assert len(audit_entries(db, action="account_locked")) == 1
    clock.advance(minutes=30)
    assert api.post(UNLOCK, json={"password": bea.password}, headers=headers).status_code == 204


def test_a_session_ends_12_hours_after_sign_in(
    api: TestClient, bea: Staff, clock: MovableClock
) -> None:
    headers = signed_in(api, bea, T0)
    end = T0 + timedelta(hours=12)
    while clock.now + timedelta(minutes=14) < end:  # busy all day: never idle for long
        clock.advance(minutes=14)
        assert api.get(ME, headers=headers).status_code == 200
    clock.now = end
    assert error_of(api.get(ME, headers=headers)) == (401, "signed_out")
    unlock = api.post(UNLOCK, json={"password": bea.password}, headers=headers)
    assert error_of(unlock) == (401, "signed_out")


def test_sign_out_ends_the_session_even_when_locked(
    api: TestClient, db: Session, bea: Staff
) -> None:
    headers = signed_in(api, bea, T0)
    api.post(LOCK, headers=headers)
    assert api.post(SIGN_OUT, headers=headers).status_code == 204
    assert error_of(api.get(ME, headers=headers)) == (401, "signed_out")
    assert api.post(SIGN_OUT, headers=headers).status_code == 204  # ended already
    assert len(audit_entries(db, action="sign_out")) == 1
    assert error_of(api.post(SIGN_OUT)) == (401, "unauthorized")
    forged = bearer(TOKEN_PREFIX + secrets.token_urlsafe(32))
    assert error_of(api.post(SIGN_OUT, headers=forged)) == (401, "unauthorized")


def test_a_customer_token_is_refused_on_staff_routes_and_a_staff_token_on_customer_routes(
    api: TestClient, db: Session, settings: Settings, bea: Staff
) -> None:
    customer = make_customer(db, settings)
    customer_headers = bearer(token_for(db, settings, customer))
    assert api.get("/api/v1/account", headers=customer_headers).status_code == 200
    staff_headers = signed_in(api, bea, T0)
    assert error_of(api.get(ME, headers=customer_headers)) == (401, "unauthorized")
    assert error_of(api.post(LOCK, headers=customer_headers)) == (401, "unauthorized")
    unlock = api.post(UNLOCK, json={"password": "x"}, headers=customer_headers)
    assert error_of(unlock) == (401, "unauthorized")
    assert error_of(api.get("/api/v1/account", headers=staff_headers)) == (401, "unauthorized")
    assert api.get(ME, headers=staff_headers).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        f"Bearer {TOKEN_PREFIX}",
        f"Bearer {TOKEN_PREFIX}{'A' * 43}",
        f"Bearer {TOKEN_PREFIX}{'A' * 200}",
        f"Bearer {TOKEN_PREFIX}é{'A' * 42}",
        "Bearer ' OR 1=1 --",
    ],
)
def test_forged_tokens_are_refused(api: TestClient, header: str) -> None:
    sent = {"Authorization": header.encode()} if header else {}
    response = api.get(ME, headers=sent)  # type: ignore[arg-type]
    assert error_of(response) == (401, "unauthorized")


def test_each_token_is_its_own_staff_members(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, bea: Staff
) -> None:
    cass = make_staff(db, settings, keyring, roles=frozenset({Role.CUSTOMER_SERVICE}),
                      name="Cass Service", password="cass own secret 7")  # fmt: skip
    bea_headers, cass_headers = signed_in(api, bea, T0), signed_in(api, cass, T0)
    assert api.get(ME, headers=bea_headers).json()["name"] == "Bea Ledger"
    assert api.get(ME, headers=cass_headers).json()["name"] == "Cass Service"
    api.post(LOCK, headers=cass_headers)
    assert api.get(ME, headers=bea_headers).status_code == 200  # one lock is one session's
    # Bea's password does not open Cass's session.
    opened = api.post(UNLOCK, json={"password": bea.password}, headers=cass_headers)
    assert error_of(opened) == (401, "unlock_failed")


def test_a_second_sign_in_is_a_session_of_its_own(
    api: TestClient, bea: Staff, clock: MovableClock
) -> None:
    first = signed_in(api, bea, T0)
    clock.advance(seconds=30)
    second = signed_in(api, bea, clock.now)
    api.post(LOCK, headers=first)
    assert api.get(ME, headers=second).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"password": ""}, {"password": 12}, {"password": "x" * 129}, {"password": "x", "a": 1}],
)
def test_malformed_unlocks_are_400(api: TestClient, bea: Staff, body: dict[str, object]) -> None:
    headers = signed_in(api, bea, T0)
    assert error_of(api.post(UNLOCK, json=body, headers=headers)) == (400, "invalid_parameter")


def test_staff_routes_refuse_the_anonymous_before_reading_the_body(api: TestClient) -> None:
    for path in (UNLOCK, LOCK, SIGN_OUT):
        assert error_of(api.post(path, content=b"{broken")) == (401, "unauthorized")
    assert error_of(api.get(ME)) == (401, "unauthorized")


def test_the_settings_refuse_an_idle_lock_over_15_minutes() -> None:
    assert Settings(staff_idle_lock_minutes=15).staff_idle_lock_minutes == 15
    for minutes in (15.01, 16, 60):
        with pytest.raises(ValidationError, match="staff_idle_lock_minutes"):
            Settings(staff_idle_lock_minutes=minutes)
    with pytest.raises(ValidationError, match="staff_session_hours"):
        Settings(staff_session_hours=13)


def test_the_environment_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from quietshop.settings import load_settings

    monkeypatch.setenv("QUIETSHOP_STAFF_IDLE_LOCK_MINUTES", "30")
    with pytest.raises(ValidationError, match="less than or equal to 15"):
        load_settings()


# ---------------------------------------------------------------- need: the role door


@pytest.fixture
def owners_only(assembled: AssembledApp) -> Iterator[str]:
    """A route only owners may use, as other domains' staff routes will be."""
    path = "/api/v1/staff/test-owners-only"

    @assembled.fastapi.get(path)
    def route(request: Request) -> dict[str, str]:
        with staff_session(request, need={Role.OWNER}) as (_, staff):
            return {"name": staff.name}

    yield path


def test_a_role_that_is_not_needed_is_refused_and_recorded(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, bea: Staff,
    owners_only: str,
) -> None:  # fmt: skip
    olive = make_staff(db, settings, keyring, roles=frozenset({Role.OWNER}), name="Olive")
    assert api.get(owners_only, headers=signed_in(api, olive, T0)).json() == {"name": "Olive"}
    refused = api.get(owners_only, headers=signed_in(api, bea, T0))
    assert error_of(refused) == (403, "forbidden")
    (denied,) = audit_entries(db, action="denied")
    assert denied.staff_id == bea.id
    assert denied.reason == f"GET {owners_only} needs owner; holds billing"
