"""Issue 10, item 2 and "Bad input": ``analytics/ingest.py`` on the logs a shop really
meets. Each test ingests into a fresh SQLite shop database (a copy of one migrated once)
and a store of its own, at a fixed ``now``; "counted once" is checked by comparing every
aggregate row with a clean ingestion of the same lines in another fresh shop.

- the same lines under another name, as a copy, gzipped or rotated count nothing twice;
- a file that grows, ends in half a line, is rotated, truncated or replaced is read on
  from where it stopped, or refused with an error, never counted twice;
- a stop in the middle leaves the store and the aggregates as a whole slice before it;
- lines of a sealed day are rejected; bad lines are rejected with reasons and sample
  line numbers; a missing path or a directory is an error that stops only its own file;
- a file far larger than memory is read in bounded slices (a 512 MiB sparse file, peak
  memory measured in a child process);
- X-Forwarded-For is believed only from a configured proxy.
"""

from __future__ import annotations

import functools
import gzip
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop import db
from quietshop.analytics import aggregates, clf, store
from quietshop.analytics.clf import Reason, Rejected
from quietshop.analytics.ingest import (
    DAY_SEALED,
    FILE_CHANGED,
    FileResult,
    Ingestion,
    IngestResult,
    ingest,
    seal,
)
from quietshop.analytics.models import TrafficCell, TrafficDay, TrafficHour
from quietshop.analytics.store import StoreBusyError
from quietshop.db import make_engine, make_session_factory
from tests.analytics.test_log_generator import generator
from tests.analytics.test_traffic_job import holding_the_store
from tests.clock import T0

NOW = T0  # 2026-11-25 12:00 UTC
TODAY = NOW.date()
RETENTION_DAYS = 30
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
# A generated nginx log (bench/make_access_log.py) of the three days before NOW, with
# garbage lines of every kind among its lines.
GENERATED_LINES, GENERATED_DAYS, GENERATED_GARBAGE = 3000, 3, 12


def line(
    host: str,
    when: datetime,
    path: str = "/products/cable",
    *,
    agent: str = UA,
    forwarded: str | None = None,
) -> str:
    """One line as nginx's combined format writes it, or its "main" one (forwarded)."""
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    tail = "" if forwarded is None else f' "{forwarded}"'
    return f'{host} - - [{stamp}] "GET {path} HTTP/1.1" 200 512 "-" "{agent}"{tail}\n'


def lines(count: int, start: datetime, first: int = 1) -> str:
    """``count`` pageviews a minute apart, from ``count`` visitors (one address each)."""
    return "".join(
        line(f"198.51.{(first + n) // 250}.{(first + n) % 250}", start + timedelta(minutes=n))
        for n in range(count)
    )


@functools.cache
def generated_log(garbage: int = GENERATED_GARBAGE) -> bytes:
    make = generator()
    end = TODAY - timedelta(days=1)
    options = make.Options(GENERATED_LINES, GENERATED_DAYS, end, 7, "nginx", garbage)
    return b"".join(make.generate(options))


def rows_of(session: Session, model: Any) -> list[tuple[Any, ...]]:
    columns = [column.key for column in model.__table__.columns]
    found = session.execute(select(model)).scalars()
    return sorted(tuple(getattr(row, name) for name in columns) for row in found)


