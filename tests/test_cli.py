"""The `quietshop` command: help for every command, migrate, and the demo loader."""

from __future__ import annotations

import os
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
    assert again.returncode == 0 and "already loaded" in again.stdout
    assert len(list((tmp_path / "var" / "images").glob("*.svg"))) == 40
