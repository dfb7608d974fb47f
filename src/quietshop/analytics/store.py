"""The node's ingestion state, a DuckDB file in ``data_dir/analytics`` (issue 10).

It holds what exact counts of an open day need and nothing longer than the raw log lives:

- ``positions``: per log file (its identity, below) how far it has been read, so an
  ingestion resumes where the last stopped and never reads a line twice;
- ``events``: the counted requests of the recent days, one row each, with the visitor's
  key, path, status, referrer domain, browser, system, device class, country and the
  seconds it took, but no address and no User-Agent. Distinct visitors and visits of a
  day can only be counted from these, and a day is counted anew from them each time
  lines of it arrive, so the aggregates in the shop's database are replaced, never added
  to: nothing counts twice;
- ``excluded`` and ``rejected``: bots, assets and health checks per day, and lines that
  were no Combined Log Format, per reason and day of ingestion;
- ``dirty_days``: days whose aggregates are to be counted anew (kept until they are, so
  an ingestion stopped in between is finished by the next);
- ``sealed_days``: days whose events are deleted; later lines of them are rejected;
- ``salts``: the keys of visitor hashes for lines that carry an address, for days whose
  own salt in the shop's database is gone (an older log, a proxy's log).

A day is sealed once it is older than ``access_log_retention_days``, when its raw log is
deleted too: from then on only its aggregates remain. One process writes the file at a
time (DuckDB's lock); a second ingestion is told so and stops.

File identity: the SHA-256 of a file's first line (of its uncompressed stream). A renamed
file (rotation), a copy, or the same log gzipped is the same file, and its position
holds; a file rewritten from its start is another. Every line carries its time and
client, so two different logs never share a first line in practice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

from quietshop.analytics.clf import MAX_LINE_BYTES, LogPosition
from quietshop.errors import EnvironmentProblem

STORE_FILE = "ingest.duckdb"
# DuckDB's own ceiling: the parse's blocks and a few days' windows fit under it, and the
# process stays under issue 10's 300 MB (clf.BLOCK_BYTES says what was measured).
MEMORY_LIMIT = "96MB"

SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    identity VARCHAR PRIMARY KEY, name VARCHAR, "offset" BIGINT, line BIGINT);
CREATE TABLE IF NOT EXISTS events (
    day DATE, "at" TIMESTAMP, visitor VARCHAR, method VARCHAR, path VARCHAR,
    status INTEGER, pageview BOOLEAN, order_placed BOOLEAN, referrer VARCHAR,
    browser VARCHAR, os VARCHAR, device VARCHAR, country VARCHAR, seconds DOUBLE);
CREATE TABLE IF NOT EXISTS excluded (day DATE, kind VARCHAR, requests BIGINT);
CREATE TABLE IF NOT EXISTS rejected (day DATE, reason VARCHAR, lines BIGINT);
CREATE TABLE IF NOT EXISTS dirty_days (day DATE PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sealed_days (day DATE PRIMARY KEY);
CREATE TABLE IF NOT EXISTS salts (day DATE PRIMARY KEY, salt BLOB);
"""


class StoreBusyError(EnvironmentProblem):
    """Another process has the node's ingestion state open (an ingestion is running)."""


@contextmanager
def open_store(directory: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / STORE_FILE
    try:
        connection = duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT})
    except duckdb.IOException as error:
        if "lock" in str(error).lower():
            raise StoreBusyError(f"another ingestion has {path} open") from None
        raise
    try:
        connection.execute(SCHEMA)
        yield connection
    finally:
        connection.close()


class DamagedLogError(Exception):
    """A gzip log whose stream breaks before its first whole line: there is nothing to
    know it by, so nothing of it can be read (and it is said, not passed over)."""


def file_identity(path: Path) -> str | None:
    """The identity of a log file: a hash of its first line that is not blank (with how
    many bytes of blank lines came before it, so two files that both open with an empty
    line are still two), or None while it holds no such whole line yet. Raises
    DamagedLogError for a gzip stream damaged (or still being written) before it, and
    OSError where the file cannot be read."""
    with path.open("rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
        try:
            blank, head = _first_line_not_blank(stream)
        except (OSError, EOFError, zlib.error) as exc:
            if stream is raw:
                raise
            raise DamagedLogError(f"{type(exc).__name__}: {exc}") from exc
    if not head.endswith(b"\n") and len(head) <= MAX_LINE_BYTES:
        return None
    # Without blank lines before it, the hash of the line alone, as positions saved before
    # blank lines were told apart are keyed.
    return hashlib.sha256((f"{blank}:".encode() if blank else b"") + head).hexdigest()


def _first_line_not_blank(stream: io.BufferedIOBase) -> tuple[int, bytes]:
    """(bytes of blank lines first, the first line with more than whitespace). A line of
    more than MAX_LINE_BYTES is cut there; blank lines beyond that many bytes end it."""
    blank = 0
    while True:
        head = stream.readline(MAX_LINE_BYTES + 1)
        if head.strip() or not head.endswith(b"\n") or blank > MAX_LINE_BYTES:
            return blank, head
        blank += len(head)


def position(store: duckdb.DuckDBPyConnection, identity: str) -> LogPosition:
    found = store.execute(
        'SELECT "offset", line FROM positions WHERE identity = ?', [identity]
    ).fetchone()
    return LogPosition(int(found[0]), int(found[1])) if found else LogPosition()


def save_position(
    store: duckdb.DuckDBPyConnection, identity: str, name: str, at: LogPosition
) -> None:
    store.execute(
        'INSERT OR REPLACE INTO positions (identity, name, "offset", line) VALUES (?, ?, ?, ?)',
        [identity, name, at.offset, at.line],
    )


def dirty_days(store: duckdb.DuckDBPyConnection) -> list[date]:
    return [row[0] for row in store.execute("SELECT day FROM dirty_days ORDER BY day").fetchall()]


def seal_days_before(store: duckdb.DuckDBPyConnection, first_kept: date) -> list[date]:
    """Delete the events and salts of every day before ``first_kept`` whose aggregates are
    counted (not dirty); those days are sealed. Returns them."""
    days = [
        row[0]
        for row in store.execute(
            "SELECT DISTINCT day FROM events WHERE day < ? "
            "AND day NOT IN (SELECT day FROM dirty_days) "
            "UNION SELECT day FROM salts WHERE day < ? ORDER BY 1",
            [first_kept, first_kept],
        ).fetchall()
    ]
    if not days:
        return []
    store.execute("BEGIN")
    for table in ("events", "excluded", "salts"):
        store.execute(f"DELETE FROM {table} WHERE day = ANY(?)", [days])  # noqa: S608
    store.execute("DELETE FROM rejected WHERE day < ?", [first_kept])
    store.execute("INSERT OR IGNORE INTO sealed_days SELECT unnest(?)", [days])
    store.execute("COMMIT")
    # DuckDB reuses the freed blocks; CHECKPOINT writes the deletion out now.
    store.execute("CHECKPOINT")
    return days
