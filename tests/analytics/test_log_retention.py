"""P5, issue 10 item 6: raw access logs are rotated daily by rename and deleted after the
retention; the writers follow the rename and lose no line."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from quietshop.analytics.log_retention import AccessLogRetention, clf_day, start_log_retention
from quietshop.settings import Settings
from quietshop.web.access_log import AccessLogFile, format_line
from tests.clock import T0, MovableClock

YESTERDAY = date(2026, 11, 24)  # T0 is 2026-11-25 12:00 UTC


def line_at(when: datetime, path: str = "/privacy") -> str:
    return format_line(
        client_ip="203.0.113.7",
        when=when,
        method="GET",
        target=path,
        http_version="1.1",
        status=200,
        sent_bytes=512,
        referrer="-",
        user_agent="Firefox/140",
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "log" / "access.log"


def retention_for(log_path: Path, clock: MovableClock, days: int = 30) -> AccessLogRetention:
    return AccessLogRetention(log_path, days, clock)


def write_log(path: Path, *moments: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line_at(at(moment)) for moment in moments))


def names(directory: Path) -> set[str]:
    return {entry.name for entry in directory.iterdir()}


def test_rotation_names_the_file_by_its_first_lines_day(log_path: Path) -> None:
    write_log(log_path, "2026-11-24T23:58:00", "2026-11-25T00:00:30")
    before = log_path.read_text()
    rotated, deleted = retention_for(log_path, MovableClock()).run_once()
    assert rotated == log_path.parent / "access.log.2026-11-24" and deleted == []
    assert names(log_path.parent) == {"access.log.2026-11-24"}  # access.log comes back on write
    assert rotated.read_text() == before


def test_a_log_that_began_today_is_not_rotated(log_path: Path) -> None:
    write_log(log_path, "2026-11-25T00:00:00", "2026-11-25T11:59:59")
    assert retention_for(log_path, MovableClock()).run_once() == (None, [])
    assert names(log_path.parent) == {"access.log"}


def test_the_day_is_the_utc_day_of_the_clock(log_path: Path) -> None:
    """Midnight UTC is the boundary, whatever zone the clock's moment is given in."""
    write_log(log_path, "2026-11-25T00:00:00")
    clock = MovableClock(datetime(2026, 11, 26, 0, 30, tzinfo=timezone(timedelta(hours=2))))
    retention = retention_for(log_path, clock)
    assert retention.run_once() == (None, [])  # still 2026-11-25 in UTC
    clock.advance(hours=2)
    assert retention.run_once()[0] == log_path.with_name("access.log.2026-11-25")


def test_a_taken_name_gets_a_suffix(log_path: Path) -> None:
    log_path.parent.mkdir()
    (log_path.parent / "access.log.2026-11-24").write_text("earlier\n")
    (log_path.parent / "access.log.2026-11-24.1").write_text("earlier still\n")
    write_log(log_path, "2026-11-24T10:00:00")
    rotated, _ = retention_for(log_path, MovableClock()).run_once()
    assert rotated is not None and rotated.name == "access.log.2026-11-24.2"
    assert (log_path.parent / "access.log.2026-11-24").read_text() == "earlier\n"
    assert "10:00:00" in rotated.read_text()


