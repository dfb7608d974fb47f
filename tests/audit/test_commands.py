"""`quietshop audit seal|verify|export` on a data dir as `quietshop migrate` leaves it, and
the re-verifying script printed in docs/deployment.md, run as printed. The commands read
the system clock; here they read a fixed one, ten seconds after the fixture's entries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from quietshop.audit import service as audit
from quietshop.audit.commands import audit_app
from quietshop.db import make_engine, make_session_factory, transaction, upgrade_to_head
from tests.audit.conftest import event
from tests.clock import T0

NOW = T0 + timedelta(seconds=10)

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    """A data dir with a migrated SQLite database holding three staff reads, sealed."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    for name in list(os.environ):
        if name.startswith("QUIETSHOP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("quietshop.audit.commands.system_clock", lambda: NOW)
    engine = make_engine(f"sqlite:///{data_dir / 'quietshop.db'}")
    upgrade_to_head(engine)
    sessions = make_session_factory(engine)
    for n in range(3):
        audit.record(sessions, event(subject=f"order:{n}"), T0)
    audit.seal(sessions, T0)
    yield sessions
    engine.dispose()


def _tamper(sessions: sessionmaker[Session], sql: str) -> None:
    with transaction(sessions) as session:
        session.execute(text(sql))


def _head(sessions: sessionmaker[Session]) -> audit.ChainHead:
    with sessions() as session:
        head = audit.chain_head(session)
    assert head is not None
    return head


def _lines(output: str) -> list[str]:
    return output.splitlines()


def test_verify_logs_its_read_then_reports_the_intact_chain_and_what_waits(
    shop: sessionmaker[Session],
) -> None:
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 0, result.output
    head = _head(shop)
    assert _lines(result.output)[-2:] == [
        f"intact: 3 entries, head {head.hash}",
        "not sealed yet: 1 entries, the oldest entry 4 appended at 2026-11-25T12:00:10.000000Z.",
    ]  # its own read, appended just before the walk
    with shop() as session:
        (read,) = audit.entries(session, audit.AuditFilter(action="audit_read"), 10)
    assert (read.id, read.staff_id, read.role, read.origin) == (4, None, "operator", "cli")
    assert (read.subject, read.reason, read.seq) == ("audit:chain", "quietshop audit verify", None)


def test_seal_chains_what_waits_and_says_so(shop: sessionmaker[Session]) -> None:
    audit.record(shop, event(subject="order:3"), T0)
    result = runner.invoke(audit_app, ["seal"])
    assert result.exit_code == 0, result.output
    assert _lines(result.output) == [f"sealed 1 entries; head seal 4, hash {_head(shop).hash}"]
    again = runner.invoke(audit_app, ["seal"])
    assert _lines(again.output) == [f"sealed 0 entries; head seal 4, hash {_head(shop).hash}"]


def test_an_entry_left_unsealed_too_long_fails_verify(
    shop: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    audit.record(shop, event(subject="held back"), T0)
    monkeypatch.setenv("QUIETSHOP_AUDIT_UNSEALED_LIMIT_MINUTES", "0.1")  # six seconds
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 1
    assert _lines(result.output)[-1] == (
        "HELD BACK: not sealed yet: 2 entries, the oldest entry 4 appended at "
        "2026-11-25T12:00:00.000000Z, longer ago than 0:00:06: the sealer is not running, or "
        "someone held the entry back (`quietshop audit seal` seals it)."
    )
    assert runner.invoke(audit_app, ["seal"]).exit_code == 0
    assert runner.invoke(audit_app, ["verify"]).exit_code == 0  # only its own read waits


def test_verify_names_the_first_broken_entry_and_exits_1(shop: sessionmaker[Session]) -> None:
    _tamper(shop, "UPDATE audit_entries SET reason = 'changed' WHERE id = 2")
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 1
    assert _lines(result.output)[-1] == (
        "BROKEN at entry 2 (seal 2): its content does not match its seal's hash (a value was "
        "changed). The 1 entries before it are intact."
    )


def test_export_seals_writes_the_head_and_verify_checks_it_is_still_there(
    shop: sessionmaker[Session], tmp_path: Path
) -> None:
    printed = runner.invoke(audit_app, ["export"])
    assert printed.exit_code == 0, printed.output
    head = _head(shop)  # the export's own audit_read entry, sealed before the head is read
    assert json.loads(printed.output) == {
        "seq": 4, "hash": head.hash, "entry_id": 4, "at": "2026-11-25T12:00:10.000000Z",
        "count": 4,
    }  # fmt: skip
    kept = tmp_path / "head.json"
    written = runner.invoke(audit_app, ["export", "--output", str(kept)])
    assert written.exit_code == 0 and "Chain head written to" in written.output
    assert json.loads(kept.read_text())["seq"] == 5

    checked = runner.invoke(audit_app, ["verify", "--head", str(kept)])
    assert checked.exit_code == 0, checked.output
    assert _lines(checked.output)[-3:] == [
        f"intact: 5 entries, head {_head(shop).hash}",
        "not sealed yet: 1 entries, the oldest entry 6 appended at 2026-11-25T12:00:10.000000Z.",
        "The exported head, seal 5, is still in the chain.",
    ]


def test_a_chain_cut_back_past_the_exported_head_is_caught_by_it(
    shop: sessionmaker[Session], tmp_path: Path
) -> None:
    """Cutting seals and entries off the end leaves an intact chain: only a kept head
    shows it."""
    kept = tmp_path / "head.json"
    assert runner.invoke(audit_app, ["export", "--output", str(kept)]).exit_code == 0
    exported = json.loads(kept.read_text())
    _tamper(shop, "DELETE FROM audit_seals WHERE seq >= 3")
    _tamper(shop, "DELETE FROM audit_entries WHERE id >= 3")
    result = runner.invoke(audit_app, ["verify", "--head", str(kept)])
    assert result.exit_code == 1
    assert _lines(result.output)[-3] == f"intact: 2 entries, head {_head(shop).hash}"
    assert _lines(result.output)[-1] == (
        f"The exported head, seal 4 with hash {exported['hash']}, is NOT in the chain: it "
        "was rewritten or cut back since that head was exported."
    )


@pytest.mark.parametrize("content", ["", "not json", '{"id": 1}', "[1, 2]"])
def test_a_head_file_that_is_not_one_is_one_line_and_logs_nothing(
    shop: sessionmaker[Session], tmp_path: Path, content: str
) -> None:
    bad = tmp_path / "head.json"
    bad.write_text(content)
    result = runner.invoke(audit_app, ["verify", "--head", str(bad)])
    assert result.exit_code == 2
    assert "head: not an exported chain head" in result.output
    with shop() as session:
        assert audit.entry_count(session) == 3  # refused before reading the log


def test_the_commands_need_a_migrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUIETSHOP_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("QUIETSHOP_DATABASE_URL", raising=False)
    for command in ("seal", "verify", "export"):
        result = runner.invoke(audit_app, [command])
        assert result.exit_code == 2 and "no Quietshop database" in result.output


# ---------------------------------------------------------------- the documented script


def _documented_script() -> str:
    deployment = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- reverify-script -->\n```python\n(.*?)```", deployment, re.S)
    assert found is not None, "the script is gone from docs/deployment.md"
    return found.group(1)


def test_the_script_in_the_deployment_guide_reverifies_the_chain(
    shop: sessionmaker[Session], tmp_path: Path
) -> None:
    script = tmp_path / "reverify.py"
    script.write_text(_documented_script())
    assert len(script.read_text().splitlines()) <= 20
    database = tmp_path / "var" / "quietshop.db"
    audit.record(shop, event(reason='Two lines,\n"quoted" — ünïcode', fields=("a,b",)), T0)
    audit.seal(shop, T0)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), str(database)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

    intact = run()
    assert (intact.returncode, intact.stdout) == (
        0,
        f"intact: 4 entries, head {_head(shop).hash}\n",
    )
    _tamper(shop, "UPDATE audit_entries SET customer_id = 13 WHERE id = 3")
    broken = run()
    assert (broken.returncode, broken.stderr) == (1, "broken at seal 3\n")
    _tamper(shop, "UPDATE audit_entries SET customer_id = 12 WHERE id = 3")
    _tamper(shop, "DELETE FROM audit_entries WHERE id = 2")
    assert (run().returncode, run().stderr) == (1, "broken at seal 2\n")
