"""Passkeys (WebAuthn) as a staff second factor (P7, issue 9 item 1): registered from a
signed-in session, then used in place of the TOTP code at sign-in, the password still
required. A software authenticator (webauthn_software.py) answers as a browser would, or as
a phishing page, a cloned key or a careless authenticator would: every refusal is the one
401 ``sign_in_failed`` of sign-in, counted toward the ten, with its reason in the chain."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff.errors import SIGN_IN_FAILED
from quietshop.staff.models import StaffMember, StaffPasskey, StaffPasskeyChallenge
from quietshop.staff.roles import Role
from quietshop.staff.second_factor import FactorOutcome, relying_party, user_handle
from tests.clock import T0, MovableClock
from tests.staff.conftest import ME, SIGN_IN, bearer, signed_in
from tests.staff.factories import Staff, audit_entries, make_staff
from tests.staff.webauthn_software import (
    USER_PRESENT,
    USER_VERIFIED,
    SoftwareAuthenticator,
    b64url,
)

# The shop of tests/conftest.py's settings: https://shop.test, "Quietshop Test".
ORIGIN = "https://shop.test"
RP_ID = "shop.test"
SIGN_IN_OPTIONS = "/api/v1/staff/sign-in/passkey-options"
PASSKEYS = "/api/v1/staff/passkeys"
OPTIONS = f"{PASSKEYS}/options"
FAILED = {"error": "sign_in_failed", "detail": SIGN_IN_FAILED}
NAME = "Bea's laptop"


def authenticator(**changes: Any) -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin=ORIGIN, rp_id=RP_ID, **changes)


def register(
    api: TestClient, headers: dict[str, str], device: SoftwareAuthenticator, name: str = NAME
) -> dict[str, Any]:
    """Register ``device``'s passkey through the API: the answer's JSON."""
    ceremony = api.post(OPTIONS, headers=headers).json()
    body = {
        "challenge_id": ceremony["challenge_id"],
        "credential": device.create(ceremony["options"]),
        "name": name,
    }
    response = api.post(PASSKEYS, headers=headers, json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def passkey_body(
    api: TestClient, staff: Staff, device: SoftwareAuthenticator, **answer: Any
) -> dict[str, Any]:
    """A sign-in body: the password and ``device``'s assertion for fresh options."""
    ceremony = api.post(SIGN_IN_OPTIONS).json()
    credential = device.get(ceremony["options"], **answer)
    return {
        "email": staff.email,
        "password": staff.password,
        "passkey": {"challenge_id": ceremony["challenge_id"], "credential": credential},
    }


@pytest.fixture
def bea_headers(api: TestClient, bea: Staff) -> dict[str, str]:
    return signed_in(api, bea, T0)


@pytest.fixture
def laptop(api: TestClient, bea_headers: dict[str, str]) -> SoftwareAuthenticator:
    """Bea's registered passkey."""
    device = authenticator()
    register(api, bea_headers, device)
    return device


def failure_reasons(db: Session) -> list[str]:
    return [entry.reason for entry in audit_entries(db, action="sign_in_failed")]


# ---------------------------------------------------------------- the relying party


@pytest.mark.parametrize(
    ("base_url", "rp_id", "origin"),
    [
        ("https://shop.test", "shop.test", "https://shop.test"),
        ("https://Shop.Example:8443/", "shop.example", "https://shop.example:8443"),
        ("https://shop.example:443", "shop.example", "https://shop.example"),
    ],
)
def test_the_relying_party_is_the_base_urls_host_and_origin(
    settings: Settings, base_url: str, rp_id: str, origin: str
) -> None:
    rp = relying_party(settings.model_copy(update={"public_base_url": base_url}))
    assert (rp.id, rp.origin, rp.name) == (rp_id, origin, "Quietshop Test")


# ---------------------------------------------------------------- registering


