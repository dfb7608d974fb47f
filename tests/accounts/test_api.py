"""The account API: bearer tokens only, one customer never reaches another's data, bad
bodies get a 400 naming the field, and the access log names no one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.accounts.models import Customer
from quietshop.app import AssembledApp, build_app
from quietshop.settings import Settings
from tests.accounts.factories import PASSWORD, link_in, mails_to
from tests.clock import MovableClock

ADDRESS = {
    "kind": "shipping", "name": "Ann", "line1": "1 Main St", "city": "Springfield",
    "region": "IL", "postcode": "62701", "country": "US",
}  # fmt: skip


REGISTER = "/api/v1/auth/register"
NEW = {"name": "Ann", "email": "a@example.org", "password": PASSWORD}


@pytest.fixture
def app(
    account_settings: Settings, sessions: sessionmaker[Session], clock: MovableClock
) -> Iterator[AssembledApp]:
    assembled = build_app(account_settings, sessions, clock=clock)
    yield assembled
    if assembled.access_log is not None:
        assembled.access_log.close()


@pytest.fixture
def api(app: AssembledApp) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def register(api: TestClient, email: str, name: str = "Ann Example") -> None:
    response = api.post(
        "/api/v1/auth/register", json={"name": name, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 202, response.text


def sign_in(api: TestClient, email: str) -> dict[str, str]:
    response = api.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def number_of(db: Session, email: str) -> str:
    return db.execute(select(Customer.customer_number).where(Customer.email == email)).scalar_one()


def test_register_sign_in_and_read_the_profile(api: TestClient, db: Session) -> None:
    register(api, "ann@example.org")
    number = number_of(db, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    profile = api.get("/api/v1/account", headers=auth)
    assert profile.status_code == 200
    assert profile.json() == {
        "customer_number": number, "name": "Ann Example", "email": "ann@example.org",
        "phone": "", "email_verified": False, "mailing_opt_in": False,
        "mailing_active": False,
    }  # fmt: skip
    assert profile.headers["cache-control"] == "no-store"
    assert "set-cookie" not in profile.headers


def test_no_token_or_a_bad_token_is_401(api: TestClient) -> None:
    register(api, "ann@example.org")
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer " + "x" * 5000},
        {"Cookie": "token=abc"},
    ]
    for headers in bad_headers:
        response = api.get("/api/v1/account", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_in_the_url_is_not_accepted(api: TestClient) -> None:
    register(api, "ann@example.org")
    token = sign_in(api, "ann@example.org")["Authorization"].split()[1]
    assert api.get(f"/api/v1/account?token={token}").status_code == 401


def test_idle_expiry_through_the_api(api: TestClient, clock: MovableClock) -> None:
    register(api, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    clock.advance(minutes=29)
    assert api.get("/api/v1/account", headers=auth).status_code == 200  # a read keeps it alive
    clock.advance(minutes=29)
    assert api.get("/api/v1/account", headers=auth).status_code == 200
    clock.advance(minutes=31)
    assert api.get("/api/v1/account", headers=auth).status_code == 401


def test_sign_out_revokes(api: TestClient) -> None:
    register(api, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    assert api.post("/api/v1/auth/sign-out", headers=auth).status_code == 204
    assert api.get("/api/v1/account", headers=auth).status_code == 401


def test_wrong_password_and_unknown_email_answer_alike(api: TestClient) -> None:
    register(api, "ann@example.org")
    wrong = api.post(
        "/api/v1/auth/sign-in", json={"email": "ann@example.org", "password": "nope nope nope"}
    )
    unknown = api.post(
        "/api/v1/auth/sign-in", json={"email": "who@example.org", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_the_same_answer_to_a_reset_request_for_any_address(api: TestClient) -> None:
    register(api, "ann@example.org")
    known = api.post("/api/v1/auth/password-reset", json={"email": "ann@example.org"})
    unknown = api.post("/api/v1/auth/password-reset", json={"email": "who@example.org"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()


def test_no_customer_reaches_another_customers_data(api: TestClient) -> None:
    register(api, "ann@example.org")
    register(api, "bob@example.org", name="Bob Other")
    ann, bob = sign_in(api, "ann@example.org"), sign_in(api, "bob@example.org")
    address = api.post("/api/v1/account/addresses", json=ADDRESS, headers=ann).json()
    path = f"/api/v1/account/addresses/{address['id']}"
    # Every route that names an object: Bob's token never reaches Ann's address.
    assert api.put(path, json={**ADDRESS, "line1": "Bob was here"}, headers=bob).status_code == 404
    assert api.delete(path, headers=bob).status_code == 404
    assert api.get("/api/v1/account/addresses", headers=bob).json() == []
    # Every route about "my account" answers about Bob, never Ann.
    assert api.get("/api/v1/account", headers=bob).json()["email"] == "bob@example.org"
    assert "ann@example.org" not in api.get("/api/v1/account/export", headers=bob).text
    api.patch("/api/v1/account", json={"name": "Bob Renamed"}, headers=bob)
    assert api.get("/api/v1/account", headers=ann).json()["name"] == "Ann Example"
    assert api.get("/api/v1/account/addresses", headers=ann).json()[0]["line1"] == "1 Main St"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (REGISTER, {"name": "Ann", "email": "a@example.org"}, "password"),
        (REGISTER, {**NEW, "admin": True}, "admin"),
        (REGISTER, {**NEW, "name": "A" * 300}, "name"),
        (REGISTER, {**NEW, "email": "a" * 300}, "email"),
        (REGISTER, {**NEW, "email": "no-at-sign"}, "email"),
        (REGISTER, {**NEW, "password": "p" * 200}, "password"),
        (REGISTER, {**NEW, "password": "short"}, "password"),
        (REGISTER, {**NEW, "mailing_opt_in": 0}, "mailing_opt_in"),  # 0 is not false
        (REGISTER, {**NEW, "mailing_opt_in": "true"}, "mailing_opt_in"),
        (REGISTER, {**NEW, "name": 42}, "name"),
        (REGISTER, ["not", "an", "object"], "body"),
        ("/api/v1/auth/sign-in", {"email": "a@example.org"}, "password"),
        ("/api/v1/auth/verify-email", {"token": ""}, "token"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    api: TestClient, path: str, body: object, field: str
) -> None:
    response = api.post(path, json=body)
    assert response.status_code == 400, response.text
    assert field in [d["field"] for d in response.json()["detail"]]


def test_an_empty_or_broken_body_is_400(api: TestClient) -> None:
    for content in (b"", b"{", b"\xff\xfe", b"null"):
        response = api.post(
            "/api/v1/auth/register", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, content


def test_replayed_verification_link_is_a_clear_400(
    api: TestClient, db: Session, account_settings: Settings
) -> None:
    register(api, "ann@example.org")
    token = link_in(mails_to(db, "ann@example.org")[0], account_settings)
    assert api.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200
    again = api.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and "not valid any more" in again.text


def test_the_access_log_names_no_customer(
    api: TestClient, db: Session, account_settings: Settings
) -> None:
    register(api, "ann@example.org")
    number = number_of(db, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    api.get("/api/v1/account", headers=auth)
    api.post("/api/v1/account/addresses", json=ADDRESS, headers=auth)
    api.get("/api/v1/account/export", headers=auth)
    log = account_settings.access_log_path.read_text()
    token = auth["Authorization"].split()[1]
    for secret in (number, "ann@example.org", token, "Ann Example", "Main St"):
        assert secret not in log
    assert '"GET /api/v1/account HTTP/1.1" 200' in log


def test_close_asks_the_password_then_erases(api: TestClient) -> None:
    register(api, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    assert (
        api.post("/api/v1/account/close", json={"password": "wrong"}, headers=auth).status_code
        == 400
    )
    assert (
        api.post("/api/v1/account/close", json={"password": PASSWORD}, headers=auth).status_code
        == 204
    )
    assert api.get("/api/v1/account", headers=auth).status_code == 401
    again = api.post(
        "/api/v1/auth/sign-in", json={"email": "ann@example.org", "password": PASSWORD}
    )
    assert again.status_code == 401


# ---------------------------------------------------------------- the repairs of issue 7


def test_registration_answers_alike_for_a_new_and_a_taken_address(
    api: TestClient, db: Session
) -> None:
    """Defect 10: the answer never tells whether an address has an account."""
    first = api.post(REGISTER, json={**NEW, "email": "ann@example.org"})
    again = api.post(REGISTER, json={**NEW, "email": "ANN@example.org", "name": "Mallory"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and "customer_number" not in first.text
    # The owner, not the one who tried, hears of the second attempt.
    subjects = [m.subject for m in mails_to(db, "ann@example.org")]
    assert subjects == [
        "Please confirm your email address",
        "Someone tried to register with your address",
    ]


def test_every_costly_route_counts_against_the_per_address_limit(
    api: TestClient, app: AssembledApp
) -> None:
    """Defect 10: registration (an argon2 hash and a mail) cannot be hammered."""
    app.state.limiter.limit = 3
    answers = [
        api.post(REGISTER, json={**NEW, "email": f"probe{i}@example.org"}).status_code
        for i in range(5)
    ]
    assert answers == [202, 202, 202, 429, 429]
    refused = api.post("/api/v1/auth/password-reset", json={"email": "a@example.org"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"] == "too_many_attempts"


@pytest.mark.parametrize("address_id", [0, -1, 2**31, 2**63, 2**64 + 5, 10**30])
def test_an_out_of_range_path_id_is_400_not_500(api: TestClient, address_id: int) -> None:
    """Defect 11: schemathesis found 500s for ids of 2^63 and more."""
    register(api, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    path = f"/api/v1/account/addresses/{address_id}"
    for response in (api.put(path, json=ADDRESS, headers=auth), api.delete(path, headers=auth)):
        assert response.status_code == 400, response.text
        assert response.json()["detail"][0]["field"] == "address_id"


def test_an_anonymous_request_gets_401_before_its_body_is_read(api: TestClient) -> None:
    """Defect 14: a stranger's bad (or huge) body costs no parse and says 401, not 400."""
    for method, path in [
        ("PATCH", "/api/v1/account"),
        ("POST", "/api/v1/account/addresses"),
        ("PUT", "/api/v1/account/addresses/1"),
        ("POST", "/api/v1/account/close"),
    ]:
        response = api.request(
            method, path, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_method_not_allowed_names_the_allowed_ones(api: TestClient) -> None:
    """Defect 14: a 405 carries Allow with every method the path takes (RFC 9110)."""
    response = api.delete("/api/v1/account")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, PATCH"
    assert response.json()["error"] == "method_not_allowed"


def test_a_signed_in_read_does_not_take_the_write_lock(
    api: TestClient, app: AssembledApp, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seam 5: a GET within a minute of the last use opens no write transaction; after a
    minute, one short write records the use."""
    from quietshop.web import dependencies

    register(api, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    writes: list[str] = []
    real = dependencies.transaction

    def counting(factory):  # type: ignore[no-untyped-def]
        writes.append("write")
        return real(factory)

    monkeypatch.setattr(dependencies, "transaction", counting)
    clock.advance(seconds=30)
    assert api.get("/api/v1/account", headers=auth).status_code == 200
    assert api.get("/api/v1/account/addresses", headers=auth).status_code == 200
    assert writes == []
    clock.advance(seconds=61)
    assert api.get("/api/v1/account", headers=auth).status_code == 200
    assert writes == ["write"]


def test_a_new_verification_mail_on_request(api: TestClient, db: Session) -> None:
    """Defect 15: a newcomer whose link was lost can ask for another."""
    register(api, "ann@example.org")
    auth = sign_in(api, "ann@example.org")
    answer = api.post("/api/v1/account/verification-mail", headers=auth)
    assert answer.status_code == 202
    assert len(mails_to(db, "ann@example.org")) == 2
    assert api.post("/api/v1/account/verification-mail").status_code == 401
