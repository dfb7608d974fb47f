"""The owner's staff screens through the API (issue 9 items 1 and 7): the staff list,
adding someone (the enrolment link answered once), roles, disabling and enabling, the
last-owner guard, the access review and its six-monthly due date, and every route refused
to anyone but the owner with 403 and an audit entry."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import owner as owner_rules
from quietshop.staff import service
from quietshop.staff.models import StaffAccessReview, StaffMember
from quietshop.staff.roles import Role
from quietshop.staff.sessions import SignedInStaff
from tests.clock import T0, MovableClock
from tests.staff.conftest import ME, bearer, signed_in
from tests.staff.factories import Staff, audit_entries, enrolment_token, make_staff

MEMBERS = "/api/v1/staff/members"
REVIEW = "/api/v1/staff/access-review"
ENROLMENT = "/api/v1/staff/enrolment"


def roles_url(staff_id: int) -> str:
    return f"{MEMBERS}/{staff_id}/roles"


def disable_url(staff_id: int) -> str:
    return f"{MEMBERS}/{staff_id}/disable"


def enable_url(staff_id: int) -> str:
    return f"{MEMBERS}/{staff_id}/enable"


@pytest.fixture
def olive(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    """The shop's owner."""
    return make_staff(
        db, settings, keyring, roles=frozenset({Role.OWNER}), name="Olive Owner",
        email="olive@shop.example",
    )  # fmt: skip


@pytest.fixture
def owner(api: TestClient, olive: Staff) -> dict[str, str]:
    return signed_in(api, olive, T0)


def member(api: TestClient, headers: dict[str, str], staff_id: int) -> dict[str, object]:
    listed = api.get(MEMBERS, headers=headers)
    assert listed.status_code == 200, listed.text
    (found,) = [person for person in listed.json()["staff"] if person["id"] == staff_id]
    return dict(found)


# ---------------------------------------------------------------- the list and adding


def test_the_list_shows_each_member_with_roles_last_activity_and_status_and_no_secret(
    api: TestClient, owner: dict[str, str], olive: Staff, bea: Staff
) -> None:
    answer = api.get(MEMBERS, headers=owner)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "staff": [
            {"id": bea.id, "name": "Bea Ledger", "email": "bea@shop.example",
             "roles": ["billing"], "last_active_at": "2026-11-25T11:55:00Z", "status": "active"},
            {"id": olive.id, "name": "Olive Owner", "email": "olive@shop.example",
             "roles": ["owner"], "last_active_at": "2026-11-25T12:00:00Z", "status": "active"},
        ]
    }  # fmt: skip