def test_registration_options_ask_for_a_discoverable_verified_passkey_of_this_shop(
    api: TestClient, db: Session, bea: Staff, bea_headers: dict[str, str]
) -> None:
    response = api.post(OPTIONS, headers=bea_headers)
    assert response.status_code == 200, response.text
    ceremony = response.json()
    options = ceremony["options"]
    assert options["rp"] == {"name": "Quietshop Test", "id": RP_ID}
    assert options["user"] == {
        "id": b64url(user_handle(bea.id)),
        "name": bea.email,
        "displayName": "Bea Ledger",
    }
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7, -257]
    assert options["excludeCredentials"] == []
    assert options["timeout"] == 120_000
    assert len(base64.urlsafe_b64decode(options["challenge"] + "==")) == 32
    # Only the challenge's SHA-256 is kept, for five minutes, for this staff member.
    row = db.get_one(StaffPasskeyChallenge, ceremony["challenge_id"])
    assert (row.purpose, row.staff_id, row.expires_at, row.used_at) == (
        "register", bea.id, T0.replace(minute=5), None,
    )  # fmt: skip
    assert options["challenge"] not in row.challenge_hash


def test_a_passkey_is_registered_listed_and_in_the_chain(
    api: TestClient, db: Session, bea: Staff, bea_headers: dict[str, str]
) -> None:
    device = authenticator()
    added = register(api, bea_headers, device, name="  Bea's   laptop ")
    assert added == {"id": added["id"], "name": NAME, "created_at": "2026-11-25T12:00:00Z",
                     "last_used_at": None}  # fmt: skip
    listed = api.get(PASSKEYS, headers=bea_headers)
    assert listed.status_code == 200 and "set-cookie" not in listed.headers
    assert listed.json() == {"passkeys": [added]}
    stored = db.execute(select(StaffPasskey)).scalar_one()
    assert (stored.staff_id, stored.credential_id, stored.public_key) == (
        bea.id, device.credential_id, device.cose_key(),
    )  # fmt: skip
    assert (stored.sign_count, stored.transports) == (0, "hybrid,internal")
    (entry,) = audit_entries(db, action="second_factor_added")
    assert (entry.staff_id, entry.subject, entry.reason, entry.origin) == (
        bea.id, f"staff:{bea.id}", f"passkey {added['id']} ({NAME})", "testclient",
    )  # fmt: skip
    # Its challenge is spent; the next options exclude the passkey held.
    options = api.post(OPTIONS, headers=bea_headers).json()["options"]
    assert options["excludeCredentials"] == [
        {"id": b64url(device.credential_id), "type": "public-key",
         "transports": ["hybrid", "internal"]},
    ]  # fmt: skip


def _registration(
    api: TestClient, headers: dict[str, str], device: SoftwareAuthenticator, **answer: Any
) -> dict[str, Any]:
    ceremony = api.post(OPTIONS, headers=headers).json()
    credential = device.create(ceremony["options"], **answer)
    return {"challenge_id": ceremony["challenge_id"], "credential": credential, "name": NAME}


@pytest.mark.parametrize(
    ("answer", "field", "message"),
    [
        (
            {"origin": "https://shop.test.phish.example"},
            "credential",
            "This passkey was made for another site: open the back office at https://shop.test.",
        ),
        (
            {"rp_id": "phish.example"},
            "credential",
            "This passkey was made for another site: open the back office at https://shop.test.",
        ),
        (
            {"flags": USER_PRESENT},
            "credential",
            "Your device did not verify you (a PIN, fingerprint or face): it must.",
        ),
        (
            {"challenge": b"another challenge of 32 bytes..."},
            "challenge_id",
            "The browser answered another request: start again.",
        ),
    ],
    ids=["wrong-origin", "wrong-rp-id", "not-verified", "wrong-challenge"],
)
def test_a_registration_that_does_not_verify_keeps_nothing(
    api: TestClient,
    db: Session,
    bea_headers: dict[str, str],
    answer: dict[str, Any],
    field: str,
    message: str,
) -> None:
    body = _registration(api, bea_headers, authenticator(), **answer)
    response = api.post(PASSKEYS, headers=bea_headers, json=body)
    assert response.status_code == 400
    assert response.json()["detail"] == [{"field": field, "message": message}]
    assert db.execute(select(StaffPasskey)).first() is None
    assert audit_entries(db, action="second_factor_added") == []


