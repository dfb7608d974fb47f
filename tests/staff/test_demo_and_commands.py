"""The demo's staff (one per role, a known password, fixed secrets), `quietshop staff ...`
commands, and what refuses outside the demo."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from quietshop.cli import app
from quietshop.db import make_engine, upgrade_to_head
from quietshop.keyring import Keyring
from quietshop.settings import Settings
from quietshop.staff import demo, second_factor, service
from quietshop.staff.roles import Role
from tests.clock import T0
from tests.staff.conftest import REAL_HASHER, SIGN_IN

runner = CliRunner()


def test_the_demo_makes_one_enrolled_staff_member_per_role(db: Session, settings: Settings) -> None:
    shop = settings.model_copy(update={"demo": True})
    made = demo.seed_demo_staff(db, shop, T0)
    assert [person.role for person in made] == list(Role)
    assert made[0].email == "owner@staff.demo.invalid"
    assert made[2].email == "customer-service@staff.demo.invalid"
    listed = {p.email: (p.roles, p.status) for p in service.list_staff(db, T0)}
    assert len(listed) == 8
    assert listed["billing@staff.demo.invalid"] == ((Role.BILLING,), "active")
    # Fixed secrets: the same on every machine and every start.
    assert made[1].totp_secret == demo.demo_secret(Role.BILLING) and len(made[1].totp_secret) == 32
    assert demo.seed_demo_staff(db, shop, T0) == made  # once: a second start keeps them
    assert len(service.list_staff(db, T0)) == 8
    assert demo.current_code(db, shop, made[1].email, T0) == second_factor.code_at(
        made[1].totp_secret, T0
    )


def test_a_demo_staff_member_signs_in_with_the_printed_details(
    db: Session, settings: Settings, api: TestClient
) -> None:
    shop = settings.model_copy(update={"demo": True})
    owner = demo.seed_demo_staff(db, shop, T0)[0]
    code = demo.current_code(db, shop, owner.email, T0)
    body = {"email": owner.email, "password": demo.DEMO_PASSWORD, "code": code}
    response = api.post(SIGN_IN, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["owner"]
    lines = demo.sign_in_details(demo.demo_staff(), "https://localhost:8443")
    assert lines[0].startswith("Demo staff: sign in at https://localhost:8443/staff/sign-in")
    assert "quietshop staff code EMAIL" in lines[0] and demo.DEMO_PASSWORD in lines[0]
    assert len(lines) == 9 and owner.totp_secret in lines[1] and "owner" in lines[1]


def test_known_passwords_and_printed_codes_are_refused_outside_the_demo(
    db: Session, settings: Settings
) -> None:
    with pytest.raises(demo.NotTheDemo):
        demo.seed_demo_staff(db, settings, T0)
    with pytest.raises(demo.NotTheDemo):
        demo.current_code(db, settings, "owner@staff.demo.invalid", T0)


def test_staff_hashes_cost_what_the_customers_do() -> None:
    assert REAL_HASHER.hash("a password 12").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# ---------------------------------------------------------------- the commands


@pytest.fixture
def shop_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated SQLite shop in a data dir of its own, which the commands open."""
    data = tmp_path / "var"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'quietshop.db'}")
    upgrade_to_head(engine)
    engine.dispose()
    for name in ("QUIETSHOP_DATABASE_URL", "QUIETSHOP_DEMO", "QUIETSHOP_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(data))
    monkeypatch.setenv("QUIETSHOP_PUBLIC_BASE_URL", "https://shop.example")
    yield data


def test_add_list_roles_and_disable(shop_dir: Path) -> None:
    added = runner.invoke(
        app, ["staff", "add", "Bea Ledger", "bea@shop.example", "--role", "billing",
              "--role", "customer_service"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Added bea@shop.example (billing, customer_service)." in added.output
    assert re.search(r"^https://shop\.example/staff/enrol#token=[\w-]{43}$", added.output, re.M)
    listed = runner.invoke(app, ["staff", "list"])
    assert listed.exit_code == 0 and "bea@shop.example" in listed.output
    assert "not enrolled yet" in listed.output and "never" in listed.output
    changed = runner.invoke(app, ["staff", "roles", "bea@shop.example", "--role", "owner"])
    assert changed.exit_code == 0 and "bea@shop.example: owner" in changed.output
    disabled = runner.invoke(app, ["staff", "disable", "bea@shop.example", "--reason", "left"])
    assert disabled.exit_code == 0, disabled.output
    assert "disabled (left)" in runner.invoke(app, ["staff", "list"]).output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["staff", "add", "Bea", "bea@shop.example", "--role", "boss"], "unknown role boss"),
        (["staff", "add", "Bea", "not-an-address", "--role", "owner"], "not an email address"),
        (["staff", "disable", "nobody@shop.example"], "staff member not found"),
        (["staff", "roles", "nobody@shop.example", "--role", "owner"], "not found"),
        (["staff", "code", "owner@staff.demo.invalid"], "this is the demo's"),
    ],
)
def test_bad_input_is_one_line(shop_dir: Path, args: list[str], says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output


def test_code_prints_a_demo_staff_members_code(
    shop_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = Settings(data_dir=shop_dir, demo=True, secret_key=SecretStr("k" * 40))
    engine = make_engine(shop.resolved_database_url)
    from quietshop.db import make_session_factory, transaction

    with transaction(make_session_factory(engine)) as session:
        demo.seed_demo_staff(session, shop, T0)
    engine.dispose()
    monkeypatch.setenv("QUIETSHOP_DEMO", "true")
    printed = runner.invoke(app, ["staff", "code", "owner@staff.demo.invalid"])
    assert printed.exit_code == 0, printed.output
    assert re.fullmatch(r"\d{6}\n", printed.output)
    assert Keyring.load(shop.keyring_path).active_key_id  # the demo made its keyring