def test_adding_answers_the_enrolment_link_once_and_the_link_enrols(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff
) -> None:
    # Given the owner adds a fulfilment clerk
    added = api.post(
        MEMBERS,
        headers=owner,
        json={"name": " Phil  Parcel ", "email": "phil@shop.example", "roles": ["fulfilment"]},
    )
    # Then the answer holds the one-time link, and the new member as the list shows them
    assert added.status_code == 201, added.text
    body = added.json()
    token = enrolment_token(body["enrolment_url"])
    assert body["enrolment_url"] == f"https://shop.test/staff/enrol#token={token}"
    assert body["enrolment_expires_at"] == "2026-11-28T12:00:00Z"  # 72 hours
    assert body["member"] == {
        "id": body["member"]["id"], "name": "Phil Parcel", "email": "phil@shop.example",
        "roles": ["fulfilment"], "last_active_at": None, "status": "not enrolled yet",
    }  # fmt: skip
    # And it is never shown again: not in the list, and only its hash is kept
    listed = api.get(MEMBERS, headers=owner).text
    assert token not in listed
    row = db.execute(select(StaffMember).where(StaffMember.email == "phil@shop.example"))
    assert token not in str(row.scalar_one().enrolment_token_hash)
    # And the change names the owner, the role they acted in, and no link
    (entry,) = audit_entries(db, action="staff_change", subject=f"staff:{body['member']['id']}")
    assert (entry.staff_id, entry.role, entry.reason) == (
        olive.id,
        "owner",
        "added with the roles fulfilment",
    )
    assert token not in entry.reason
    # And the link works, once
    started = api.post(ENROLMENT, json={"token": token})
    assert started.status_code == 200 and started.json()["email"] == "phil@shop.example"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "email": "x@shop.example", "roles": ["billing"]}, "name"),
        ({"name": "N" * 201, "email": "x@shop.example", "roles": ["billing"]}, "name"),
        ({"name": "Nell\x00", "email": "x@shop.example", "roles": ["billing"]}, "name"),
        ({"name": "Nell", "email": "not-an-address", "roles": ["billing"]}, "email"),
        ({"name": "Nell", "email": "x@shop.example", "roles": []}, "roles"),
        ({"name": "Nell", "email": "x@shop.example", "roles": ["boss"]}, "0"),
        ({"name": "Nell", "email": "x@shop.example", "roles": "owner"}, "roles"),
        ({"name": "Nell", "email": "x@shop.example", "roles": ["billing"], "admin": True}, "admin"),
    ],
)
def test_adding_refuses_bad_input_naming_the_field_and_adds_nobody(
    api: TestClient, db: Session, owner: dict[str, str], body: dict[str, object], field: str
) -> None:
    answer = api.post(MEMBERS, headers=owner, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_parameter"
    assert [problem["field"] for problem in answer.json()["detail"]] == [field]
    assert len(api.get(MEMBERS, headers=owner).json()["staff"]) == 1


def test_adding_an_address_in_use_is_refused(
    api: TestClient, owner: dict[str, str], bea: Staff
) -> None:
    answer = api.post(
        MEMBERS,
        headers=owner,
        json={"name": "Bea", "email": "BEA@shop.example", "roles": ["owner"]},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == [
        {"field": "email", "message": "A staff member already uses this address."}
    ]


# ---------------------------------------------------------------- roles, disable, enable


def test_changing_roles_acts_at_once_and_names_what_changed(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, bea: Staff
) -> None:
    clerk = signed_in(api, bea, T0)
    assert api.get(MEMBERS, headers=clerk).status_code == 403
    changed = api.put(roles_url(bea.id), headers=owner, json={"roles": ["owner", "billing"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["billing", "owner"]
    # Bea's live session acts under the new roles at once
    assert api.get(MEMBERS, headers=clerk).status_code == 200
    (entry,) = audit_entries(
        db, action="staff_change", subject=f"staff:{bea.id}", staff_id=olive.id
    )
    assert entry.reason == "roles set to billing, owner (were billing)"
    assert entry.role == "owner"


def test_setting_the_same_roles_records_nothing(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, bea: Staff
) -> None:
    same = api.put(roles_url(bea.id), headers=owner, json={"roles": ["billing"]})
    assert same.status_code == 200 and same.json()["roles"] == ["billing"]
    assert audit_entries(db, action="staff_change", staff_id=olive.id) == []


def test_disabling_ends_the_sessions_and_enabling_lets_the_person_sign_in_again(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, bea: Staff,
    clock: MovableClock,
) -> None:  # fmt: skip
    clerk = signed_in(api, bea, T0)
    disabled = api.post(disable_url(bea.id), headers=owner, json={"reason": "left  the shop"})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "disabled (left the shop)"
    assert api.get(ME, headers=clerk).json()["error"] == "signed_out"
    clock.advance(60)
    enabled = api.post(enable_url(bea.id), headers=owner)
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert api.get(ME, headers=clerk).json()["error"] == "signed_out"  # ended stays ended
    assert api.get(ME, headers=signed_in(api, bea, clock.now)).status_code == 200
    reasons = [e.reason for e in audit_entries(db, action="staff_change", staff_id=olive.id)]
    assert reasons == ["disabled: left the shop", "enabled (had been disabled: left the shop)"]


def test_disabling_or_enabling_twice_changes_nothing_more(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, bea: Staff
) -> None:
    for _ in range(2):
        assert api.post(disable_url(bea.id), headers=owner, json={}).status_code == 200
    for _ in range(2):
        assert api.post(enable_url(bea.id), headers=owner).status_code == 200
    reasons = [e.reason for e in audit_entries(db, action="staff_change", staff_id=olive.id)]
    assert reasons == [
        "disabled: disabled by the owner",
        "enabled (had been disabled: disabled by the owner)",
    ]


def test_enabling_an_account_disabled_for_disuse_gives_it_ninety_days_afresh(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, clock: MovableClock
) -> None:
    # Given an owner and a clerk whose last use was 91 days ago, disabled for it
    later = T0 + timedelta(days=91)
    boss = make_staff(db, settings, keyring, roles=frozenset({Role.OWNER}), name="Boss",
                      email="boss@shop.example",
                      enrolled_at=later - timedelta(minutes=5))  # fmt: skip
    idle = make_staff(db, settings, keyring, email="idle@shop.example")
    clock.now = later
    headers = signed_in(api, boss, later)
    refused = api.post("/api/v1/staff/sign-in", json={
        "email": idle.email, "password": idle.password, "code": idle.code(later)})  # fmt: skip
    assert refused.status_code == 401
    assert member(api, headers, idle.id)["status"] == "disabled (unused for 90 days)"
    # When the owner enables it, the person signs in (it is not found unused at once)
    assert api.post(enable_url(idle.id), headers=headers).status_code == 200
    assert api.get(ME, headers=signed_in(api, idle, later, steps=1)).status_code == 200


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (roles_url(999_999), {"roles": ["billing"]}),
        (disable_url(999_999), {}),
        (enable_url(999_999), None),
    ],
)
def test_an_unknown_member_is_not_found(
    api: TestClient, owner: dict[str, str], url: str, body: dict[str, object] | None
) -> None:
    method = api.put if url.endswith("/roles") else api.post
    answer = method(url, headers=owner, json=body)
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (f"{MEMBERS}/0/roles", {"roles": ["billing"]}, "staff_id"),
        (f"{MEMBERS}/{2**31}/roles", {"roles": ["billing"]}, "staff_id"),
        (f"{MEMBERS}/abc/roles", {"roles": ["billing"]}, "staff_id"),
        ("ROLES", {"roles": ["owner", "owner", "owner", "owner", "owner", "owner", "owner",
                             "owner", "owner"]}, "roles"),
        ("DISABLE", {"reason": "r" * 201}, "reason"),
        ("DISABLE", {"reason": "left\u202eevil"}, "reason"),
        ("DISABLE", {"reason": 7}, "reason"),
    ],
)  # fmt: skip
def test_malformed_changes_are_400_and_change_nothing(
    api: TestClient, db: Session, owner: dict[str, str], bea: Staff,
    url: str, body: dict[str, object], field: str,
) -> None:  # fmt: skip
    url = {"ROLES": roles_url(bea.id), "DISABLE": disable_url(bea.id)}.get(url, url)
    method = api.put if url.endswith("/roles") else api.post
    answer = method(url, headers=owner, json=body)
    assert answer.status_code == 400, answer.text
    assert [problem["field"] for problem in answer.json()["detail"]] == [field]
    assert member(api, owner, bea.id)["status"] == "active"
    assert audit_entries(db, action="staff_change", subject=f"staff:{bea.id}")[1:] == []


# ---------------------------------------------------------------- the last owner


def test_the_only_active_owner_cannot_drop_their_owner_role_or_disable_themselves(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff
) -> None:
    dropped = api.put(roles_url(olive.id), headers=owner, json={"roles": ["billing"]})
    assert dropped.status_code == 409, dropped.text
    assert dropped.json()["error"] == "last_owner"
    gone = api.post(disable_url(olive.id), headers=owner, json={"reason": "holiday"})
    assert gone.status_code == 409 and gone.json()["error"] == "last_owner"
    assert member(api, owner, olive.id)["roles"] == ["owner"]
    assert member(api, owner, olive.id)["status"] == "active"
    assert audit_entries(db, action="staff_change", staff_id=olive.id) == []
    # Adding roles beside owner is fine
    both = api.put(roles_url(olive.id), headers=owner, json={"roles": ["owner", "billing"]})
    assert both.status_code == 200


def test_an_owner_not_yet_enrolled_does_not_count(
    api: TestClient, owner: dict[str, str], olive: Staff
) -> None:
    added = api.post(
        MEMBERS,
        headers=owner,
        json={"name": "Oscar", "email": "o@shop.example", "roles": ["owner"]},
    )
    assert added.status_code == 201
    refused = api.post(disable_url(olive.id), headers=owner, json={})
    assert refused.status_code == 409 and refused.json()["error"] == "last_owner"


def test_with_a_second_active_owner_the_first_may_step_down(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring,
    owner: dict[str, str], olive: Staff,
) -> None:  # fmt: skip
    second = make_staff(db, settings, keyring, roles=frozenset({Role.OWNER}), name="Otto",
                        email="otto@shop.example")  # fmt: skip
    dropped = api.put(roles_url(olive.id), headers=owner, json={"roles": ["billing"]})
    assert dropped.status_code == 200 and dropped.json()["roles"] == ["billing"]
    # Olive acts as billing now: the staff screens are closed to her
    assert api.get(MEMBERS, headers=owner).status_code == 403
    otto = signed_in(api, second, T0)
    assert api.post(disable_url(second.id), headers=otto, json={}).json()["error"] == "last_owner"


# ---------------------------------------------------------------- only the owner


OWNER_ROUTES = [
    ("GET", MEMBERS, None),
    ("POST", MEMBERS, {"name": "Nell", "email": "nell@shop.example", "roles": ["owner"]}),
    ("PUT", f"{MEMBERS}/1/roles", {"roles": ["owner"]}),
    ("POST", f"{MEMBERS}/1/disable", {}),
    ("POST", f"{MEMBERS}/1/enable", None),
    ("GET", REVIEW, None),
    ("POST", REVIEW, {"note": "all fine"}),
]


@pytest.mark.parametrize(("method", "url", "body"), OWNER_ROUTES)
def test_anyone_but_the_owner_is_refused_with_403_and_an_audit_entry(
    api: TestClient, db: Session, bea: Staff, olive: Staff,
    method: str, url: str, body: dict[str, object] | None,
) -> None:  # fmt: skip
    clerk = signed_in(api, bea, T0)
    answer = api.request(method, url, headers=clerk, json=body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "forbidden"
    (denied,) = audit_entries(db, action="denied", staff_id=bea.id)
    route = url.replace("/1/", "/{staff_id}/")
    assert denied.reason == f"{method} {route} needs owner; holds billing"
    assert audit_entries(db, action="staff_change", staff_id=bea.id) == []
    assert audit_entries(db, action="access_review") == []


@pytest.mark.parametrize(("method", "url", "body"), OWNER_ROUTES)
def test_without_a_staff_sign_in_every_route_is_401(
    api: TestClient, method: str, url: str, body: dict[str, object] | None
) -> None:
    for headers in ({}, bearer("qs_staff_forged"), bearer("a-customer-token")):
        answer = api.request(method, url, headers=headers, json=body)
        assert answer.status_code == 401, (headers, answer.text)


# ---------------------------------------------------------------- the access review


def test_the_access_review_lists_who_holds_what_and_is_due_before_any_review(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, bea: Staff,
    settings: Settings, keyring: Keyring,
) -> None:  # fmt: skip
    gone = make_staff(db, settings, keyring, name="Gone Person", email="gone@shop.example")
    api.post(disable_url(gone.id), headers=owner, json={"reason": "left"})
    answer = api.get(REVIEW, headers=owner)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "staff": [
            {"staff_id": bea.id, "name": "Bea Ledger", "email": "bea@shop.example",
             "roles": ["billing"], "status": "active", "last_active_at": "2026-11-25T11:55:00Z",
             "days_since_active": 0, "unused_disable_at": "2027-02-23T11:55:00Z"},
            {"staff_id": olive.id, "name": "Olive Owner", "email": "olive@shop.example",
             "roles": ["owner"], "status": "active", "last_active_at": "2026-11-25T12:00:00Z",
             "days_since_active": 0, "unused_disable_at": "2027-02-23T12:00:00Z"},
        ],
        "last_review": None,
        "next_due_at": None,
        "due": True,
    }  # fmt: skip


def test_confirming_records_the_snapshot_the_note_and_the_next_due_date(
    api: TestClient, db: Session, owner: dict[str, str], olive: Staff, bea: Staff
) -> None:
    confirmed = api.post(REVIEW, headers=owner, json={"note": "  Checked with Bea.\nAll fine. "})
    assert confirmed.status_code == 201, confirmed.text
    review_id = confirmed.json()["id"]
    assert confirmed.json() == {
        "id": review_id, "confirmed_at": "2026-11-25T12:00:00Z", "confirmed_by_id": olive.id,
        "confirmed_by_name": "Olive Owner", "note": "Checked with Bea.\nAll fine.",
        "staff_count": 2, "next_due_at": "2027-05-25T12:00:00Z",
    }  # fmt: skip
    after = api.get(REVIEW, headers=owner).json()
    assert (after["due"], after["next_due_at"]) == (False, "2027-05-25T12:00:00Z")
    assert after["last_review"] == confirmed.json()
    row = db.get(StaffAccessReview, review_id)
    assert row is not None
    assert json.loads(row.snapshot) == [
        {"staff_id": bea.id, "name": "Bea Ledger", "email": "bea@shop.example",
         "roles": ["billing"], "status": "active", "last_active_at": "2026-11-25T11:55:00+00:00"},
        {"staff_id": olive.id, "name": "Olive Owner", "email": "olive@shop.example",
         "roles": ["owner"], "status": "active", "last_active_at": "2026-11-25T12:00:00+00:00"},
    ]  # fmt: skip
    (entry,) = audit_entries(db, action="access_review")
    assert (entry.staff_id, entry.role, entry.subject, entry.customer_id) == (
        olive.id,
        "owner",
        f"access_review:{review_id}",
        None,
    )
    assert entry.reason == "confirmed who holds which roles: 2 active staff member(s)"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"note": "n" * 501}, "note"),
        ({"note": "fine\x1b[2J"}, "note"),
        ({"note": "fine\u202e"}, "note"),
        ({"note": None}, "note"),
        ({"note": "x", "staff": []}, "staff"),
    ],
)
def test_a_bad_note_is_refused_and_nothing_is_confirmed(
    api: TestClient, db: Session, owner: dict[str, str], body: dict[str, object], field: str
) -> None:
    answer = api.post(REVIEW, headers=owner, json=body)
    assert answer.status_code == 400, answer.text
    assert [problem["field"] for problem in answer.json()["detail"]] == [field]
    assert api.get(REVIEW, headers=owner).json()["last_review"] is None
    assert audit_entries(db, action="access_review") == []