def test_a_registration_challenge_is_used_once_and_by_its_own_staff_member(
    api: TestClient,
    db: Session,
    settings: Settings,
    keyring: Keyring,
    bea_headers: dict[str, str],
    clock: MovableClock,
) -> None:
    body = _registration(api, bea_headers, authenticator())
    assert api.post(PASSKEYS, headers=bea_headers, json=body).status_code == 201
    again = {**body, "credential": authenticator().create(
        api.post(OPTIONS, headers=bea_headers).json()["options"]
    )}  # fmt: skip
    refused = api.post(PASSKEYS, headers=bea_headers, json=again)
    assert refused.json()["detail"][0]["field"] == "challenge_id"
    # Another staff member cannot answer Bea's challenge, nor a sign-in's.
    dora = make_staff(db, settings, keyring, email="dora@shop.example")
    clock.advance(seconds=30)
    dora_headers = signed_in(api, dora, clock.now)
    beas = _registration(api, bea_headers, authenticator())
    assert api.post(PASSKEYS, headers=dora_headers, json=beas).status_code == 400
    sign_in_ceremony = api.post(SIGN_IN_OPTIONS).json()
    foreign = {**beas, "challenge_id": sign_in_ceremony["challenge_id"]}
    assert api.post(PASSKEYS, headers=bea_headers, json=foreign).status_code == 400
    # An expired one: five minutes.
    late = _registration(api, bea_headers, authenticator())
    clock.advance(minutes=5)
    expired = api.post(PASSKEYS, headers=bea_headers, json=late)
    assert expired.json()["detail"] == [
        {"field": "challenge_id", "message": "This request for a passkey has expired: start again."}
    ]
    assert len(db.execute(select(StaffPasskey)).all()) == 1


def test_the_same_passkey_twice_is_refused(
    api: TestClient, bea_headers: dict[str, str], laptop: SoftwareAuthenticator
) -> None:
    response = api.post(PASSKEYS, headers=bea_headers, json=_registration(api, bea_headers, laptop))
    assert response.json()["detail"] == [
        {"field": "credential", "message": "This passkey is registered already."}
    ]


def test_ten_passkeys_at_most(api: TestClient, bea_headers: dict[str, str]) -> None:
    for number in range(10):
        register(api, bea_headers, authenticator(), name=f"key {number}")
    refused = api.post(OPTIONS, headers=bea_headers)
    assert refused.status_code == 400 and refused.json()["detail"][0]["field"] == "passkey"


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 61, "laptop\u202eppa", "nul\x00byte", "\ud800"],
    ids=["empty", "blank", "too-long", "bidi-override", "nul", "lone-surrogate"],
)  # fmt: skip
def test_a_passkey_name_is_short_printable_text(
    api: TestClient, bea_headers: dict[str, str], name: str
) -> None:
    body = {**_registration(api, bea_headers, authenticator()), "name": name}
    # As JSON escapes (a lone surrogate cannot be UTF-8, but "\\ud800" is valid JSON).
    as_json = {**bea_headers, "content-type": "application/json"}
    response = api.post(PASSKEYS, headers=as_json, content=json.dumps(body))
    assert response.status_code == 400
    assert response.json()["detail"][0]["field"] == "name"


def test_whitespace_in_a_passkey_name_becomes_one_space(
    api: TestClient, bea_headers: dict[str, str]
) -> None:
    added = register(api, bea_headers, authenticator(), name="\tYubiKey\n 5 ")
    assert added["name"] == "YubiKey 5"


def test_passkey_routes_need_a_live_sign_in(
    api: TestClient, bea_headers: dict[str, str], clock: MovableClock
) -> None:
    for method, path in (("POST", OPTIONS), ("POST", PASSKEYS), ("GET", PASSKEYS),
                         ("DELETE", f"{PASSKEYS}/1")):  # fmt: skip
        response = api.request(method, path, json={})
        assert (response.status_code, response.json()["error"]) == (401, "unauthorized"), path
    # With a token the body is read first; these two take an empty one.
    for method, path in (("POST", OPTIONS), ("GET", PASSKEYS)):
        forged = api.request(method, path, headers=bearer("qs_staff_forged"))
        assert (forged.status_code, forged.json()["error"]) == (401, "unauthorized"), path
    clock.advance(minutes=15)
    locked = api.post(OPTIONS, headers=bea_headers)
    assert (locked.status_code, locked.json()["error"]) == (401, "locked")


