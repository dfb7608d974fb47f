"""The staff policy API and the public page (P7): the owner publishes, the public privacy
page and its history change at once despite the page cache, every customer and staff
member is told, staff read and acknowledge, pending policies block personal data with
403 ``policies_pending``, and only the owner publishes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.app import AssembledApp
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff.policy_gate import acknowledged_staff_session
from quietshop.staff.roles import Role
from tests.accounts.factories import make_customer
from tests.clock import T0, MovableClock
from tests.staff.conftest import signed_in
from tests.staff.factories import Staff, audit_entries, make_staff
from tests.staff.test_policies import (
    PRIVACY_TEXT,
    SECURITY_TEXT,
    cheap_customer_hashes,
    notices,
    olive,
    outbox,
    policy_count,
)
from tests.test_layering import _query_calls, read_package

__all__ = ["cheap_customer_hashes", "olive"]  # fixtures shared with test_policies

POLICIES = "/api/v1/staff/policies"
PENDING = f"{POLICIES}/pending"
COMPLIANCE = f"{POLICIES}/compliance"


def acknowledge_url(policy_id: int) -> str:
    return f"{POLICIES}/{policy_id}/acknowledge"


def publish_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "security", "title": "Security policy", "body": SECURITY_TEXT}
    return {**body, **changes}


@pytest.fixture
def owner(api: TestClient, olive: Staff) -> dict[str, str]:
    return signed_in(api, olive, T0)


@pytest.fixture
def clerk(api: TestClient, bea: Staff) -> dict[str, str]:
    return signed_in(api, bea, T0)


# ---------------------------------------------------------------- publishing


def test_a_new_privacy_policy_replaces_the_cached_public_page_and_keeps_its_history(
    api: TestClient, assembled: AssembledApp, db: Session, settings: Settings,
    owner: dict[str, str], clock: MovableClock,
) -> None:  # fmt: skip
    make_customer(db, settings, name="Ann", email="ann@example.org")
    db.flush()
    before = api.get("/privacy")
    assert before.status_code == 200 and "Version 1, published" in before.text
    assert assembled.page_cache is not None and "/privacy" in assembled.page_cache
    clock.advance(minutes=10)

    answer = api.post(
        POLICIES,
        headers=owner,
        json=publish_body(kind="privacy", title="Privacy policy, 2027", body=PRIVACY_TEXT,
                          summary="We say more plainly what the logs keep."),
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    published = answer.json()
    assert published["policy"] == {
        "id": published["policy"]["id"], "kind": "privacy", "version": 2,
        "title": "Privacy policy, 2027", "body": PRIVACY_TEXT,
        "published_at": "2026-11-25T12:10:00Z",
    }  # fmt: skip
    assert (published["staff_reminded"], published["customers_to_notify"]) == (1, True)

    page = api.get("/privacy")
    assert page.status_code == 200
    assert "<h1>Privacy policy, 2027</h1>" in page.text
    assert "Version 2, published 25 November 2026." in page.text
    assert "We keep quiet about you." in page.text
    assert "Earlier versions" in page.text
    assert '<a href="/privacy/versions/1">Version 1</a>' in page.text
    assert '<a href="/privacy/versions/2">Version 2</a>' in page.text
    old = api.get("/privacy/versions/1")
    assert "Version 1, published" in old.text and "We keep quiet about you." not in old.text
    # The notices were queued after the answer, in batches of their own.
    assert notices(db) == [("ann@example.org", "policy:privacy:2")]


def test_a_staff_only_policy_leaves_the_public_page_and_customers_alone(
    api: TestClient, db: Session, settings: Settings, owner: dict[str, str]
) -> None:
    make_customer(db, settings, name="Ann", email="ann@example.org")
    db.flush()
    answer = api.post(POLICIES, headers=owner, json=publish_body())
    assert answer.status_code == 201
    assert answer.json()["customers_to_notify"] is False
    assert "Version 1, published" in api.get("/privacy").text
    assert notices(db) == []
    (reminder,) = [m for m in outbox(db, "account") if m.reference and "policy" in m.reference]
    assert reminder.subject == "A new policy to read and acknowledge"


def test_only_the_owner_publishes(
    api: TestClient, db: Session, bea: Staff, clerk: dict[str, str]
) -> None:
    refused = api.post(POLICIES, headers=clerk, json=publish_body())
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert policy_count(db) == 1
    (denied,) = audit_entries(db, action="denied")
    assert denied.staff_id == bea.id
    assert denied.reason == f"POST {POLICIES} needs owner; holds billing"
    assert api.post(POLICIES, json=publish_body()).status_code == 401  # no token


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("kind", {"kind": "Bad Kind"}),
        ("kind", {"kind": ""}),
        ("kind", {"kind": "k" * 41}),
        ("title", {"title": ""}),
        ("title", {"title": "t" * 201}),
        ("title", {"title": "tab\there"}),
        ("body", {"body": ""}),
        ("body", {"body": "b" * 100_001}),
        ("body", {"body": "bell \x07"}),
        ("body", {"body": 42}),  # a number is not a text
        ("summary", {"kind": "privacy"}),  # what changed must be said to customers
        ("surprise", {"surprise": "unknown fields are refused"}),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: TestClient, db: Session, owner: dict[str, str], field: str, changes: dict[str, Any]
) -> None:
    refused = api.post(POLICIES, headers=owner, json=publish_body(**changes))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_parameter"
    assert [problem["field"] for problem in refused.json()["detail"]] == [field]
    assert policy_count(db) == 1


def test_a_policy_of_100000_characters_fits_the_body_limit(
    api: TestClient, owner: dict[str, str]
) -> None:
    text = "\u00e9" * 100_000  # two bytes each in UTF-8
    answer = api.post(POLICIES, headers=owner, json=publish_body(body=text))
    assert answer.status_code == 201, answer.text[:200]
    assert len(answer.json()["policy"]["body"]) == 100_000
    too_big = api.post(POLICIES, headers=owner, content=b'{"body": "' + b"x" * 600_000 + b'"}')
    assert too_big.status_code == 413


# ---------------------------------------------------------------- reading and acknowledging


def test_staff_read_what_is_pending_and_acknowledge_it(
    api: TestClient, db: Session, owner: dict[str, str], bea: Staff, clerk: dict[str, str]
) -> None:
    security = api.post(POLICIES, headers=owner, json=publish_body()).json()["policy"]
    pending = api.get(PENDING, headers=clerk).json()
    assert [(p["kind"], p["version"]) for p in pending["pending"]] == [
        ("privacy", 1), ("security", 1),
    ]  # fmt: skip
    assert pending["pending"][1]["body"] == SECURITY_TEXT
    assert (pending["quarter"], pending["lapses_at"]) == ("2026Q4", "2027-01-01T00:00:00Z")

    for policy in pending["pending"]:
        done = api.post(acknowledge_url(policy["id"]), headers=clerk)
        assert done.status_code == 200
        assert done.json() == {
            "policy_id": policy["id"], "kind": policy["kind"], "version": policy["version"],
            "acknowledged_at": "2026-11-25T12:00:00Z", "lapses_at": "2027-01-01T00:00:00Z",
        }  # fmt: skip
    assert api.get(PENDING, headers=clerk).json()["pending"] == []
    entries = audit_entries(db, action="policy_acknowledge")
    assert [(e.staff_id, e.subject) for e in entries] == [
        (bea.id, f"policy:{pending['pending'][0]['id']}"), (bea.id, f"policy:{security['id']}"),
    ]  # fmt: skip


def test_an_old_version_or_no_version_cannot_be_acknowledged(
    api: TestClient, owner: dict[str, str], clerk: dict[str, str]
) -> None:
    old = api.post(POLICIES, headers=owner, json=publish_body()).json()["policy"]
    api.post(POLICIES, headers=owner, json=publish_body(body="Version two."))
    refused = api.post(acknowledge_url(old["id"]), headers=clerk)
    assert refused.status_code == 409 and refused.json()["error"] == "policy_superseded"
    assert api.post(acknowledge_url(999_999), headers=clerk).status_code == 404
    for bad in ("0", "-1", "abc", str(2**40)):
        assert api.post(f"{POLICIES}/{bad}/acknowledge", headers=clerk).status_code == 400, bad


def test_the_current_versions_come_with_their_history(
    api: TestClient, owner: dict[str, str], clerk: dict[str, str]
) -> None:
    api.post(POLICIES, headers=owner, json=publish_body())
    api.post(POLICIES, headers=owner, json=publish_body(title="Security, revised", body="Two."))
    answer = api.get(POLICIES, headers=clerk).json()["policies"]
    assert [(k["kind"], k["current"]["version"]) for k in answer] == [
        ("privacy", 1), ("security", 2),
    ]  # fmt: skip
    assert answer[1]["current"]["body"] == "Two."
    assert [(h["version"], h["title"]) for h in answer[1]["history"]] == [
        (2, "Security, revised"), (1, "Security policy"),
    ]  # fmt: skip
    assert "body" not in answer[1]["history"][0]


# ---------------------------------------------------------------- refusing personal data


@pytest.fixture
def personal_route(assembled: AssembledApp) -> Iterator[str]:
    """A route that answers with personal data, as the lead's staff routes will."""
    path = "/api/v1/staff/test-personal-data"

    @assembled.fastapi.get(path)
    def route(request: Request) -> dict[str, str]:
        with acknowledged_staff_session(request) as (_, staff):
            return {"customer": "Ann Example", "for": staff.name}

    yield path