def _as_signed_in(person: Staff) -> SignedInStaff:
    return SignedInStaff(person.id, person.name, person.email, person.roles, 1, "", T0)


@pytest.mark.parametrize(
    ("confirmed", "due"),
    [
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), datetime(2027, 5, 25, 12, 0, tzinfo=UTC)),
        (datetime(2027, 8, 31, 9, 30, tzinfo=UTC), datetime(2028, 2, 29, 9, 30, tzinfo=UTC)),
        (datetime(2026, 8, 31, 9, 30, tzinfo=UTC), datetime(2027, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 6, 30, 23, 59, tzinfo=UTC)),
        (datetime(2027, 7, 31, 0, 0, tzinfo=UTC), datetime(2028, 1, 31, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_next_review_is_due_six_calendar_months_later_month_ends_clamped(
    db: Session, olive: Staff, confirmed: datetime, due: datetime
) -> None:
    # Given a review confirmed at a moment
    review = owner_rules.confirm_access_review(db, _as_signed_in(olive), "", confirmed)
    assert review.next_due_at == due
    # Then it is not due a minute before that date, and due from it on
    assert owner_rules.access_review(db, due - timedelta(minutes=1)).due is False
    assert owner_rules.access_review(db, due).due is True
    assert owner_rules.access_review(db, due).next_due_at == due


def test_a_newer_review_moves_the_due_date(db: Session, olive: Staff) -> None:
    owner_rules.confirm_access_review(db, _as_signed_in(olive), "first", T0)
    later = T0 + timedelta(days=200)
    owner_rules.confirm_access_review(db, _as_signed_in(olive), "second", later)
    found = owner_rules.access_review(db, later)
    assert found.last_review is not None and found.last_review.note == "second"
    assert found.next_due_at == datetime(2027, 12, 13, 12, 0, tzinfo=UTC)
    assert found.due is False


def test_days_since_active_count_whole_days_and_never_is_none(
    db: Session, olive: Staff, bea: Staff, settings: Settings
) -> None:

    service.add_staff(db, settings, "Nell New", "nell@shop.example", frozenset({Role.ANALYST}), T0)
    found = owner_rules.access_review(db, T0 + timedelta(days=10, hours=23))
    days = {held.name: held.days_since_active for held in found.staff}
    assert days == {"Bea Ledger": 10, "Nell New": None, "Olive Owner": 10}
    (nell,) = [held for held in found.staff if held.name == "Nell New"]
    assert nell.status == "enrolment link expired" and nell.last_active_at is None
    assert nell.unused_disable_at == T0 + timedelta(days=90)


# ---------------------------------------------------------------- the screens


def test_the_shell_holds_the_owner_screens_and_their_scripts_come_from_here(
    api: TestClient,
) -> None:
    html = api.get("/staff").text
    for mount in ("data-owner-screen", "data-access-review-screen", "data-rates-screen",
                  'data-nav="staff"', 'data-nav="access-review"', 'data-nav="rates"',
                  "data-add-staff-form", "data-enrolment-link", "data-review-form"):  # fmt: skip
        assert mount in html, mount
    assert re.search(r"data-add-staff-form method=\"post\"[^>]*><fieldset[^>]*disabled", html)
    for name in ("owner.js", "rates.js", "owner.css"):
        served = api.get(f"/static/staff/{name}")
        assert served.status_code == 200, name
        assert f'src="/static/staff/{name}"' in html or f'href="/static/staff/{name}"' in html
        for imported in re.findall(r'from "([^"]+)"', served.text):
            assert imported.startswith(("/static/", "./")), imported
        code = "\n".join(line for line in served.text.splitlines() if "//" not in line[:3])
        assert "localStorage" not in code and "document.cookie" not in code
        assert "innerHTML" not in code
