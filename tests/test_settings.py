"""Settings: built in one place, required secrets checked at start-up with one line each,
and the demo's marker shared by every process that reads its data dir (defects 1, 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from quietshop.settings import Settings, load_settings, write_demo_marker

KEY = SecretStr("k" * 40)


def test_a_real_shop_names_every_missing_secret(tmp_path: Path) -> None:
    problems = Settings(data_dir=tmp_path).start_up_problems()
    assert len(problems) == 2
    assert problems[0].startswith("QUIETSHOP_SECRET_KEY is not set")
    assert problems[1].startswith("QUIETSHOP_PUBLIC_BASE_URL is not set")
    assert all("\n" not in line for line in problems)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"secret_key": SecretStr("too short")}, "QUIETSHOP_SECRET_KEY has 9 characters"),
        ({"public_base_url": "http://shop.example"}, "QUIETSHOP_PUBLIC_BASE_URL must look like"),
        ({"public_base_url": "https://shop.example/shop"}, "QUIETSHOP_PUBLIC_BASE_URL must"),
        ({"public_base_url": "https://"}, "QUIETSHOP_PUBLIC_BASE_URL must look like"),
        ({"smtp_username": "shop"}, "QUIETSHOP_SMTP_PASSWORD is not"),
    ],
)
def test_a_wrong_setting_is_named(tmp_path: Path, changes: dict[str, object], named: str) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=KEY, public_base_url="https://shop.example")
    problems = settings.model_copy(update=changes).start_up_problems()
    assert len(problems) == 1 and named in problems[0], problems


def test_a_configured_shop_and_the_demo_start_without_complaint(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path, secret_key=KEY, public_base_url="https://shop.example")
    assert configured.start_up_problems() == []
    assert Settings(data_dir=tmp_path, demo=True).start_up_problems() == []


def test_the_demo_marker_makes_a_data_dir_the_demo_for_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("QUIETSHOP_DEMO", "QUIETSHOP_PUBLIC_BASE_URL", "QUIETSHOP_HTTPS_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(tmp_path))
    assert load_settings().demo is False
    write_demo_marker(Settings(data_dir=tmp_path, https_port=9443))
    # Another shell, with none of the server's variables: the same links.
    later = load_settings()
    assert later.demo and later.base_url == "https://localhost:9443"
    monkeypatch.setenv("QUIETSHOP_PUBLIC_BASE_URL", "https://shop.example")
    assert load_settings().base_url == "https://shop.example"  # a configured URL wins


def test_a_damaged_marker_still_means_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("QUIETSHOP_PUBLIC_BASE_URL", raising=False)
    (tmp_path / "demo.json").write_text("{not json")
    assert load_settings().demo is True