# ---------------------------------------------------------------- signing in


def test_sign_in_options_name_no_one(api: TestClient, db: Session) -> None:
    first, second = api.post(SIGN_IN_OPTIONS), api.post(SIGN_IN_OPTIONS, json={})
    assert first.status_code == second.status_code == 200
    options = first.json()["options"]
    assert set(options) == {"challenge", "timeout", "rpId", "allowCredentials", "userVerification"}
    assert (options["rpId"], options["allowCredentials"], options["userVerification"]) == (
        RP_ID, [], "required",
    )  # fmt: skip
    assert options["challenge"] != second.json()["options"]["challenge"]
    row = db.get_one(StaffPasskeyChallenge, first.json()["challenge_id"])
    assert (row.purpose, row.staff_id) == ("sign_in", None)
    assert "set-cookie" not in first.headers
    refused = api.post(SIGN_IN_OPTIONS, json={"email": "bea@shop.example"})
    assert refused.status_code == 400


def test_sign_in_with_the_password_and_a_passkey(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    response = api.post(SIGN_IN, json=passkey_body(api, bea, laptop))
    assert response.status_code == 200, response.text
    headers = bearer(response.json()["token"])
    assert api.get(ME, headers=headers).json()["email"] == bea.email
    entries = audit_entries(db, action="sign_in")
    assert [e.reason for e in entries] == ["with a code", "with a passkey"]
    (listed,) = api.get(PASSKEYS, headers=headers).json()["passkeys"]
    assert listed["last_used_at"] == "2026-11-25T12:00:00Z"
    stored = db.execute(select(StaffPasskey)).scalar_one()
    db.refresh(stored)
    assert stored.sign_count == 1


def test_an_authenticator_that_does_not_count_signs_in_again_and_again(
    api: TestClient, bea: Staff, bea_headers: dict[str, str]
) -> None:
    """0 after 0 is allowed: the specification's word for authenticators with no counter."""
    device = authenticator(counts=False)
    register(api, bea_headers, device)
    for _ in range(2):
        assert api.post(SIGN_IN, json=passkey_body(api, bea, device)).status_code == 200


def _refused(api: TestClient, db: Session, body: dict[str, Any]) -> str:
    """The reason in the chain of a sign-in refused with the common answer."""
    response = api.post(SIGN_IN, json=body)
    assert (response.status_code, response.json()) == (401, FAILED), response.text
    assert "token" not in response.text
    return failure_reasons(db)[-1]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"origin": "https://shop.test.phish.example"}, FactorOutcome.ORIGIN_WRONG),
        ({"origin": "http://shop.test"}, FactorOutcome.ORIGIN_WRONG),
        ({"rp_id": "phish.example"}, FactorOutcome.RELYING_PARTY_WRONG),
        ({"challenge": b"a challenge this shop never gave"}, FactorOutcome.CHALLENGE_WRONG),
        ({"flags": USER_PRESENT}, FactorOutcome.NOT_VERIFIED),
        ({"flags": USER_VERIFIED}, FactorOutcome.NOT_PRESENT),
        ({"tamper": True}, FactorOutcome.SIGNATURE_WRONG),
        ({"kind": "webauthn.create"}, FactorOutcome.MALFORMED),
    ],
    ids=[
        "wrong-origin", "plain-http", "wrong-rp-id", "wrong-challenge", "not-verified",
        "not-present", "tampered-signature", "registration-answer",
    ],
)  # fmt: skip
def test_an_assertion_that_does_not_verify_fails_with_the_common_answer(
    api: TestClient,
    db: Session,
    bea: Staff,
    laptop: SoftwareAuthenticator,
    answer: dict[str, Any],
    reason: FactorOutcome,
) -> None:
    assert _refused(api, db, passkey_body(api, bea, laptop, **answer)) == reason.value
    member = db.get_one(StaffMember, bea.id)
    db.refresh(member)
    assert member.failed_attempts == 1


