"""Combined Log Format parsed in bulk by DuckDB: rows, rejections, positions, gzip."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quietshop.analytics import clf
from quietshop.analytics.clf import LogOffsetError, LogPosition, ParsedLog, Reason, parse_log
from quietshop.web.access_log import format_line
from tests.clock import T0

NOW = T0  # 2026-11-25 12:00 UTC
STAMP = "25/Nov/2026:11:04:05 +0000"
OURS = (
    f'198.51.100.23 - - [{STAMP}] "GET /categories/cables?page=2&sort=name HTTP/1.1" 200 1234 '
    '"https://search.example/find" "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Firefox/140.0"'
)
THREE_KINDS: list[str | bytes] = [OURS, "junk", b"\xff"]  # a row, another format, not UTF-8
COLUMNS = (
    "line_number",
    "at",
    "host",
    "method",
    "path",
    "query",
    "status",
    "bytes",
    "referrer",
    "user_agent",
)


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def write(path: Path, *lines: str | bytes, end: bytes = b"\n") -> Path:
    raw = [line.encode() if isinstance(line, str) else line for line in lines]
    path.write_bytes(b"\n".join(raw) + (end if raw else b""))
    return path


def rows(con: duckdb.DuckDBPyConnection, parsed: ParsedLog) -> list[dict[str, Any]]:
    names = ", ".join(f'"{name}"' for name in COLUMNS)  # all but seconds, tested on its own
    result = con.execute(f"SELECT {names} FROM {parsed.table} ORDER BY line_number").fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in result]


def samples(parsed: ParsedLog) -> dict[Reason, tuple[int, tuple[int, ...]]]:
    return {reason: (r.count, r.sample_lines) for reason, r in parsed.rejected.items()}


def adds_up(parsed: ParsedLog) -> bool:
    rejected = sum(r.count for r in parsed.rejected.values())
    return parsed.lines_read == parsed.rows + rejected


# ---------------------------------------------------------------- good lines


def test_our_own_line_as_format_line_writes_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    line = format_line(
        client_ip="v-0123456789abcdef",
        when=NOW - timedelta(minutes=5),
        method="GET",
        target="/account/orders/{number}",
        http_version="1.1",
        status=200,
        sent_bytes=0,
        referrer="-",
        user_agent='evil" 200 "x\\',
    )
    path = tmp_path / "access.log"
    path.write_text(OURS + "\n" + line)
    parsed = parse_log(con, path, now=NOW)
    assert parsed.rows == 2 and parsed.rejected == {} and parsed.lines_read == 2
    first, second = rows(con, parsed)
    assert first == {
        "line_number": 1,
        "at": datetime(2026, 11, 25, 11, 4, 5),
        "host": "198.51.100.23",
        "method": "GET",
        "path": "/categories/cables",
        "query": "page=2&sort=name",
        "status": 200,
        "bytes": 1234,
        "referrer": "https://search.example/find",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Firefox/140.0",
    }
    assert second["host"] == "v-0123456789abcdef"
    assert second["at"] == datetime(2026, 11, 25, 11, 55)
    assert second["path"] == "/account/orders/{number}" and second["query"] == ""
    assert second["bytes"] == 0 and second["referrer"] == ""
    assert second["user_agent"] == 'evil" 200 "x\\'  # unescaped as it was sent


def test_nginx_lines_ipv6_user_dash_bytes_and_other_offsets(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "nginx.log",
        '2001:db8::7 - alice [25/Nov/2026:06:34:05 -0530] "POST /cart HTTP/2.0" 303 - "-" "curl/8"',
        '203.0.113.9 - - [25/Nov/2026:13:04:05 +0200] "HEAD / HTTP/1.0" 200 0 "-" "-"',
        '::ffff:192.0.2.1 - - [24/Nov/2026:23:59:59 -0000] "GET /a?b HTTP/1.1" 404 12 "x" "y"',
        '- - - [25/Nov/2026:11:04:05 +0000] "-" 400 0 "-" "-"',
        '203.0.113.9 - - [25/Nov/2026:11:04:05 +0000] "\\x16\\x03\\x01" 400 157 "-" "-"',
    )
    parsed = parse_log(con, path, now=NOW)
    assert parsed.rejected == {} and parsed.rows == 5
    got = rows(con, parsed)
    assert [(r["host"], r["at"], r["method"], r["path"], r["query"]) for r in got] == [
        ("2001:db8::7", datetime(2026, 11, 25, 12, 4, 5), "POST", "/cart", ""),
        ("203.0.113.9", datetime(2026, 11, 25, 11, 4, 5), "HEAD", "/", ""),
        ("::ffff:192.0.2.1", datetime(2026, 11, 24, 23, 59, 59), "GET", "/a", "b"),
        ("-", datetime(2026, 11, 25, 11, 4, 5), None, None, None),  # no request at all
        ("203.0.113.9", datetime(2026, 11, 25, 11, 4, 5), None, None, None),  # TLS on :80
    ]
    assert [(r["status"], r["bytes"], r["user_agent"]) for r in got[:2]] == [
        (303, 0, "curl/8"),
        (200, 0, ""),
    ]


def test_a_trailing_duration_is_the_requests_seconds(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The shop's own lines end in the seconds a request took, and so do nginx's with
    $request_time appended; a line without one has none; a malformed one is no line."""
    escaped = f'198.51.100.23 - - [{STAMP}] "GET /a\\"b HTTP/1.1" 200 1 "-" "x\\"y"'
    path = write(
        tmp_path / "timed.log",
        OURS + " 0.012",  # the simple line's path
        escaped + " 1.5",  # the full pattern's path (escaped quotes)
        OURS,  # no duration
        OURS + " 123456789.123456",  # the longest accepted
        OURS + " -1",  # not a duration: rejected, not read as one
        OURS + " 0.1234567",  # seven decimals: rejected
        OURS + " 1e3",
    )
    parsed = parse_log(con, path, now=NOW)
    found = con.execute(f"SELECT seconds FROM {parsed.table} ORDER BY line_number").fetchall()
    assert [row[0] for row in found] == [0.012, 1.5, None, 123456789.123456]
    assert samples(parsed) == {Reason.NOT_COMBINED: (3, (5, 6, 7))} and adds_up(parsed)


