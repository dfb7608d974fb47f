"""Fixtures the analytics tests share: a shop database migrated once per module, and a
data dir as `quietshop migrate` leaves it for the commands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Engine

from quietshop.db import make_engine, upgrade_to_head
from tests.analytics.test_ingest import NOW


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shop database migrated to head once; each shop starts from a copy of it."""
    path = tmp_path_factory.mktemp("migrated") / "shop.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    engine.dispose()
    return path


def command_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Engine]:
    """A data dir as `quietshop migrate` leaves it, the environment naming only it (node
    node-a, k the default), the commands' clock at NOW; the dir and its database's engine
    (the caller disposes of it)."""
    path = tmp_path / "var"
    (path / "log").mkdir(parents=True)
    for name in list(os.environ):
        if name.startswith("QUIETSHOP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(path))
    monkeypatch.setenv("QUIETSHOP_ANALYTICS_NODE", "node-a")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("quietshop.analytics.commands.system_clock", lambda: NOW)
    engine = make_engine(f"sqlite:///{path / 'quietshop.db'}")
    upgrade_to_head(engine)
    return path, engine