@dataclass
class Shop:
    """A shop database and a node's store, both fresh."""

    sessions: sessionmaker[Session]
    store_dir: Path
    trusted_proxies: tuple[str, ...] = ()

    def ingestion(self) -> Ingestion:
        return Ingestion(
            self.sessions,
            self.store_dir,
            "node-a",
            RETENTION_DAYS,
            "quietshop.example",
            trusted_proxies=self.trusted_proxies,
        )

    def ingest(self, *paths: Path, now: datetime = NOW) -> IngestResult:
        return ingest(self.ingestion(), list(paths), now=now)

    def aggregates(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every aggregate row the ingestion wrote, in a stable order."""
        with self.sessions() as session:
            return {
                "days": rows_of(session, TrafficDay),
                "hours": rows_of(session, TrafficHour),
                "cells": rows_of(session, TrafficCell),
            }

    def day(self, day: date) -> TrafficDay:
        with self.sessions() as session:
            found = session.get(TrafficDay, ("node-a", day))
        assert found is not None
        return found

    def cells(self, dimension: str) -> dict[str, tuple[int, int]]:
        """(hits, visitors) per value of one breakdown, over every day."""
        with self.sessions() as session:
            found = session.execute(
                select(TrafficCell).where(TrafficCell.dimension == dimension)
            ).scalars()
            totals: dict[str, tuple[int, int]] = {}
            for cell in found:
                hits, seen = totals.get(cell.value, (0, 0))
                totals[cell.value] = (hits + cell.hits, seen + cell.visitors)
        return totals

    def state(self) -> dict[str, Any]:
        """What the node's store holds, by table (events counted by day)."""
        with store.open_store(self.store_dir) as connection:

            def all_of(sql: str) -> list[tuple[Any, ...]]:
                return sorted(connection.execute(sql).fetchall())

            return {
                "positions": all_of('SELECT identity, "offset", line FROM positions'),
                "events": all_of("SELECT day, count(*) FROM events GROUP BY day"),
                "excluded": all_of("SELECT day, kind, sum(requests) FROM excluded GROUP BY ALL"),
                "rejected": all_of("SELECT day, reason, sum(lines) FROM rejected GROUP BY ALL"),
                "dirty": all_of("SELECT day FROM dirty_days"),
                "sealed": all_of("SELECT day FROM sealed_days"),
            }


@pytest.fixture
def new_shop(migrated: Path, tmp_path: Path) -> Iterator[Callable[..., Shop]]:
    engines = []

    def make(name: str = "shop", trusted_proxies: tuple[str, ...] = ()) -> Shop:
        folder = tmp_path / name
        folder.mkdir()
        shutil.copyfile(migrated, folder / "shop.db")
        engine = make_engine(f"sqlite:///{folder / 'shop.db'}")
        engines.append(engine)
        return Shop(make_session_factory(engine), folder / "store", trusted_proxies)

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def shop(new_shop: Callable[..., Shop]) -> Shop:
    return new_shop()


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def append(path: Path, content: str | bytes) -> None:
    with path.open("ab") as out:
        out.write(content.encode() if isinstance(content, str) else content)


def clean(new_shop: Callable[..., Shop], tmp_path: Path, *contents: str | bytes) -> Shop:
    """A fresh shop that ingested ``contents`` once, each as a file of its own."""
    other = new_shop("clean")
    folder = tmp_path / "clean-logs"
    folder.mkdir()
    other.ingest(*(write(folder / f"{n}.log", text) for n, text in enumerate(contents)))
    return other


def without_day(
    found: dict[str, list[tuple[Any, ...]]], day: date
) -> dict[str, list[tuple[Any, ...]]]:
    """The aggregate rows of every day but ``day`` (each row's second column is its day,
    or its hour)."""

    def day_of(row: tuple[Any, ...]) -> date:
        return row[1].date() if isinstance(row[1], datetime) else row[1]

    return {name: [row for row in rows if day_of(row) != day] for name, rows in found.items()}


def pageviews(shop: Shop) -> int:
    return sum(row[2] for row in shop.aggregates()["days"])


def counted(result: IngestResult) -> list[tuple[int, int]]:
    return [(found.lines, found.events) for found in result.files]


def small_slices(monkeypatch: pytest.MonkeyPatch, size: int = 4096) -> list[clf.ParsedLog]:
    """Make ingestion read in slices of about ``size`` bytes; returns the slices read."""
    monkeypatch.setattr(clf, "BLOCK_BYTES", size)
    original = clf.parse_log
    parsed: list[clf.ParsedLog] = []

    def sliced(*args: Any, **kwargs: Any) -> clf.ParsedLog:
        result = original(*args, **{**kwargs, "max_bytes": size})
        parsed.append(result)
        return result

    monkeypatch.setattr(clf, "parse_log", sliced)
    return parsed


# ---------------------------------------------------------------- idempotent


def test_the_same_file_twice_counts_nothing_twice(shop: Shop, tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", generated_log())
    first = shop.ingest(log)
    lines_in_log = GENERATED_LINES + GENERATED_GARBAGE
    assert first.files[0].lines == lines_in_log and first.files[0].error is None
    assert first.files[0].events > 500 and first.files[0].excluded["bot"] > 50
    assert sum(r.count for r in first.files[0].rejected.values()) == GENERATED_GARBAGE
    # The log's days, and today's row (no pageview), which holds the rejections.
    days = {row[1]: row[2] for row in shop.aggregates()["days"]}
    assert len(days) == GENERATED_DAYS + 1 and days[TODAY] == 0
    after_first, state = shop.aggregates(), shop.state()

    second = shop.ingest(log)
    assert second.files == [FileResult(log)]  # 0 lines, 0 events, nothing rejected
    assert second.days_counted == []
    assert shop.aggregates() == after_first
    assert shop.state() == state  # no event, rejection or exclusion added


def test_a_copy_under_another_name_counts_nothing_twice(shop: Shop, tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", generated_log())
    shop.ingest(log)
    before = shop.aggregates()
    copy = tmp_path / "elsewhere" / "proxy-access.log"
    copy.parent.mkdir()
    shutil.copyfile(log, copy)
    assert counted(shop.ingest(copy)) == [(0, 0)]
    assert shop.aggregates() == before


def test_the_gzip_of_an_ingested_file_counts_nothing_twice(shop: Shop, tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", generated_log())
    shop.ingest(log)
    before = shop.aggregates()
    rotated = write(tmp_path / "access.log.1.gz", gzip.compress(generated_log()))
    log.unlink()
    assert counted(shop.ingest(rotated)) == [(0, 0)]
    assert shop.aggregates() == before


# ---------------------------------------------------------------- resumes


def test_a_growing_file_counts_only_its_new_lines(
    shop: Shop, new_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    old, new = lines(40, NOW - timedelta(hours=3)), lines(25, NOW - timedelta(hours=1), 40)
    log = write(tmp_path / "access.log", old)
    assert counted(shop.ingest(log)) == [(40, 40)]
    append(log, new)
    assert counted(shop.ingest(log)) == [(25, 25)]
    assert shop.day(TODAY).pageviews == 65
    assert shop.aggregates() == clean(new_shop, tmp_path, old + new).aggregates()


def test_a_last_line_without_its_newline_waits_and_is_then_counted_once(
    shop: Shop, new_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    whole = lines(10, NOW - timedelta(hours=2))
    cut = len(whole) - 30  # the writer is halfway through the last line
    log = write(tmp_path / "access.log", whole[:cut])
    assert counted(shop.ingest(log)) == [(9, 9)]
    assert shop.ingest(log).files[0].lines == 0  # still unfinished: still waiting
    append(log, whole[cut:])
    assert counted(shop.ingest(log)) == [(1, 1)]
    assert shop.aggregates() == clean(new_shop, tmp_path, whole).aggregates()


def test_a_file_of_one_unfinished_line_is_not_read_yet(shop: Shop, tmp_path: Path) -> None:
    one = line("198.51.100.1", NOW - timedelta(hours=1))
    log = write(tmp_path / "access.log", one[:-1])
    assert shop.ingest(log).files == [FileResult(log)]
    assert shop.state()["positions"] == []
    append(log, "\n")
    assert counted(shop.ingest(log)) == [(1, 1)]


@pytest.mark.parametrize("compressed", [False, True], ids=["rotated", "rotated-and-gzipped"])
def test_a_rotated_log_and_its_successor_count_every_line_once(
    shop: Shop, new_shop: Callable[..., Shop], tmp_path: Path, compressed: bool
) -> None:
    """access.log is read, gets more lines, is renamed access.log.1 (and gzipped), and a
    new access.log starts: the next ingestion of both reads the rest of the old one and
    the whole new one."""
    first, more = lines(30, NOW - timedelta(hours=5)), lines(20, NOW - timedelta(hours=4), 30)
    after = lines(15, NOW - timedelta(hours=2), 50)
    log = write(tmp_path / "access.log", first)
    shop.ingest(log)
    append(log, more)
    rotated = log.rename(tmp_path / "access.log.1")
    if compressed:
        rotated = write(tmp_path / "access.log.1.gz", gzip.compress(rotated.read_bytes()))
        (tmp_path / "access.log.1").unlink()
    write(log, after)
    assert counted(shop.ingest(rotated, log)) == [(20, 20), (15, 15)]
    assert shop.day(TODAY).pageviews == 65
    assert shop.aggregates() == clean(new_shop, tmp_path, first + more, after).aggregates()


# ---------------------------------------------------------------- truncated, replaced


def test_a_file_truncated_after_it_was_read_is_refused_not_recounted(
    shop: Shop, tmp_path: Path
) -> None:
    """Same first line (same identity), now shorter than where the last read stopped:
    the stored offset no longer fits, and the file is refused with an error."""
    whole = lines(20, NOW - timedelta(hours=3))
    log = write(tmp_path / "access.log", whole)
    shop.ingest(log)
    before, state = shop.aggregates(), shop.state()
    write(log, whole[: len(whole) // 2])
    (result,) = shop.ingest(log).files
    assert (result.lines, result.events, result.error) == (0, 0, FILE_CHANGED)
    assert shop.aggregates() == before and shop.state() == state


def test_a_file_replaced_by_one_with_the_same_first_line_is_refused(
    shop: Shop, tmp_path: Path
) -> None:
    """The stored offset lands inside a line of the new content: refused, not guessed."""
    start = NOW - timedelta(hours=3)
    log = write(tmp_path / "access.log", lines(20, start))
    shop.ingest(log)
    before = shop.aggregates()
    other = line("198.51.0.1", start) + "".join(
        line(f"203.0.113.{n}", start, f"/products/p{n:03}") for n in range(40)
    )
    write(log, other)
    stored = shop.state()["positions"][0][1]
    assert other.encode()[stored - 1 : stored] != b"\n"  # the offset is inside a line now
    (result,) = shop.ingest(log).files
    assert (result.lines, result.error) == (0, FILE_CHANGED)
    assert shop.aggregates() == before


def test_a_file_truncated_and_rewritten_is_read_as_a_new_file(shop: Shop, tmp_path: Path) -> None:
    """copytruncate-style rotation: emptied, then new lines. Its first line is another,
    so it is another file: its lines count once, the old lines are not read again."""
    log = write(tmp_path / "access.log", lines(20, NOW - timedelta(hours=5)))
    shop.ingest(log)
    write(log, "")
    assert counted(shop.ingest(log)) == [(0, 0)]
    write(log, lines(7, NOW - timedelta(hours=1), 100))
    assert counted(shop.ingest(log)) == [(7, 7)]
    assert counted(shop.ingest(log)) == [(0, 0)]
    assert shop.day(TODAY).pageviews == 27
    assert len(shop.state()["positions"]) == 2


# ---------------------------------------------------------------- a stop in the middle


def test_a_stop_inside_a_slice_leaves_the_store_as_after_the_slice_before(
    shop: Shop, new_shop: Callable[..., Shop], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The third slice's transaction fails at its last step (saving the position): its
    events, exclusions and rejections are rolled back with it, the aggregates are as
    before the run, and the next run counts every line exactly once."""
    content = generated_log()[:60_000]
    content = content[: content.rfind(b"\n") + 1]
    log = write(tmp_path / "access.log", content)
    slices = small_slices(monkeypatch)
    calls = 0
    save = store.save_position

    def failing_once(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError("No space left on device")
        save(*args)

    monkeypatch.setattr(store, "save_position", failing_once)
    with pytest.raises(OSError, match="No space left"):
        shop.ingest(log)
    assert shop.aggregates() == {"days": [], "hours": [], "cells": []}  # never counted
    state = shop.state()
    ((_, offset, next_line),) = state["positions"]
    assert (offset, next_line) == (slices[1].end.offset, slices[1].end.line)
    assert state["dirty"]  # the committed slices' days wait to be counted

    result = shop.ingest(log)
    assert result.files[0].lines == content.count(b"\n") - (next_line - 1)
    assert len(slices) > 6  # the file really was read in many slices
    monkeypatch.undo()
    whole = clean(new_shop, tmp_path, content)
    assert shop.aggregates() == whole.aggregates()
    assert shop.state()["events"] == whole.state()["events"]
    assert shop.state()["rejected"] == whole.state()["rejected"]


def test_a_failed_count_leaves_the_aggregates_and_the_next_run_counts_them(
    shop: Shop, new_shop: Callable[..., Shop], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shop's database refuses the third insert of a count (the cells, after the days
    and hours): its transaction is rolled back whole, the days stay dirty in the store,
    and the next ingestion, with no new line, counts them."""
    yesterday = NOW - timedelta(days=1)
    first = lines(10, yesterday)
    write(tmp_path / "a.log", first)
    shop.ingest(tmp_path / "a.log")
    before = shop.aggregates()
    later = lines(5, yesterday + timedelta(hours=1), 10) + lines(8, NOW - timedelta(hours=2), 20)
    write(tmp_path / "b.log", later)
    insert_many = db.insert_many  # what aggregates.py imported
    calls = 0

    def failing_once(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("database is locked")
        insert_many(*args)

    monkeypatch.setattr(aggregates, "insert_many", failing_once)
    with pytest.raises(RuntimeError, match="locked"):
        shop.ingest(tmp_path / "b.log")
    assert shop.aggregates() == before
    assert shop.state()["dirty"] == [(yesterday.date(),), (TODAY,)]

    again = shop.ingest(tmp_path / "b.log")
    assert counted(again) == [(0, 0)]
    assert again.days_counted == [yesterday.date(), TODAY]
    assert shop.state()["dirty"] == []
    assert shop.aggregates() == clean(new_shop, tmp_path, first, later).aggregates()


def test_the_store_held_by_another_process_stops_the_ingestion_and_changes_nothing(
    shop: Shop, tmp_path: Path
) -> None:
    log = write(tmp_path / "access.log", lines(5, NOW - timedelta(hours=1)))
    with holding_the_store(shop.store_dir), pytest.raises(StoreBusyError, match="another"):
        shop.ingest(log)
    assert shop.aggregates()["days"] == []
    assert counted(shop.ingest(log)) == [(5, 5)]


# ---------------------------------------------------------------- sealed days


def test_lines_of_a_sealed_day_are_rejected_and_counted_nowhere(shop: Shop, tmp_path: Path) -> None:
    old_day = datetime(2026, 11, 15, 9, tzinfo=UTC)
    shop.ingest(write(tmp_path / "a.log", lines(6, old_day)))
    sealed_aggregates = shop.aggregates()
    assert shop.day(old_day.date()).pageviews == 6
    later = old_day + timedelta(days=RETENTION_DAYS + 2)
    assert seal(shop.ingestion(), now=later) == [old_day.date()]
    state = shop.state()
    assert state["events"] == [] and state["sealed"] == [(old_day.date(),)]

    # A late log (a proxy's, say) with more lines of that day, and two of its own day.
    late = lines(4, old_day + timedelta(hours=2), 50) + lines(2, later - timedelta(hours=1), 60)
    (result,) = shop.ingest(write(tmp_path / "late.log", late), now=later).files
    assert (result.lines, result.events) == (6, 2)
    assert result.rejected == {DAY_SEALED: Rejected(4, ())}
    assert shop.day(later.date()).pageviews == 2
    # The sealed day's rows are final: every row but the new day's is as it was.
    assert without_day(shop.aggregates(), later.date()) == sealed_aggregates
    assert shop.state()["events"] == [(later.date(), 2)]


# ---------------------------------------------------------------- bad input


def test_bad_lines_are_rejected_with_reasons_and_sample_lines(shop: Shop, tmp_path: Path) -> None:
    at = NOW - timedelta(hours=2)
    good = line("81.2.69.142", at)
    parts: list[str | bytes] = [
        good,  # 1: GB
        good[:70] + "\n",  # 2: cut short
        '{"time":"2026-11-25T10:00:00Z","remote_addr":"81.2.69.142","status":200}\n',
        "Nov 25 10:00:00 web1 nginx[812]: 2026/11/25 10:00:00 [error] 812#0: oops\n",
        good.encode().replace(b"Firefox", b"Fire\xff\xfefox"),  # 5: not UTF-8
        good.replace("2026:", "1970:", 1),  # 6
        good.replace("2026:", "2999:", 1),  # 7: far future
        good.replace("25/Nov", "31/Feb", 1),  # 8: no such day
        line("2a00:1450:4001:81b::200e", at),  # 9: IPv6, IE
        line("2001:db8::1", at + timedelta(seconds=1)),  # 10: IPv6, documentation
        line("81.2.69.142", at, "/" + "a" * 1_000_000),  # 11: a line of a megabyte
        line("8.8.8.8", at),  # 12: US
        b"\x00" * 300 + b"\n",  # 13
        "\n",  # 14: empty
    ]
    content = b"".join(part.encode() if isinstance(part, str) else part for part in parts)
    log = write(tmp_path / "access.log", content)
    (result,) = shop.ingest(log).files
    assert (result.lines, result.events, result.error) == (14, 4, None)
    assert result.rejected == {
        Reason.TRUNCATED.value: Rejected(1, (2,)),
        Reason.NOT_COMBINED.value: Rejected(4, (3, 4, 13, 14)),
        Reason.INVALID_UTF8.value: Rejected(1, (5,)),
        Reason.ABSURD_DATE.value: Rejected(3, (6, 7, 8)),
        Reason.TOO_LONG.value: Rejected(1, (11,)),
    }
    assert shop.cells("country") == {"GB": (1, 1), "IE": (1, 1), "US": (1, 1), "unknown": (1, 1)}
    assert shop.day(TODAY).pageviews == 4
    # Rejections are kept per day of reading, for the report's "rejected" figures.
    assert sum(n for _, _, n in shop.state()["rejected"]) == 10
    assert counted(shop.ingest(log)) == [(0, 0)]
    assert sum(n for _, _, n in shop.state()["rejected"]) == 10


def test_an_empty_file_and_a_file_of_one_newline(shop: Shop, tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.log", "")
    newline = write(tmp_path / "newline.log", "\n")
    # Neither holds a line to know it by yet: nothing is read, nothing saved.
    assert shop.ingest(empty, newline).files == [FileResult(empty), FileResult(newline)]
    assert pageviews(shop) == 0
    assert shop.state()["positions"] == []
    # Both later get their first lines: read then, from their start (the newline's empty
    # line once: one rejected line).
    write(empty, lines(3, NOW - timedelta(hours=1)))
    append(newline, lines(2, NOW - timedelta(hours=1), 10))
    assert counted(shop.ingest(empty, newline)) == [(3, 3), (3, 2)]
    assert counted(shop.ingest(empty, newline)) == [(0, 0), (0, 0)]


def test_a_missing_path_and_a_directory_stop_only_their_own_file(
    shop: Shop, tmp_path: Path
) -> None:
    good = write(tmp_path / "access.log", lines(4, NOW - timedelta(hours=1)))
    missing, directory = tmp_path / "gone.log", tmp_path / "logs"
    directory.mkdir()
    results = shop.ingest(missing, directory, good).files
    assert [(r.lines, r.events, r.error) for r in results] == [
        (0, 0, "FileNotFoundError: No such file or directory"),
        (0, 0, "IsADirectoryError: Is a directory"),
        (4, 4, None),
    ]
    assert shop.day(TODAY).pageviews == 4


def test_a_binary_file_is_rejected_line_by_line(shop: Shop, tmp_path: Path) -> None:
    noise = random.Random(7).randbytes(300_000)
    log = write(tmp_path / "core.dump", noise + b"\n")
    (result,) = shop.ingest(log).files
    assert result.lines == noise.count(b"\n") + 1 and result.events == 0
    assert sum(r.count for r in result.rejected.values()) == result.lines
    assert set(result.rejected) <= {reason.value for reason in Reason}
    for rejected in result.rejected.values():
        assert 0 < len(rejected.sample_lines) <= clf.SAMPLE_LINES
        assert list(rejected.sample_lines) == sorted(rejected.sample_lines)
    assert pageviews(shop) == 0 and shop.cells("country") == {}
    assert counted(shop.ingest(log)) == [(0, 0)]


def test_a_gzip_cut_short_counts_its_whole_lines_and_says_why_it_stopped(
    shop: Shop, tmp_path: Path
) -> None:
    whole = gzip.compress(lines(2000, NOW - timedelta(hours=10)).encode())
    log = write(tmp_path / "access.log.2.gz", whole[: len(whole) // 2])
    (result,) = shop.ingest(log).files
    assert 0 < result.lines < 2000 and result.events == result.lines
    assert result.error is not None and result.rejected == {}
    assert counted(shop.ingest(log))[0][1] == 0


def test_two_logs_that_open_with_blank_lines_are_two_files(shop: Shop, tmp_path: Path) -> None:
    """A log that opens with an empty line (a writer that began with one, a copy edited by
    hand) is known by its first real line: another such log is not taken for it and
    resumed from its position, and blank lines alone are nothing to read yet."""
    blank_only = write(tmp_path / "blank.log", "\n\r\n  \n")
    assert counted(shop.ingest(blank_only)) == [(0, 0)]
    first = write(tmp_path / "a.log", "\n" + lines(3, NOW - timedelta(hours=3)))
    second = write(tmp_path / "b.log", "\n" + lines(2, NOW - timedelta(hours=2), 10))
    assert counted(shop.ingest(first)) == [(4, 3)]  # the empty line is one rejected line
    assert counted(shop.ingest(second)) == [(3, 2)]
    assert shop.day(TODAY).pageviews == 5
    assert store.file_identity(first) != store.file_identity(second)
    assert store.file_identity(write(tmp_path / "c.log", lines(3, NOW))) == (
        store.file_identity(write(tmp_path / "d.log", lines(3, NOW)))  # same first line
    )


def test_a_damaged_gzip_without_one_whole_line_counts_nothing(shop: Shop, tmp_path: Path) -> None:
    log = write(tmp_path / "access.log.3.gz", b"\x1f\x8b" + random.Random(3).randbytes(5000))
    (result,) = shop.ingest(log).files
    assert (result.lines, result.events, result.rejected) == (0, 0, {})
    assert shop.state()["positions"] == []


def test_a_damaged_gzip_without_one_whole_line_says_so(shop: Shop, tmp_path: Path) -> None:
    log = write(tmp_path / "access.log.3.gz", b"\x1f\x8b" + random.Random(3).randbytes(5000))
    error = shop.ingest(log).files[0].error
    assert error is not None
    assert error.startswith(("BadGzipFile", "EOFError", "error"))  # the stream's own reason


# ---------------------------------------------------------------- a file larger than memory


def test_a_large_file_is_read_in_bounded_slices(
    shop: Shop, new_shop: Callable[..., Shop], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism that bounds memory, at a small scale: no read of the file asks for
    more than a block, each parse holds one slice's rows, and the slices together count
    what one read of the whole counts."""
    content = generated_log()
    log = write(tmp_path / "access.log", content)
    reads: list[int] = []
    opened = clf._open

    class Spied:
        def __init__(self, path: Path) -> None:
            self.stream = opened(path)

        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return self.stream.read(size)

        def seek(self, offset: int) -> int:
            return self.stream.seek(offset)

        def __enter__(self) -> Spied:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

    monkeypatch.setattr(clf, "_open", Spied)
    slices = small_slices(monkeypatch, 16 * 1024)
    shop.ingest(log)
    assert len(slices) >= len(content) // (32 * 1024)
    assert all(0 < size <= 16 * 1024 for size in reads)
    assert max(s.rows for s in slices) < 200  # a slice's rows, not the file's 3,000
    assert max(s.bytes_consumed for s in slices) <= 2 * 16 * 1024
    monkeypatch.undo()
    whole = clean(new_shop, tmp_path, content)
    assert shop.aggregates() == whole.aggregates()


# A log with a hole of NUL bytes (a disk preallocated by a writer that crashed) between
# real lines: the hole is one "line" of SPARSE_BYTES, skipped without being held.
SPARSE_BYTES = 512 * 1024 * 1024
# What reading the hole may add to the peak of reading the same lines without it: far
# below the hole's 512 MB, well above the noise of one run to the next.
HOLE_ALLOWANCE_MB = 64
CHILD = """
import resource, sys
from datetime import datetime
from pathlib import Path
from quietshop.analytics.ingest import Ingestion, ingest
from quietshop.db import make_engine, make_session_factory
folder = Path(sys.argv[1])
sessions = make_session_factory(make_engine(f"sqlite:///{folder / 'shop.db'}"))
ingestion = Ingestion(sessions, folder / "store", "node-a", 30)
(found,) = ingest(ingestion, [folder / "access.log"], now=datetime.fromisoformat(sys.argv[2])).files
print(found.lines, found.events, dict(found.rejected), found.error)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def ingest_in_child(folder: Path) -> tuple[str, int]:
    """The summary of ingesting ``folder``'s access.log in a fresh process, and its peak MB."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), NOW.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary, peak = done.stdout.splitlines()
    return summary, int(peak)


def test_a_file_larger_than_memory_allows_is_read_with_bounded_memory(
    shop: Shop, tmp_path: Path
) -> None:
    folder = shop.store_dir.parent
    before, after = lines(3, NOW - timedelta(hours=3)), lines(2, NOW - timedelta(hours=1), 10)
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    shutil.copyfile(folder / "shop.db", baseline / "shop.db")  # the same empty shop
    write(baseline / "access.log", before + after)
    log = folder / "access.log"
    with log.open("wb") as out:
        out.write(before.encode())
        out.truncate(out.tell() + SPARSE_BYTES)  # sparse: no disk used
    append(log, "\n" + after)
    assert log.stat().st_size > SPARSE_BYTES
    summary, peak = ingest_in_child(folder)
    too_long = Rejected(1, (4,))
    assert summary == f"6 5 {{'{Reason.TOO_LONG.value}': {too_long!r}}} None"
    plain_summary, plain_peak = ingest_in_child(baseline)
    assert plain_summary == "5 5 {} None"
    assert peak - plain_peak < HOLE_ALLOWANCE_MB < SPARSE_BYTES // 2**20
    assert shop.day(TODAY).pageviews == 5


# ---------------------------------------------------------------- X-Forwarded-For

PROXIES = ("10.0.0.0/8", "fd00::/8")


def via(proxy: str, header: str, minute: int, agent: str = UA) -> str:
    return line(proxy, NOW - timedelta(minutes=90 - minute), agent=agent, forwarded=header)


def test_a_trusted_proxys_header_names_the_visitor_and_its_country(
    new_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    shop = new_shop(trusted_proxies=PROXIES)
    log = write(
        tmp_path / "nginx.log",
        via("10.0.0.5", "81.2.69.142", 0)  # GB
        + via("10.0.0.5", "81.2.69.142, 10.0.0.7", 1)  # GB again, past our second proxy
        + via("10.0.0.5", "8.8.8.8", 2)  # US
        + via("fd00::5", "2a00:1450:4001:81b::200e", 3)  # IE, through an IPv6 proxy
        + via("10.0.0.5", "-", 4),  # no header: the proxy itself (a health probe, say)
    )
    assert counted(shop.ingest(log)) == [(5, 5)]
    assert shop.cells("country") == {
        "GB": (2, 1),
        "US": (1, 1),
        "IE": (1, 1),
        "unknown": (1, 1),
    }
    day = shop.day(TODAY)
    assert (day.pageviews, day.visitors, day.request_visitors) == (5, 4, 4)


def test_a_log_behind_a_trusted_proxy_counts_as_the_same_log_without_one(
    new_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    """The generated log's every line as our proxy at 10.0.0.5 logs it, the client in
    X-Forwarded-For: every aggregate equals the direct log's (visitors, visits,
    countries, entry pages...). Not trusted, the same lines are one address's."""
    direct = generated_log(garbage=0)
    proxied = b"".join(
        b"10.0.0.5 " + rest + b' "' + host + b'"\n'
        for host, rest in (raw.split(b" ", 1) for raw in direct.splitlines())
    )
    straight = new_shop("direct")
    straight.ingest(write(tmp_path / "direct.log", direct))
    behind = new_shop("behind", PROXIES)
    behind.ingest(write(tmp_path / "proxied.log", proxied))
    assert behind.aggregates() == straight.aggregates()
    assert len(straight.cells("country")) > 5
    untrusted = new_shop("untrusted")
    untrusted.ingest(write(tmp_path / "untrusted.log", proxied))
    assert set(untrusted.cells("country")) == {"unknown"}


def test_the_header_is_ignored_from_any_other_host_or_with_no_proxy_configured(
    new_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    """Anyone can send X-Forwarded-For: from an address that is no configured proxy the
    line's host stays; with no proxy configured every header is ignored."""
    content = (
        via("1.1.1.1", "8.8.8.8", 0)  # AU claims to be for US
        + via("1.1.1.1", "10.0.0.5, 81.2.69.142", 1)  # and to come through our proxy
        + via("10.0.0.5", "81.2.69.142", 2)  # our proxy's line, trusted only if configured
    )
    trusting = new_shop("trusting", PROXIES)
    trusting.ingest(write(tmp_path / "a.log", content))
    assert trusting.cells("country") == {"AU": (2, 1), "GB": (1, 1)}
    unconfigured = new_shop("unconfigured")
    unconfigured.ingest(write(tmp_path / "b.log", content))
    assert unconfigured.cells("country") == {"AU": (2, 1), "unknown": (1, 1)}


def test_hostile_headers_from_a_trusted_proxy_never_crash_and_leave_a_real_address(
    new_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    """What web/forwarded.client_address documents: read from the right past our own
    hops; a malformed entry stops the walk at the last trusted hop (the proxy); only the
    last 20 hops are read. The header never becomes a host that is not an address."""
    shop = new_shop(trusted_proxies=PROXIES)
    hops = ", ".join(["81.2.69.142"] * 999 + ["5.1.1.1"])  # 1000 hops, UA at the end
    trusted_hops = ", ".join(["8.8.8.8"] + ["10.0.0.9"] * 999)  # US past the last 20
    headers = [
        "garbage",  # the proxy (unknown)
        "unknown",  # nginx's own word for no address: the proxy
        '8.8.8.8\\" 200 \\"x',  # an injection attempt, as nginx escapes it: the proxy
        hops,  # UA
        trusted_hops,  # 20 trusted hops, then the walk stops: a proxy of ours (unknown)
        "[2a00:1450:4001:81b::200e]:443",  # IE, bracketed with its port
        "200.1.1.1:5100",  # VE, with its port
        "::ffff:8.8.8.8",  # US, an IPv4 client as a dual-stack socket names it
        "8.8.8.8, bogus, 10.0.0.3",  # bogus stops the walk at 10.0.0.3: the proxy
        " , ,",  # empty entries: the proxy
    ]
    content = "".join(
        via("10.0.0.5", header, n, agent=f"{UA} n{n}") for n, header in enumerate(headers)
    )
    (result,) = shop.ingest(write(tmp_path / "nginx.log", content)).files
    assert (result.lines, result.events, result.rejected, result.error) == (10, 10, {}, None)
    assert shop.cells("country") == {
        "unknown": (6, 6),
        "UA": (1, 1),
        "IE": (1, 1),
        "VE": (1, 1),
        "US": (1, 1),
    }


# ---------------------------------------------------------------- order of reading


def test_a_visits_entry_page_is_its_first_in_time_whatever_the_order_files_are_read(
    shop: Shop, tmp_path: Path
) -> None:
    """The current log is read first, the rotated one (the same visit's first pageview,
    five minutes earlier) after it: the visit's entry is still its first page in time."""
    at = NOW - timedelta(hours=1)
    later = write(tmp_path / "access.log", line("81.2.69.142", at + timedelta(minutes=5), "/b"))
    earlier = write(tmp_path / "access.log.1", line("81.2.69.142", at, "/a"))
    shop.ingest(later)
    shop.ingest(earlier)
    assert shop.day(TODAY).visits == 1
    assert shop.cells("entry") == {"/a": (0, 1)}  # (hits, visitors): entries count visits
    assert shop.cells("exit") == {"/b": (0, 1)}
