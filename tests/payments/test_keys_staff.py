"""`quietshop keys` and the staff's TOTP secrets (P7, P8): the keyring seals them beside
the card numbers, so `status` counts them, `retire` refuses a key that still seals one,
and `rotate` re-seals them under the new key, after which staff sign in as before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from quietshop.app import build_app
from quietshop.cli import app as cli
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import passwords, service
from quietshop.staff.models import StaffMember
from tests.clock import T0, MovableClock
from tests.staff.conftest import CHEAP_HASHER, signed_in
from tests.staff.factories import Staff, make_staff

runner = CliRunner()


@dataclass(frozen=True)
class Shop:
    sessions: sessionmaker[Session]
    keyring_path: Path


@pytest.fixture
def shop(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    """The test settings' data dir with a migrated SQLite file and a keyring, as
    `quietshop migrate` and `quietshop keys init` leave it; the commands read it."""
    for name in list(os.environ):
        if name.startswith("QUIETSHOP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(passwords, "_HASHER", CHEAP_HASHER)
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings.resolved_database_url, connect_args={"check_same_thread": False})
    upgrade_to_head(engine)
    Keyring.create(settings.keyring_path, T0)
    yield Shop(make_session_factory(engine), settings.keyring_path)
    engine.dispose()


def enrolled(shop: Shop, settings: Settings, email: str) -> Staff:
    keyring = Keyring.load(shop.keyring_path)
    with transaction(shop.sessions) as session:
        return make_staff(session, settings, keyring, email=email)


def totp_keys(shop: Shop) -> dict[str, str | None]:
    with shop.sessions() as session:
        rows = session.execute(select(StaffMember.email, StaffMember.totp_key_id))
        return {email: key_id for email, key_id in rows}


def keys(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, ["keys", *args])
    return result.exit_code, result.output


def test_status_counts_the_staff_secrets_per_key(shop: Shop, settings: Settings) -> None:
    enrolled(shop, settings, "bea@shop.example")
    enrolled(shop, settings, "phil@shop.example")
    first = Keyring.load(shop.keyring_path).active_key_id
    code, output = keys("status")
    assert code == 0, output
    assert f"staff TOTP secret(s) per key: {first} 2" in output.splitlines()
    with shop.sessions() as session:
        assert service.totp_secrets_per_key(session) == {first: 2}


def test_retiring_a_key_that_still_seals_a_totp_secret_is_refused(
    shop: Shop, settings: Settings
) -> None:
    # Given a secret sealed under the first key, and a second key made active without
    # re-sealing (as an interrupted rotation would leave it)
    enrolled(shop, settings, "bea@shop.example")
    keyring = Keyring.load(shop.keyring_path)
    first = keyring.active_key_id
    keyring.rotate(T0)
    # When the first key is retired, it is refused and kept
    code, output = keys("retire", first)
    assert code == 2, output
    assert (
        f"1 staff TOTP secret(s) still use key {first}: run `quietshop keys rotate --resume` first"
    ) in output
    assert first in {key.id for key in Keyring.load(shop.keyring_path).key_infos()}


def test_rotate_reseals_the_secrets_and_staff_sign_in_as_before(
    shop: Shop, settings: Settings, clock: MovableClock
) -> None:
    bea = enrolled(shop, settings, "bea@shop.example")
    first = Keyring.load(shop.keyring_path).active_key_id
    app = build_app(settings, shop.sessions, clock=clock)
    with TestClient(app, base_url="https://testserver") as api:
        signed_in(api, bea, T0)  # the app has read the keyring
        # When the keys are rotated and the old one retired, from the command line
        code, output = keys("rotate")
        assert code == 0, output
        second = Keyring.load(shop.keyring_path).active_key_id
        assert f"1 staff TOTP secret(s) re-sealed under key {second}." in output
        assert "No stored card number is under an older key." in output
        assert totp_keys(shop) == {"bea@shop.example": second}
        code, output = keys("retire", first)
        assert code == 0, output
        # Then the running app opens the re-sealed secret with the new key
        clock.advance(60)
        headers = signed_in(api, bea, clock.now)
        assert api.get("/api/v1/staff/me", headers=headers).status_code == 200
    assert second != first
    # And a second rotation with nothing left under an older key moves nothing
    code, output = keys("rotate", "--resume")
    assert code == 0 and "re-sealed" not in output


def test_a_secret_that_does_not_open_is_left_and_named_and_keeps_its_key(
    shop: Shop, settings: Settings
) -> None:
    # Given Bea's sealed secret copied onto Phil's row (bound to Bea: it opens for no one else)
    enrolled(shop, settings, "bea@shop.example")
    enrolled(shop, settings, "phil@shop.example")
    first = Keyring.load(shop.keyring_path).active_key_id
    with transaction(shop.sessions) as session:
        bea_secret = session.execute(
            select(StaffMember.totp_ciphertext).where(StaffMember.email == "bea@shop.example")
        ).scalar_one()
        session.execute(
            update(StaffMember)
            .where(StaffMember.email == "phil@shop.example")
            .values(totp_ciphertext=bea_secret)
        )
    # When the keys are rotated
    code, output = keys("rotate")
    # Then Bea's moves, Phil's stays under the first key, and the run says so
    assert code == 1, output
    second = Keyring.load(shop.keyring_path).active_key_id
    assert "1 staff TOTP secret(s) re-sealed under key" in output
    assert "1 staff TOTP secret(s) did not open and stay under older keys." in output
    assert totp_keys(shop) == {"bea@shop.example": second, "phil@shop.example": first}
    code, output = keys("retire", first)
    assert code == 2 and "1 staff TOTP secret(s) still use key" in output


def test_the_keys_group_alone_knows_no_staff_secrets(shop: Shop, settings: Settings) -> None:
    """payments/commands.py imports no other domain: run on its own (as its own tests do),
    the group counts card numbers only; the staff part comes from cli.py."""
    from quietshop.payments.commands import keys_app

    enrolled(shop, settings, "bea@shop.example")
    result = runner.invoke(keys_app, ["status"])
    assert result.exit_code == 0 and "TOTP" not in result.output
