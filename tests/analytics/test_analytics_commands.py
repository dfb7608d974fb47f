"""`quietshop analytics ingest [FILE...]` through the command line (issue 10, item 2): the
shop's own logs by default, named files (an nginx in front, with X-Forwarded-For from a
trusted proxy), what it prints, and the failures a person meets: a missing file, a store
another ingestion holds. The command reads the system clock; here it reads a fixed one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from quietshop.analytics.models import TrafficCell, TrafficDay
from quietshop.cli import app
from quietshop.db import make_session_factory
from tests.analytics.conftest import command_data_dir
from tests.analytics.test_ingest import NOW, TODAY, line, lines
from tests.analytics.test_traffic_job import holding_the_store

runner = CliRunner()


@dataclass
class DataDir:
    path: Path
    sessions: sessionmaker[Session]

    @property
    def log_dir(self) -> Path:
        return self.path / "log"

    def pageviews(self) -> dict[str, int]:
        with self.sessions() as session:
            days = session.execute(select(TrafficDay)).scalars()
            return {row.day.isoformat(): row.pageviews for row in days if row.pageviews}

    def countries(self) -> dict[str, int]:
        with self.sessions() as session:
            cells = session.execute(
                select(TrafficCell).where(TrafficCell.dimension == "country")
            ).scalars()
            return {cell.value: cell.hits for cell in cells}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataDir]:
    """A data dir as `quietshop migrate` leaves it, the environment naming only it."""
    path, engine = command_data_dir(tmp_path, monkeypatch)
    yield DataDir(path, make_session_factory(engine))
    engine.dispose()


def ingest(*files: Path) -> Result:
    return runner.invoke(app, ["analytics", "ingest", *map(str, files)])


def summary(result: Result) -> list[str]:
    """What the command printed after its progress bar."""
    printed = result.stdout.splitlines()
    return [text for text in printed if not text.startswith("Ingesting")]


def test_without_files_it_reads_the_shops_own_logs_rotated_first(data_dir: DataDir) -> None:
    yesterday = NOW - timedelta(days=1)
    rotated = data_dir.log_dir / f"access.log.{yesterday.date()}"
    rotated.write_text(lines(3, yesterday))
    current = data_dir.log_dir / "access.log"
    current.write_text(lines(2, NOW - timedelta(hours=1), 10) + "junk\n")
    (data_dir.log_dir / "error.log").write_text("not an access log\n")  # not read

    result = ingest()
    assert result.exit_code == 0, result.output
    assert summary(result) == [
        f"{rotated}: 3 lines, 3 counted",
        f"{current}: 3 lines, 2 counted",
        "  rejected, not combined log format: 1 (lines 3)",
        f"Counted 2 day(s) anew, {yesterday.date()} to {TODAY}.",
    ]
    assert data_dir.pageviews() == {str(yesterday.date()): 3, str(TODAY): 2}

    again = ingest()
    assert again.exit_code == 0
    assert summary(again) == [f"{rotated}: 0 lines, 0 counted", f"{current}: 0 lines, 0 counted"]
    assert data_dir.pageviews() == {str(yesterday.date()): 3, str(TODAY): 2}


def test_with_no_log_at_all_it_says_so_and_counts_nothing(data_dir: DataDir) -> None:
    """No access.log yet (a fresh shop): no error, one line saying where it looked."""
    result = ingest()
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"No access log in {data_dir.log_dir} yet: nothing to read."
    ]
    assert data_dir.pageviews() == {}


def test_named_files_with_what_was_left_out_and_where_it_stopped(
    data_dir: DataDir, tmp_path: Path
) -> None:
    at = NOW - timedelta(hours=2)
    nginx = tmp_path / "nginx-access.log"
    nginx.write_text(
        line("81.2.69.142", at)
        + line("81.2.69.142", at, "/static/site.css")
        + line("8.8.8.8", at, agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
        + "{}\n"
        + line("8.8.8.8", at).replace("2026:", "1970:", 1)
    )
    result = ingest(nginx)
    assert result.exit_code == 0, result.output
    assert summary(result) == [
        f"{nginx}: 5 lines, 1 counted; left out: asset 1, bot 1",
        "  rejected, absurd date: 1 (lines 5)",
        "  rejected, not combined log format: 1 (lines 4)",
        f"Counted 1 day(s) anew, {TODAY} to {TODAY}.",
    ]
    nginx.write_text(line("81.2.69.142", at))  # replaced: same first line, shorter
    replaced = ingest(nginx)
    assert replaced.exit_code == 0
    assert summary(replaced) == [
        f"{nginx}: 0 lines, 0 counted",
        "  stopped: file changed since it was last read",
    ]
    assert data_dir.pageviews() == {str(TODAY): 1}


def test_x_forwarded_for_is_believed_only_from_the_configured_proxies(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = NOW - timedelta(hours=1)
    log = tmp_path / "nginx-main.log"
    log.write_text(
        line("10.0.0.5", at, forwarded="81.2.69.142")  # our proxy, for GB
        + line("1.1.1.1", at, forwarded="8.8.8.8")  # AU, claiming to be for US
    )
    monkeypatch.setenv("QUIETSHOP_TRUSTED_PROXIES", "10.0.0.0/8")
    result = ingest(log)
    assert result.exit_code == 0, result.output
    assert data_dir.countries() == {"GB": 1, "AU": 1}


def test_a_missing_file_is_named_and_no_file_is_read(data_dir: DataDir, tmp_path: Path) -> None:
    """The files are checked before any is read: one line on stderr, exit status 2, and
    the others' positions untouched, so the next run reads them whole."""
    good = tmp_path / "access.log"
    good.write_text(lines(4, NOW - timedelta(hours=1)))
    missing = tmp_path / "gone.log"
    result = ingest(good, missing)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"quietshop: FILE: {missing} is not a file"]
    assert data_dir.pageviews() == {}
    later = ingest(good)
    assert later.exit_code == 0
    assert summary(later)[0] == f"{good}: 4 lines, 4 counted"


def test_a_directory_is_refused_as_a_file(data_dir: DataDir, tmp_path: Path) -> None:
    """Typer's own check (dir_okay=False): a usage error, exit status 2, nothing read."""
    result = ingest(tmp_path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"file '{tmp_path}' is a directory" in " ".join(result.stderr.split())
    assert data_dir.pageviews() == {}


def test_while_another_ingestion_runs_it_says_so_in_one_line(data_dir: DataDir) -> None:
    log = data_dir.log_dir / "access.log"
    log.write_text(lines(2, NOW - timedelta(hours=1)))
    with holding_the_store(data_dir.path / "analytics"):
        result = ingest()
    assert result.exit_code == 2
    (message,) = result.stderr.splitlines()
    assert message.startswith("quietshop: another ingestion has ") and message.endswith("open")
    assert data_dir.pageviews() == {}
    assert ingest().exit_code == 0 and data_dir.pageviews() == {str(TODAY): 2}