def test_pending_policies_block_personal_data_until_acknowledged(
    api: TestClient, db: Session, bea: Staff, clerk: dict[str, str], personal_route: str,
    clock: MovableClock,
) -> None:  # fmt: skip
    refused = api.get(personal_route, headers=clerk)
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "policies_pending"
    (privacy,) = body["pending"]
    assert (privacy["kind"], privacy["version"]) == ("privacy", 1)
    assert privacy["title"] == "Privacy policy"
    assert "Ann Example" not in refused.text
    (denied,) = audit_entries(db, action="denied")
    assert (denied.staff_id, denied.reason) == (
        bea.id, f"GET {personal_route}: policies not acknowledged (privacy v1)",
    )  # fmt: skip

    api.post(acknowledge_url(privacy["id"]), headers=clerk)
    assert api.get(personal_route, headers=clerk).json() == {
        "customer": "Ann Example", "for": "Bea Ledger",
    }  # fmt: skip
    # A new quarter: the acknowledgement has lapsed, and the door closes again.
    clock.now = T0.replace(month=12, day=31, hour=23, minute=59, second=59)
    headers = signed_in(api, bea, clock.now)
    assert api.get(personal_route, headers=headers).status_code == 200
    clock.advance(seconds=1)
    assert api.get(personal_route, headers=headers).json()["error"] == "policies_pending"


