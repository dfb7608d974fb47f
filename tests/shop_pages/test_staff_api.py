"""The owner edits the shop pages in the back office (issue 11 item 5): the owner may list
and save them, every other role is refused with 403 and a ``denied`` entry; a save is an
audit ``change`` and shows on the public page at once; a save with a stale ``updated_at``
is 409 with the current text and saves nothing; bad bodies are a 400 naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff.need_to_know import ACTION_ROLES, Action
from quietshop.staff.roles import Role
from tests.clock import T0, MovableClock
from tests.staff.conftest import signed_in
from tests.staff.factories import Staff, audit_entries, make_staff

PAGES = "/api/v1/staff/shop-pages"


@pytest.fixture
def olive(db: Session, settings: Settings, keyring: Keyring) -> Staff:
    return make_staff(
        db, settings, keyring, roles=frozenset({Role.OWNER}), name="Olive Owner",
        email="olive@shop.example",
    )  # fmt: skip


@pytest.fixture
def owner(api: TestClient, olive: Staff) -> dict[str, str]:
    return signed_in(api, olive, T0)


def listed(api: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = api.get(PAGES, headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def page_of(found: dict[str, Any], slug: str) -> dict[str, Any]:
    (page,) = [page for page in found["pages"] if page["slug"] == slug]
    return page


def test_only_the_owner_edits_shop_pages() -> None:
    assert ACTION_ROLES[Action.EDIT_SHOP_PAGES] == {Role.OWNER}


def test_the_owner_lists_the_pages_with_their_defaults(
    api: TestClient, owner: dict[str, str]
) -> None:
    found = listed(api, owner)
    assert [page["slug"] for page in found["pages"]] == ["contact", "shipping", "returns"]
    assert [page["path"] for page in found["pages"]] == ["/contact", "/shipping", "/returns"]
    assert all(page["is_default"] and page["updated_at"] is None for page in found["pages"])
    assert (found["max_title"], found["max_body"]) == (200, 20_000)


def test_a_save_shows_on_the_page_and_is_audited(
    api: TestClient, owner: dict[str, str], olive: Staff, db: Session, clock: MovableClock
) -> None:
    assert "30 days" in api.get("/returns").text  # the default, now cached
    body = {"title": "Returns", "body": "Within 14 days.\n\n- Boxed", "updated_at": None}
    answer = api.put(f"{PAGES}/returns", json=body, headers=owner)
    assert answer.status_code == 200, answer.text
    saved = answer.json()
    assert saved["is_default"] is False and saved["updated_at"] is not None
    public = api.get("/returns").text
    assert "Within 14 days." in public and "<li>Boxed</li>" in public and "30 days" not in public
    (entry,) = audit_entries(db, action="change", subject="shop_page:returns")
    assert (entry.staff_id, entry.role) == (olive.id, "owner")
    # The next save names the stamp it was given back.
    clock.advance(minutes=1)
    body = {"title": "Returns", "body": "Within 21 days.", "updated_at": saved["updated_at"]}
    again = api.put(f"{PAGES}/returns", json=body, headers=owner)
    assert again.status_code == 200, again.text
    assert page_of(listed(api, owner), "returns")["body"] == "Within 21 days."


def test_a_stale_save_is_409_with_the_current_text_and_saves_nothing(
    api: TestClient, owner: dict[str, str], db: Session
) -> None:
    first = {"title": "Contact", "body": "Mail us.", "updated_at": None}
    saved = api.put(f"{PAGES}/contact", json=first, headers=owner).json()
    # A second editor who opened the page before that save still holds the default's null.
    late = {"title": "Contact", "body": "Call us.", "updated_at": None}
    answer = api.put(f"{PAGES}/contact", json=late, headers=owner)
    assert answer.status_code == 409
    refusal = answer.json()
    assert refusal["error"] == "stale_page" and "not saved" in refusal["detail"]
    assert refusal["current"]["body"] == "Mail us."
    assert refusal["current"]["updated_at"] == saved["updated_at"]
    older = {**late, "updated_at": "2020-01-01T00:00:00Z"}
    assert api.put(f"{PAGES}/contact", json=older, headers=owner).status_code == 409
    assert page_of(listed(api, owner), "contact")["body"] == "Mail us."
    assert len(audit_entries(db, action="change", subject="shop_page:contact")) == 1
    assert "Mail us." in api.get("/contact").text


@pytest.mark.parametrize("role", sorted(set(Role) - {Role.OWNER}, key=lambda role: role.value))
def test_every_other_role_is_refused(
    api: TestClient, db: Session, settings: Settings, keyring: Keyring, role: Role
) -> None:
    member = make_staff(db, settings, keyring, roles=frozenset({role}))
    headers = signed_in(api, member, T0)
    assert api.get(PAGES, headers=headers).status_code == 403
    body = {"title": "Mine", "body": "Mine now.", "updated_at": None}
    assert api.put(f"{PAGES}/contact", json=body, headers=headers).status_code == 403
    assert len(audit_entries(db, action="denied", staff_id=member.id)) == 2
    assert "Mine now." not in api.get("/contact").text


def test_without_a_sign_in_the_answer_is_401(api: TestClient) -> None:
    assert api.get(PAGES).status_code == 401
    body = {"title": "x", "body": "y", "updated_at": None}
    assert api.put(f"{PAGES}/contact", json=body).status_code == 401
    assert api.put(f"{PAGES}/contact", json=body, headers={"Cookie": "t=1"}).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "body": "text", "updated_at": None}, "title"),
        ({"title": "   ", "body": "text", "updated_at": None}, "title"),
        ({"title": "x" * 201, "body": "text", "updated_at": None}, "title"),
        ({"title": "Bell\x07", "body": "text", "updated_at": None}, "title"),
        ({"title": "T", "body": "", "updated_at": None}, "body"),
        ({"title": "T", "body": "x" * 20_001, "updated_at": None}, "body"),
        ({"title": "T", "body": "x" * 40_001, "updated_at": None}, "body"),
        ({"title": "T", "body": "esc \x1b[2J", "updated_at": None}, "body"),
        ({"title": "T", "body": 12, "updated_at": None}, "body"),
        ({"title": "T", "body": "b", "updated_at": "yesterday"}, "updated_at"),
        ({"title": "T", "body": "b", "updated_at": "2027-01-01T00:00:00"}, "updated_at"),
        ({"title": "T", "body": "b"}, "updated_at"),
        ({"title": "T", "body": "b", "updated_at": None, "html": True}, "html"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(
    api: TestClient, owner: dict[str, str], db: Session, body: dict[str, Any], field: str
) -> None:
    answer = api.put(f"{PAGES}/returns", json=body, headers=owner)
    assert answer.status_code == 400, answer.text
    assert field in [item["field"] for item in answer.json()["detail"]]
    assert page_of(listed(api, owner), "returns")["is_default"]
    assert audit_entries(db, action="change", subject="shop_page:returns") == []


@pytest.mark.parametrize("slug", ["about", "CONTACT", "x" * 41, "contact.html"])
def test_an_unknown_page_is_404_or_400(api: TestClient, owner: dict[str, str], slug: str) -> None:
    body = {"title": "T", "body": "b", "updated_at": None}
    answer = api.put(f"{PAGES}/{slug}", json=body, headers=owner)
    assert answer.status_code in (400, 404), answer.text


def test_a_body_too_large_for_the_route_is_413(api: TestClient, owner: dict[str, str]) -> None:
    huge = '{"title": "T", "body": "' + "x" * 300_000 + '", "updated_at": null}'
    answer = api.put(
        f"{PAGES}/returns", content=huge, headers={**owner, "content-type": "application/json"}
    )
    assert answer.status_code == 413


def test_a_full_page_of_escaped_characters_fits_the_route(
    api: TestClient, owner: dict[str, str]
) -> None:
    body = {"title": "T", "body": "\u2603" * 20_000, "updated_at": None}
    # Sent as \\u2603 escapes: 120 kB, above the default limit, within the route's.
    sent = json.dumps(body, ensure_ascii=True)
    assert 64 * 1024 < len(sent) < 256 * 1024
    answer = api.put(
        f"{PAGES}/returns", content=sent, headers={**owner, "content-type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["body"] == "\u2603" * 20_000