def test_a_lower_signature_count_fails(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    """A counter that went back is a cloned key's sign: refused, the counter kept."""
    assert api.post(SIGN_IN, json=passkey_body(api, bea, laptop, sign_count=5)).status_code == 200
    for count in (5, 4, 0):
        body = passkey_body(api, bea, laptop, sign_count=count)
        assert _refused(api, db, body) == FactorOutcome.COUNTER_NOT_INCREASED.value
    assert api.post(SIGN_IN, json=passkey_body(api, bea, laptop, sign_count=6)).status_code == 200


def test_a_challenge_works_once(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    body = passkey_body(api, bea, laptop)
    assert api.post(SIGN_IN, json=body).status_code == 200
    assert _refused(api, db, body) == FactorOutcome.CHALLENGE_SPENT.value


def test_an_expired_challenge_fails(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator, clock: MovableClock
) -> None:
    body = passkey_body(api, bea, laptop)
    clock.advance(minutes=5)
    assert _refused(api, db, body) == FactorOutcome.CHALLENGE_EXPIRED.value
    in_time = passkey_body(api, bea, laptop)
    clock.advance(minutes=4, seconds=59)
    assert api.post(SIGN_IN, json=in_time).status_code == 200


def test_a_foreign_or_unknown_challenge_fails(
    api: TestClient, db: Session, bea: Staff, bea_headers: dict[str, str],
    laptop: SoftwareAuthenticator,
) -> None:  # fmt: skip
    registering = api.post(OPTIONS, headers=bea_headers).json()
    body = passkey_body(api, bea, laptop)
    body["passkey"]["challenge_id"] = registering["challenge_id"]
    assert _refused(api, db, body) == FactorOutcome.CHALLENGE_FOREIGN.value
    body["passkey"]["challenge_id"] = 2**31 - 1
    assert _refused(api, db, body) == FactorOutcome.CHALLENGE_UNKNOWN.value


def test_another_members_passkey_or_an_unknown_one_fails(
    api: TestClient,
    db: Session,
    settings: Settings,
    keyring: Keyring,
    bea: Staff,
    laptop: SoftwareAuthenticator,
    clock: MovableClock,
) -> None:
    dora = make_staff(
        db, settings, keyring, email="dora@shop.example", roles=frozenset({Role.OWNER})
    )
    clock.advance(seconds=30)
    doras = authenticator()
    register(api, signed_in(api, dora, clock.now), doras)
    # Dora's passkey with Bea's address and password: Bea's account stays closed.
    assert _refused(api, db, passkey_body(api, bea, doras)) == FactorOutcome.PASSKEY_FOREIGN.value
    # Bea's passkey claiming to be Dora's user (a forged user handle).
    forged = passkey_body(api, bea, laptop)
    forged["passkey"]["credential"]["response"]["userHandle"] = b64url(user_handle(dora.id))
    assert _refused(api, db, forged) == FactorOutcome.PASSKEY_FOREIGN.value
    stranger = authenticator()
    stranger.user_handle = user_handle(bea.id)
    assert (
        _refused(api, db, passkey_body(api, bea, stranger)) == FactorOutcome.PASSKEY_UNKNOWN.value
    )
    entries = audit_entries(db, action="sign_in_failed")
    assert {e.staff_id for e in entries} == {bea.id}


def test_the_password_is_still_required_with_a_passkey(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    body = passkey_body(api, bea, laptop)
    assert _refused(api, db, {**body, "password": "not the password 1"}) == "wrong password"
    no_password = {key: value for key, value in body.items() if key != "password"}
    response = api.post(SIGN_IN, json=no_password)
    assert response.status_code == 400
    assert response.json()["detail"] == [{"field": "password", "message": "Field required"}]


def test_passkey_failures_count_toward_the_ten(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    for _ in range(10):
        api.post(SIGN_IN, json=passkey_body(api, bea, laptop, tamper=True))
    (lock,) = audit_entries(db, action="account_locked")
    assert lock.staff_id == bea.id
    assert _refused(api, db, passkey_body(api, bea, laptop)) == "account locked"


def _tamper(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``body`` with the credential's part at ``path`` ("response.signature") replaced
    (None removes it)."""
    target = body["passkey"]["credential"]
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    if value is None:
        target.pop(last)
    else:
        target[last] = value
    return body


def _encoded(text: str) -> str:
    return b64url(text.encode())


# An origin that is a number, and a challenge that decodes to one byte.
WRONG_TYPES = _encoded(json.dumps({"type": "webauthn.get", "origin": 1, "challenge": 12}))
# Deeper than Python's recursion limit, inside the 4,096 characters allowed.
NESTED_JSON = _encoded("[" * 1_500 + "]" * 1_500)


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("response.clientDataJSON", _encoded("not json"), FactorOutcome.MALFORMED),
        ("response.clientDataJSON", _encoded('{"type": "webauthn.get"}'), FactorOutcome.MALFORMED),
        ("response.clientDataJSON", WRONG_TYPES, FactorOutcome.CHALLENGE_WRONG),
        ("response.clientDataJSON", NESTED_JSON, FactorOutcome.MALFORMED),
        ("response.clientDataJSON", "", FactorOutcome.MALFORMED),
        ("response.authenticatorData", "AAAA", FactorOutcome.MALFORMED),
        ("response.authenticatorData", "", FactorOutcome.MALFORMED),
        ("response.signature", "", FactorOutcome.SIGNATURE_WRONG),
        ("response.signature", "MEUCIQ", FactorOutcome.SIGNATURE_WRONG),
        ("id", "c29tZXRoaW5nIGVsc2U", FactorOutcome.MALFORMED),
        ("rawId", "c29tZXRoaW5nIGVsc2U", FactorOutcome.PASSKEY_UNKNOWN),
        ("rawId", "a", FactorOutcome.PASSKEY_UNKNOWN),
    ],
    ids=[
        "client-data-not-json", "client-data-missing-parts", "client-data-wrong-types",
        "client-data-nested", "client-data-empty", "authenticator-data-short",
        "authenticator-data-empty", "signature-empty", "signature-truncated", "id-not-raw-id",
        "unknown-raw-id", "raw-id-not-base64",
    ],
)  # fmt: skip
def test_a_malformed_assertion_fails_with_the_common_answer(
    api: TestClient,
    db: Session,
    bea: Staff,
    laptop: SoftwareAuthenticator,
    path: str,
    value: str,
    reason: FactorOutcome,
) -> None:
    body = _tamper(passkey_body(api, bea, laptop), path, value)
    assert _refused(api, db, body) == reason.value


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("response", {}),
        ("response.signature", None),
        ("response.clientDataJSON", "not base64url!"),
        ("response.clientDataJSON", "A" * 4097),
        ("response.signature", 12),
        ("type", "private-key"),
        ("id", ""),
        ("rawId", "x" * 1401),
        ("response.extra", "field"),
        ("clientExtensionResults", {f"k{n}": n for n in range(21)}),
    ],
    ids=[
        "empty-response", "no-signature", "not-base64url", "huge-client-data",
        "signature-a-number", "wrong-type", "empty-id", "huge-raw-id", "unknown-field",
        "many-extensions",
    ],
)  # fmt: skip
def test_a_credential_of_the_wrong_shape_is_400(
    api: TestClient, db: Session, bea: Staff, laptop: SoftwareAuthenticator, path: str, value: Any
) -> None:
    body = _tamper(passkey_body(api, bea, laptop), path, value)
    response = api.post(SIGN_IN, json=body)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_parameter")
    assert failure_reasons(db) == []  # refused before anything was checked or counted


@pytest.mark.parametrize(
    "passkey",
    [{}, {"challenge_id": 1}, {"credential": {}}, "passkey", None,
     {"challenge_id": 0, "credential": {}}, {"challenge_id": 2**31, "credential": {}},
     {"challenge_id": "1", "credential": {}}],
    ids=["empty", "no-credential", "no-challenge", "a-string", "null", "challenge-zero",
         "challenge-too-big", "challenge-a-string"],
)  # fmt: skip
def test_a_passkey_proof_of_the_wrong_shape_is_400(
    api: TestClient, bea: Staff, passkey: Any
) -> None:
    body = {"email": bea.email, "password": bea.password, "passkey": passkey}
    response = api.post(SIGN_IN, json=body)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_parameter")


def test_a_code_and_a_passkey_together_are_refused(
    api: TestClient, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    body = {**passkey_body(api, bea, laptop), "code": bea.code(T0)}
    response = api.post(SIGN_IN, json=body)
    assert response.status_code == 400
    assert response.json()["detail"] == [
        {"field": "code", "message": "Extra inputs are not permitted"}
    ]


def test_a_huge_credential_is_413(
    api: TestClient, bea: Staff, laptop: SoftwareAuthenticator
) -> None:
    body = _tamper(passkey_body(api, bea, laptop), "response.signature", "A" * 70_000)
    response = api.post(SIGN_IN, json=body)
    assert (response.status_code, response.json()["error"]) == (413, "payload_too_large")


# ---------------------------------------------------------------- removing


def test_removing_a_passkey_needs_the_password(
    api: TestClient, db: Session, bea: Staff, bea_headers: dict[str, str]
) -> None:
    device = authenticator()
    added = register(api, bea_headers, device)
    path = f"{PASSKEYS}/{added['id']}"
    wrong = api.request("DELETE", path, headers=bea_headers, json={"password": "wrong one 12"})
    assert wrong.status_code == 400
    assert wrong.json()["detail"] == [{"field": "password", "message": "The password is wrong."}]
    (denied,) = audit_entries(db, action="denied")
    assert denied.reason == f"removing passkey {added['id']}: wrong password"
    member = db.get_one(StaffMember, bea.id)
    db.refresh(member)
    assert member.failed_attempts == 1
    assert api.request("DELETE", path, headers=bea_headers).status_code == 400  # no body
    right = api.request("DELETE", path, headers=bea_headers, json={"password": bea.password})
    assert right.status_code == 204
    assert api.get(PASSKEYS, headers=bea_headers).json() == {"passkeys": []}
    changes = audit_entries(db, action="staff_change", subject=f"staff:{bea.id}")
    assert changes[-1].reason == f"passkey {added['id']} ({NAME}) removed"
    assert changes[-1].staff_id == bea.id
    # The passkey signs in no more.
    refused = _refused(api, db, passkey_body(api, bea, device))
    assert refused == FactorOutcome.PASSKEY_UNKNOWN.value


def test_wrong_passwords_at_removal_lock_the_account_as_at_unlock(
    api: TestClient, db: Session, bea: Staff, bea_headers: dict[str, str]
) -> None:
    added = register(api, bea_headers, authenticator())
    path = f"{PASSKEYS}/{added['id']}"
    for attempt in range(10):
        api.request("DELETE", path, headers=bea_headers, json={"password": f"wrong {attempt:09}"})
    (lock,) = audit_entries(db, action="account_locked")
    assert lock.staff_id == bea.id
    locked = api.request("DELETE", path, headers=bea_headers, json={"password": bea.password})
    assert locked.json()["detail"] == [
        {"field": "password", "message": "The account is locked until 12:30 UTC."}
    ]
    assert len(api.get(PASSKEYS, headers=bea_headers).json()["passkeys"]) == 1


def test_another_members_passkey_is_not_found_like_a_missing_one(
    api: TestClient,
    db: Session,
    settings: Settings,
    keyring: Keyring,
    bea: Staff,
    laptop: SoftwareAuthenticator,
    clock: MovableClock,
) -> None:
    (beas,) = db.execute(select(StaffPasskey.id)).scalars()
    dora = make_staff(db, settings, keyring, email="dora@shop.example")
    clock.advance(seconds=30)
    dora_headers = signed_in(api, dora, clock.now)
    for passkey_id in (beas, beas + 1000):
        response = api.request(
            "DELETE", f"{PASSKEYS}/{passkey_id}", headers=dora_headers,
            json={"password": dora.password},
        )  # fmt: skip
        assert (response.status_code, response.json()["error"]) == (404, "not_found")
    assert api.get(PASSKEYS, headers=dora_headers).json() == {"passkeys": []}
    for bad, status in (("0", 400), (str(2**31), 400), ("-1", 404), ("x", 404)):
        response = api.request("DELETE", f"{PASSKEYS}/{bad}", headers=dora_headers,
                               json={"password": dora.password})  # fmt: skip
        assert response.status_code == status, bad
    options = api.request("DELETE", OPTIONS, headers=dora_headers, json={})
    assert (options.status_code, options.headers["allow"]) == (405, "POST")
