"""The `quietshop` command: help for every command, migrate, and the demo loader."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from quietshop.cli import app

runner = CliRunner()


def test_help_lists_every_command_with_a_description() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("migrate", "serve", "demo"):
        line = next(line for line in result.output.splitlines() if f" {command} " in line)
        assert len(line.split(command, 1)[1].strip(" │")) > 10


def test_migrate_and_demo_into_a_fresh_data_dir(tmp_path: Path) -> None:
    env = {**os.environ, "QUIETSHOP_DATA_DIR": str(tmp_path / "var")}
    env.pop("QUIETSHOP_DATABASE_URL", None)
    quietshop = [sys.executable, "-m", "quietshop.cli"]
    migrate = subprocess.run(
        [*quietshop, "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrate.returncode == 0, migrate.stderr
    assert (tmp_path / "var" / "quietshop.db").exists()
    demo = subprocess.run(
        [*quietshop, "demo", "--no-serve", "--products", "40"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "Demo catalog loaded: 40 products" in demo.stdout
    again = subprocess.run(
        [*quietshop, "demo", "--no-serve", "--products", "40"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "already loaded (40 products)" in again.stdout
    assert "Loading" not in again.stdout and "0/1200" not in again.stdout  # no empty bar
    assert len(list((tmp_path / "var" / "images").glob("*.svg"))) == 40
    assert json.loads((tmp_path / "var" / "demo.json").read_text())["public_base_url"] == (
        "https://localhost:8443"
    )


def quietshop(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quietshop.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHOP_")}


def test_mail_list_outside_the_project_folder_says_so_in_one_line(tmp_path: Path) -> None:
    """Defect 15: this used to end in a 464-line traceback."""
    result = quietshop("mail", "list", cwd=tmp_path, env=clean_environment())
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    database = (tmp_path / "var" / "quietshop.db").resolve()
    assert line.startswith(f"quietshop: no Quietshop database at {database}:")
    assert "QUIETSHOP_DATA_DIR" in line
    assert not (tmp_path / "var" / "quietshop.db").exists()  # and none was created


def test_a_real_shop_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    """Defect 1: required secrets are checked at start-up, one line for each."""
    env = {**clean_environment(), "QUIETSHOP_DATA_DIR": str(tmp_path / "var")}
    result = quietshop("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 3
    assert "QUIETSHOP_SECRET_KEY is not set" in lines[0]
    assert "QUIETSHOP_PUBLIC_BASE_URL is not set" in lines[1]
    assert "keyring" in lines[2] and "quietshop keys init" in lines[2]


def test_a_busy_port_is_one_line_with_the_cause_and_the_fix(tmp_path: Path) -> None:
    """Defect 15: this used to be an 87-line traceback."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {
            **clean_environment(),
            "QUIETSHOP_DATA_DIR": str(tmp_path / "var"),
            "QUIETSHOP_HTTPS_PORT": str(port),
            "QUIETSHOP_HTTP_PORT": "0",
            "QUIETSHOP_SECRET_KEY": "s" * 40,
            "QUIETSHOP_PUBLIC_BASE_URL": "https://shop.example",
            "QUIETSHOP_SEND_MAIL_IN_PROCESS": "false",
        }
        assert quietshop("migrate", cwd=tmp_path, env=env).returncode == 0
        assert quietshop("keys", "init", cwd=tmp_path, env=env).returncode == 0
        result = quietshop("serve", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert f"port {port}" in line and "Address already in use" in line
    assert "QUIETSHOP_HTTPS_PORT" in line


def test_a_setting_that_does_not_parse_is_named(tmp_path: Path) -> None:
    env = {**clean_environment(), "QUIETSHOP_HTTPS_PORT": "eighty"}
    result = quietshop("mail", "list", cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("quietshop: QUIETSHOP_HTTPS_PORT:")