# ---------------------------------------------------------------- compliance


def test_the_owner_and_the_privacy_officer_see_who_acknowledged_what(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, olive: Staff,
    owner: dict[str, str], bea: Staff, clerk: dict[str, str], clock: MovableClock,
) -> None:  # fmt: skip
    security = api.post(POLICIES, headers=owner, json=publish_body()).json()["policy"]
    clock.advance(minutes=5)
    api.post(acknowledge_url(security["id"]), headers=clerk)
    answer = api.get(COMPLIANCE, headers=owner)
    assert answer.status_code == 200
    assert answer.json() == {
        "quarter": "2026Q4",
        "quarter_started_at": "2026-10-01T00:00:00Z",
        "staff": [
            {"staff_id": bea.id, "name": "Bea Ledger", "roles": ["billing"], "compliant": False,
             "policies": [
                 {"kind": "privacy", "current_version": 1, "acknowledged_version": None,
                  "acknowledged_at": None, "valid": False},
                 {"kind": "security", "current_version": 1, "acknowledged_version": 1,
                  "acknowledged_at": "2026-11-25T12:05:00Z", "valid": True},
             ]},
            {"staff_id": olive.id, "name": "Olive Owner", "roles": ["owner"], "compliant": False,
             "policies": [
                 {"kind": "privacy", "current_version": 1, "acknowledged_version": None,
                  "acknowledged_at": None, "valid": False},
                 {"kind": "security", "current_version": 1, "acknowledged_version": None,
                  "acknowledged_at": None, "valid": False},
             ]},
        ],
    }  # fmt: skip
    officer = make_staff(
        db, settings, keyring, roles=frozenset({Role.PRIVACY_OFFICER}), name="Pia Officer"
    )
    assert api.get(COMPLIANCE, headers=signed_in(api, officer, clock.now)).status_code == 200
    refused = api.get(COMPLIANCE, headers=clerk)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


def test_the_policy_routes_build_no_query() -> None:
    """tests/test_layering.py checks modules named api.py; this one is named for its part."""
    (module,) = [m for m in read_package() if m.name == "quietshop.staff.policy_api"]
    assert list(_query_calls(module)) == []
