"""Unsubscribing without signing in and without JavaScript; one click (RFC 8058)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from quietshop.app import build_app
from quietshop.mail import service
from quietshop.settings import Settings
from tests.clock import MovableClock
from tests.mail.conftest import subscribe


@pytest.fixture
def mail_client(mail_settings: Settings, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    app = build_app(mail_settings, sessions, clock=MovableClock())
    with TestClient(app, base_url="https://testserver") as client:
        yield client
    if app.access_log is not None:
        app.access_log.close()


def opted_in(db: Session) -> str:
    subscribe(db, "123456782", "ann@example.org", "Ann")
    db.commit()
    return "123456782"


def test_the_link_shows_a_form_and_changes_nothing(
    db: Session, mail_client: TestClient, mail_settings: Settings
) -> None:
    number = opted_in(db)
    token = service.unsubscribe_token(mail_settings, number)
    page = mail_client.get("/unsubscribe", params={"token": token})
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    # It works without JavaScript: the only scripts are the header's ("signed in", and the
    # search box's suggestions).
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script type="module" src="/static/js/header.js">',
        '<script type="module" src="/static/js/suggest.js">',
    ]
    assert page.headers["cache-control"] == "no-store"
    assert service.is_opted_in(db, number) is True


def test_one_click_post_turns_mailings_off(
    db: Session, mail_client: TestClient, mail_settings: Settings
) -> None:
    number = opted_in(db)
    token = service.unsubscribe_token(mail_settings, number)
    response = mail_client.post(
        f"/unsubscribe?token={token}",
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "no more mailings" in response.text
    db.expire_all()
    assert service.is_opted_in(db, number) is False
    again = mail_client.post(f"/unsubscribe?token={token}")  # a second click is harmless
    assert again.status_code == 200


@pytest.mark.parametrize("token", ["123456782.forged", "123456782", "x" * 101, ".", ""])
def test_forged_tokens_are_refused(db: Session, mail_client: TestClient, token: str) -> None:
    number = opted_in(db)
    for response in (
        mail_client.get("/unsubscribe", params={"token": token}),
        mail_client.post("/unsubscribe", params={"token": token}),
    ):
        assert response.status_code == 400
        assert "<strong>token</strong>" in response.text
    db.expire_all()
    assert service.is_opted_in(db, number) is True
