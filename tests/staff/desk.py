"""What the customer-service tests share: staff of any roles signed in through the API
(having acknowledged the current policies), cheap customer hashes, and the need-to-know
matrix to compare real answers with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.accounts import passwords as customer_passwords
from quietshop.keyring import Keyring
from quietshop.models import metadata
from quietshop.settings import Settings
from quietshop.staff import policies
from quietshop.staff.need_to_know import matrix
from quietshop.staff.roles import Role
from tests.clock import T0
from tests.staff.conftest import CHEAP_HASHER, signed_in
from tests.staff.factories import Staff, make_staff

MATRIX = {(role, name): readable for role, name, readable in matrix(metadata)}


def granted(roles: Iterable[Role], table: str, columns: Iterable[str]) -> set[str]:
    """The columns among ``columns`` of ``table`` that any of ``roles`` reads."""
    return {name for name in columns if any(MATRIX[(r, f"{table}.{name}")] for r in roles)}


@dataclass(frozen=True)
class Clerk:
    staff: Staff
    headers: dict[str, str]


@pytest.fixture(autouse=True)
def cheap_customer_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering customers costs an argon2id hash each; here a hash only needs to be one."""
    monkeypatch.setattr(customer_passwords, "_HASHER", CHEAP_HASHER)


@pytest.fixture
def clerk(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring
) -> Callable[..., Clerk]:
    """A staff member of ``roles``, enrolled, signed in at T0, and (unless told otherwise)
    having acknowledged the current policies this quarter."""

    def make(*roles: Role, acknowledged: bool = True) -> Clerk:
        member = make_staff(
            db,
            settings,
            keyring,
            roles=frozenset(roles),
            name="Staff " + " ".join(role.value for role in roles),
            email=f"desk.{uuid.uuid4().hex[:8]}@shop.example",
        )
        if acknowledged:
            for policy in policies.current_policies(db):
                policies.acknowledge(db, member.id, policy.id, T0 - timedelta(minutes=1))
        db.flush()
        return Clerk(member, signed_in(api, member, T0))

    return make