def test_files_past_the_retention_go_and_the_rest_stay(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Today is 2026-11-25; with 30 days the oldest day kept is 2026-10-26."""
    directory = log_path.parent
    directory.mkdir()
    expired = ["access.log.2026-10-25", "access.log.2026-10-25.1", "access.log.2025-01-01"]
    kept = ["access.log.2026-10-26", "access.log.2026-11-24", "access.log.2026-11-24.3"]
    strange = ["access.log.1", "access.log.gz", "access.log.2026-13-45", "access.log.2020-01-01x"]
    for name in expired + kept + strange:
        (directory / name).write_text("x\n")
    (directory / "error.log.2020-01-01").write_text("not ours\n")
    write_log(log_path, "2026-11-25T08:00:00")
    with caplog.at_level(logging.WARNING, "quietshop.analytics"):
        rotated, deleted = retention_for(log_path, MovableClock()).run_once()
    assert rotated is None
    assert sorted(path.name for path in deleted) == sorted(expired)
    assert names(directory) == {"access.log", "error.log.2020-01-01", *kept, *strange}
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert all(name in warned for name in strange)


def test_the_retention_is_counted_in_whole_days(log_path: Path) -> None:
    directory = log_path.parent
    directory.mkdir()
    for name in ("access.log.2026-11-23", "access.log.2026-11-24"):
        (directory / name).write_text("x\n")
    retention_for(log_path, MovableClock(), days=1).run_once()
    assert names(directory) == {"access.log.2026-11-24"}


def test_an_old_access_log_is_rotated_then_deleted_but_never_deleted_as_itself(
    log_path: Path,
) -> None:
    """A server down for months: its log's day is long past. It is renamed first (so it is
    a day's file like any other), and that file goes; the name access.log never does."""
    write_log(log_path, "2026-01-01T09:00:00")
    retention = retention_for(log_path, MovableClock())
    assert retention.delete_expired(T0.date()) == []  # deletion alone leaves access.log be
    assert log_path.exists()
    rotated, deleted = retention.run_once()
    assert rotated is not None and deleted == [rotated]
    assert not log_path.parent.joinpath("access.log.2026-01-01").exists()


def test_an_access_log_that_is_not_clf_is_left_alone_and_logged_once(
    log_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path.parent.mkdir()
    log_path.write_text("hand-written note\n" + line_at(at("2026-01-01T09:00:00")))
    retention = retention_for(log_path, MovableClock(), days=1)
    with caplog.at_level(logging.WARNING, "quietshop.analytics"):
        assert retention.run_once() == (None, [])
        assert retention.run_once() == (None, [])
    assert names(log_path.parent) == {"access.log"}
    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert "not rotated" in warning.getMessage()


def test_a_missing_or_empty_log_is_nothing_to_do(log_path: Path) -> None:
    retention = retention_for(log_path, MovableClock())
    assert retention.run_once() == (None, [])  # not even its folder exists yet
    log_path.parent.mkdir()
    log_path.touch()
    assert retention.run_once() == (None, [])
    assert names(log_path.parent) == {"access.log"}


def test_a_second_round_does_nothing(log_path: Path) -> None:
    write_log(log_path, "2026-11-20T10:00:00")
    (log_path.parent / "access.log.2026-09-01").write_text("x\n")
    retention = retention_for(log_path, MovableClock())
    first = retention.run_once()
    assert first[0] is not None and len(first[1]) == 1
    after_first = names(log_path.parent)
    assert retention.run_once() == (None, [])
    assert names(log_path.parent) == after_first == {"access.log.2026-11-20"}


def test_a_writer_follows_the_rename_within_a_minute_and_loses_no_line(log_path: Path) -> None:
    clock = MovableClock(at("2026-11-25T23:59:10"))
    writer = AccessLogFile(log_path)
    written = []

    def write(moment: str) -> None:
        line = line_at(at(moment), f"/n{len(written)}")
        written.append(line)
        writer.write(line)

    try:
        write("2026-11-25T23:59:10")
        write("2026-11-25T23:59:40")
        clock.advance(seconds=60)  # 00:00:10 of the next day: serve's round renames
        rotated, _ = retention_for(log_path, clock).run_once()
        assert rotated is not None and rotated.name == "access.log.2026-11-25"
        write("2026-11-25T23:59:59")  # this minute was looked at: into the renamed file
        assert not log_path.exists()
        write("2026-11-26T00:00:20")  # a new minute: the writer looks, and reopens
        write("2026-11-26T00:00:50")
    finally:
        writer.close()
    old, new = rotated.read_text().splitlines(True), log_path.read_text().splitlines(True)
    assert old == written[:3] and new == written[3:]
    assert sorted(old + new) == sorted(written)
    assert log_path.stat().st_mode & 0o037 == 0  # 0o640 at most: others may not read it
    assert retention_for(log_path, clock).run_once() == (None, [])  # the new log is today's


def test_a_writer_whose_file_was_deleted_makes_a_new_one(log_path: Path) -> None:
    writer = AccessLogFile(log_path)
    try:
        writer.write(line_at(at("2026-11-25T10:00:00")))
        log_path.unlink()
        writer.write(line_at(at("2026-11-25T10:01:00")))
    finally:
        writer.close()
    assert log_path.read_text() == line_at(at("2026-11-25T10:01:00"))


def test_the_thread_runs_a_round_at_once(log_path: Path) -> None:
    """Its first round comes before its first wait, so stopping it at once still ran it."""
    write_log(log_path, "2026-11-24T10:00:00")
    job = start_log_retention(retention_for(log_path, MovableClock()), interval_seconds=3600)
    job.stop(timeout=5)
    assert not job.thread.is_alive()
    assert names(log_path.parent) == {"access.log.2026-11-24"}


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("[02/Dec/2026:15:04:05 +0000]", date(2026, 12, 2)),
        ("[02/Dec/2026:23:30:00 -0100]", date(2026, 12, 3)),  # an nginx in another zone
        ("[02/Dec/2026:00:30:00 +0200]", date(2026, 12, 1)),
        ("[31/Feb/2026:00:00:00 +0000]", None),
        ("[02/Dez/2026:15:04:05 +0000]", None),
        ("02/Dec/2026:15:04:05 +0000", None),
    ],
)
def test_the_day_of_a_clf_line(stamp: str, day: date | None) -> None:
    assert clf_day(f'203.0.113.7 - - {stamp} "GET / HTTP/1.1" 200 5 "-" "x"') == day


def test_the_retention_setting_and_its_bounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings(data_dir=tmp_path).access_log_retention_days == 30
    for days in (0, 3651):
        with pytest.raises(ValidationError, match="access_log_retention_days"):
            Settings(data_dir=tmp_path, access_log_retention_days=days)
    assert Settings(data_dir=tmp_path, access_log_retention_days=1).access_log_retention_days == 1
    monkeypatch.setenv("QUIETSHOP_ACCESS_LOG_RETENTION_DAYS", "3650")
    assert Settings(data_dir=tmp_path).access_log_retention_days == 3650