def test_nginx_main_format_carries_the_x_forwarded_for_field(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """nginx's default "main" format is combined plus "$http_x_forwarded_for", and
    $request_time may follow it: the field is read as written ('-' is empty), on the
    simple path and on the full pattern's (escapes), and never mistaken for the agent."""
    escaped = f'198.51.100.23 - - [{STAMP}] "GET /a\\"b HTTP/1.1" 200 1 "-" "x\\"y"'
    path = write(
        tmp_path / "main.log",
        OURS + ' "203.0.113.7"',  # 1: one client
        OURS + ' "-"',  # 2: no header
        OURS + ' "203.0.113.7, 10.0.0.2" 0.012',  # 3: two hops, then the seconds
        escaped + ' "evil\\" \\"x" 1.5',  # 4: a hostile header, escaped by nginx
        OURS,  # 5: plain combined: no such field
        OURS + " 0.25",  # 6: combined with seconds: still no such field
        OURS + ' ""',  # 7: an empty header
        OURS + ' "2001:db8::1" "x"',  # 8: a fourth quoted field is no format of ours
        OURS + ' "203.0.113.7',  # 9: cut inside the field
    )
    parsed = parse_log(con, path, now=NOW)
    found = con.execute(
        f"SELECT line_number, forwarded, seconds, user_agent FROM {parsed.table} "
        "ORDER BY line_number"
    ).fetchall()
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Firefox/140.0"
    assert found == [
        (1, "203.0.113.7", None, agent),
        (2, "", None, agent),
        (3, "203.0.113.7, 10.0.0.2", 0.012, agent),
        (4, 'evil" "x', 1.5, 'x"y'),
        (5, "", None, agent),
        (6, "", 0.25, agent),
        (7, "", None, agent),
    ]
    assert samples(parsed) == {Reason.NOT_COMBINED: (1, (8,)), Reason.TRUNCATED: (1, (9,))}
    assert adds_up(parsed)


# ---------------------------------------------------------------- rejections


def test_every_reason_with_its_sample_lines(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    good = OURS
    path = write(
        tmp_path / "bad.log",
        good,  # 1
        "GET /index.html",  # 2: another format
        f'198.51.100.23 - - [{STAMP}] "GET /a HTTP/1.1" 200 12 "-" "Firef',  # 3: cut short
        good.replace("2026:11", "1999:11"),  # 4: before 2000
        good.replace("25/Nov/2026", "27/Nov/2026"),  # 5: over a day after now
        good.replace("25/Nov", "31/Feb"),  # 6: no such day
        good.encode().replace(b"Firefox", b"Fire\xfffox"),  # 7: invalid UTF-8 in the agent
        good.encode().replace(b"/categories", b"/caf\xe9"),  # 8: a latin-1 byte in the path
        good.replace("Firefox", "F" * (16 * 1024)),  # 9: too long
        "",  # 10: an empty line
        f"198.51.100.23 - - [{STAMP[:9]}",  # 11: cut inside the time
        good.replace("200 1234", "2OO 1234"),  # 12: a complete line, not the format
        good,  # 13
        good.replace("+0000", "+0100"),  # 14: an hour earlier in UTC
        "1999-01-01 garbage",  # 15
    )
    parsed = parse_log(con, path, now=NOW)
    assert samples(parsed) == {
        Reason.NOT_COMBINED: (4, (2, 10, 12, 15)),
        Reason.TRUNCATED: (2, (3, 11)),
        Reason.ABSURD_DATE: (3, (4, 5, 6)),
        Reason.INVALID_UTF8: (2, (7, 8)),
        Reason.TOO_LONG: (1, (9,)),
    }
    assert [r["line_number"] for r in rows(con, parsed)] == [1, 13, 14]
    assert parsed.lines_read == 15 and adds_up(parsed)


def test_a_day_after_now_is_still_plausible(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", OURS)
    assert parse_log(con, path, now=NOW - timedelta(hours=23)).rows == 1
    assert samples(parse_log(con, path, now=NOW - timedelta(hours=25))) == {
        Reason.ABSURD_DATE: (1, (1,))
    }


def test_samples_are_the_first_five_of_many(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", *THREE_KINDS * 40)
    parsed = parse_log(con, path, now=NOW)
    assert samples(parsed) == {
        Reason.NOT_COMBINED: (40, (2, 5, 8, 11, 14)),
        Reason.INVALID_UTF8: (40, (3, 6, 9, 12, 15)),
    }
    assert parsed.rows == 40


def test_an_empty_file_and_a_file_of_garbage(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    empty = parse_log(con, write(tmp_path / "empty.log"), now=NOW)
    assert (empty.rows, empty.lines_read, empty.rejected, empty.end) == (0, 0, {}, LogPosition())
    garbage = bytes(range(256)) * 50 + b"\n" + b"\x00\x00\n" + b"<html>\n"
    parsed = parse_log(con, write(tmp_path / "garbage.log", garbage, end=b""), now=NOW)
    lines = garbage.count(b"\n")
    assert parsed.rows == 0 and parsed.lines_read == lines and adds_up(parsed)
    assert parsed.end == LogPosition(len(garbage), lines + 1)


def test_a_huge_line_is_skipped_without_being_held(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clf, "BLOCK_BYTES", 64 * 1024)  # the line spans many reads
    huge = f'198.51.100.23 - - [{STAMP}] "GET /{"a" * 1_000_000} HTTP/1.1" 200 1 "-" "-"'
    path = write(tmp_path / "a.log", OURS, huge, OURS)
    parsed = parse_log(con, path, now=NOW)
    assert samples(parsed) == {Reason.TOO_LONG: (1, (2,))}
    assert [r["line_number"] for r in rows(con, parsed)] == [1, 3]
    assert parsed.end.offset == path.stat().st_size


def test_a_line_of_exactly_16_kib_is_kept(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    filler = 16 * 1024 - len(OURS.encode())
    line = OURS.replace("Firefox", "Firefox" + "x" * filler)
    assert len(line.encode()) == 16 * 1024
    parsed = parse_log(con, write(tmp_path / "a.log", line, line + "x"), now=NOW)
    assert parsed.rows == 1 and samples(parsed) == {Reason.TOO_LONG: (1, (2,))}


def test_an_unfinished_huge_line_is_left_for_later(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clf, "BLOCK_BYTES", 64 * 1024)
    path = write(tmp_path / "a.log", OURS, "x" * 200_000, end=b"")
    parsed = parse_log(con, path, now=NOW)
    assert (parsed.rows, parsed.rejected, parsed.end) == (1, {}, LogPosition(len(OURS) + 1, 2))


# ---------------------------------------------------------------- positions


def test_an_unfinished_last_line_waits_until_it_is_complete(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.log", OURS, OURS[:50], end=b"")
    first = parse_log(con, path, now=NOW)
    assert (first.rows, first.lines_read, first.rejected) == (1, 1, {})
    assert first.end == LogPosition(len(OURS) + 1, 2)
    assert first.bytes_consumed == len(OURS) + 1
    with path.open("ab") as log:
        log.write(OURS[50:].encode() + b"\n")
    second = parse_log(con, path, now=NOW, start=first.end)
    assert (second.rows, second.lines_read, second.rejected) == (1, 1, {})
    assert rows(con, second)[0]["line_number"] == 2
    assert second.end == LogPosition(path.stat().st_size, 3)


def test_resuming_reads_only_the_new_lines(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "a.log", OURS, "junk", OURS)
    first = parse_log(con, path, now=NOW)
    again = parse_log(con, path, now=NOW, start=first.end)
    assert (again.rows, again.lines_read, again.rejected) == (0, 0, {})
    with path.open("ab") as log:
        log.write(b"junk\n" + OURS.encode() + b"\n")
    later = parse_log(con, path, now=NOW, start=again.end)
    assert (later.rows, later.lines_read) == (1, 2)
    assert samples(later) == {Reason.NOT_COMBINED: (1, (4,))}
    assert [r["line_number"] for r in rows(con, later)] == [5]


def test_slices_by_max_bytes_add_up_to_the_whole(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clf, "BLOCK_BYTES", 1000)
    path = write(tmp_path / "a.log", *THREE_KINDS * 30)
    position, slices, row_lines = LogPosition(), [], []
    while position.offset < path.stat().st_size:
        parsed = parse_log(con, path, now=NOW, start=position, max_bytes=2000)
        assert 2000 <= parsed.bytes_consumed < 2000 + 1000 or parsed.end.offset == (
            path.stat().st_size
        )
        slices.append(parsed)
        row_lines += [r["line_number"] for r in rows(con, parsed)]
        position = parsed.end
    assert len(slices) >= 3 and position.line == 91
    assert row_lines == list(range(1, 90, 3))
    assert sum(s.lines_read for s in slices) == 90


def test_an_offset_that_is_no_line_start_is_refused(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.log", OURS, OURS)
    with pytest.raises(LogOffsetError):
        parse_log(con, path, now=NOW, start=LogPosition(5, 1))
    with pytest.raises(LogOffsetError):  # the file was truncated since
        parse_log(con, path, now=NOW, start=LogPosition(10_000, 9))


def test_gzip_reads_the_uncompressed_stream(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "access.log.1"  # known by its bytes, not its name
    path.write_bytes(gzip.compress((OURS + "\njunk\n" + OURS + "\n").encode()))
    parsed = parse_log(con, path, now=NOW)
    assert parsed.rows == 2 and samples(parsed) == {Reason.NOT_COMBINED: (1, (2,))}
    assert parsed.end == LogPosition(2 * len(OURS) + 7, 4) and parsed.read_error is None
    resumed = parse_log(con, path, now=NOW, start=LogPosition(len(OURS) + 1, 2))
    assert resumed.rows == 1 and resumed.lines_read == 2


def test_a_damaged_gzip_ends_at_its_last_whole_line(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    whole = gzip.compress(((OURS + "\n") * 2000).encode())
    path = tmp_path / "a.log.gz"
    path.write_bytes(whole[: len(whole) // 2])
    parsed = parse_log(con, path, now=NOW)
    assert parsed.read_error is not None
    assert 0 < parsed.rows < 2000 and parsed.rejected == {}
    assert parsed.end.offset == parsed.rows * (len(OURS) + 1)


def test_the_table_is_the_callers_and_each_parse_replaces_it(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.log", OURS, OURS)
    parse_log(con, path, now=NOW, table="day_one")
    parse_log(con, path, now=NOW, table="day_one")
    assert con.execute('SELECT count(*), min("at") FROM day_one').fetchone() == (
        2,
        datetime(2026, 11, 25, 11, 4, 5),
    )
    with pytest.raises(ValueError):
        parse_log(con, path, now=NOW, table="x; DROP TABLE day_one")
    with pytest.raises(ValueError):
        parse_log(con, path, now=NOW.replace(tzinfo=None))


def test_lines_across_blocks_and_pieces_keep_their_numbers(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clf, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(clf, "PIECE_BYTES", 300)
    path = write(tmp_path / "a.log", *THREE_KINDS * 30)
    parsed = parse_log(con, path, now=NOW)
    assert [r["line_number"] for r in rows(con, parsed)] == list(range(1, 90, 3))
    assert samples(parsed) == {
        Reason.NOT_COMBINED: (30, (2, 5, 8, 11, 14)),
        Reason.INVALID_UTF8: (30, (3, 6, 9, 12, 15)),
    }


def test_windows_line_ends_are_line_ends_not_part_of_the_user_agent(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clf, "BLOCK_BYTES", 1000)  # lines at the ends of blocks and pieces
    monkeypatch.setattr(clf, "PIECE_BYTES", 300)
    unix = parse_log(con, write(tmp_path / "unix.log", *[OURS] * 12), now=NOW, table="unix")
    windows = write(tmp_path / "windows.log", *[OURS] * 12, "junk")
    windows.write_bytes(windows.read_bytes().replace(b"\n", b"\r\n"))
    parsed = parse_log(con, windows, now=NOW)
    assert parsed.rows == 12 and samples(parsed) == {Reason.NOT_COMBINED: (1, (13,))}
    assert parsed.end.offset == windows.stat().st_size
    assert rows(con, parsed) == rows(con, unix)
    assert {row["user_agent"] for row in rows(con, parsed)} == {
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Firefox/140.0"
    }


# ---------------------------------------------------------------- fuzz

_PARTS = st.sampled_from(
    [
        *(OURS, OURS[:40], "", "\r", '"', "\\", " - - [", "\xff", "\udcff", "é", "\x00", "\n"),
        *(' "203.0.113.7, 10.0.0.2"', " 0.012"),  # nginx main's X-Forwarded-For, the seconds
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(
        st.binary(max_size=3000),
        st.lists(_PARTS, max_size=30).map(
            lambda parts: "".join(parts).encode("utf-8", "surrogateescape")
        ),
    )
)
def test_any_bytes_are_rows_or_rejections(tmp_path_factory: Any, content: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "a.log"
    path.write_bytes(content)
    connection = duckdb.connect()
    parsed = parse_log(connection, path, now=NOW)
    complete = content[: content.rfind(b"\n") + 1]
    assert parsed.lines_read == complete.count(b"\n")
    assert parsed.end == LogPosition(len(complete), parsed.lines_read + 1)
    assert adds_up(parsed)
    for rejected in parsed.rejected.values():
        assert rejected.sample_lines == tuple(sorted(rejected.sample_lines))
        assert all(1 <= n <= parsed.lines_read for n in rejected.sample_lines)
    connection.close()
