"""Fixtures of the staff tests: cheap hashes, the keyring, an enrolled staff member, the
API with helpers to sign in as them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from argon2 import PasswordHasher, Type
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import passwords
from tests.clock import T0
from tests.staff.factories import Staff, make_staff

SIGN_IN = "/api/v1/staff/sign-in"
ME = "/api/v1/staff/me"

# The argon2id cost is the rule's business (test_passwords checks it); everywhere else a
# hash only needs to be one, and ten failed tries stay well under a second.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
REAL_HASHER = passwords._HASHER


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_HASHER", CHEAP_HASHER)
    monkeypatch.setattr(passwords, "DUMMY_HASH", CHEAP_HASHER.hash("thrown away 1"))


@pytest.fixture
def keyring(settings: Settings) -> Keyring:
    """The shop's keyring where the app looks for it (outside the demo it must exist)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Keyring.create(settings.keyring_path, T0)


@pytest.fixture
def bea(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    """An enrolled billing clerk."""
    return make_staff(db, settings, keyring, email="bea@shop.example")


@pytest.fixture
def api(assembled: AssembledApp, keyring: Keyring) -> Iterator[TestClient]:
    with TestClient(assembled, base_url="https://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in_body(staff: Staff, now: datetime, *, steps: int = 0, **changes: str) -> dict[str, str]:
    body = {"email": staff.email, "password": staff.password, "code": staff.code(now, steps)}
    return {**body, **changes}


def signed_in(api: TestClient, staff: Staff, now: datetime, *, steps: int = 0) -> dict[str, str]:
    """Sign in through the API: the bearer header."""
    response = api.post(SIGN_IN, json=sign_in_body(staff, now, steps=steps))
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])
