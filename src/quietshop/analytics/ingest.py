"""``quietshop analytics ingest``: access logs in, traffic aggregates out (issue 10, item 2).

For each file, from where the node's last ingestion of it stopped (``store.py``):

1. ``clf.parse_log`` turns a slice of lines into DuckDB rows; bad lines are counted as
   rejected with their reason, never raised.
2. Each distinct User-Agent is classified once (``classify.agent``: bot or browser), each
   distinct address placed in a country once, and each distinct (day, address,
   User-Agent) hashed once into the visitor's key. Addresses go no further than this.
3. Bots, assets and health checks are counted per day; every other request becomes an
   event of its day; the slice's end becomes the file's position; the days touched are
   marked dirty. One DuckDB transaction: a stop in between leaves the slice unread.
4. After the files, every dirty day is counted anew from its events
   (``aggregates.count_days``) and replaces that node's rows of the day in the shop's
   database; then the days older than the raw logs' retention are sealed.

The visitor key of a line that carries an address is the day's hash of it, with the same
salt the access log hashes private routes' lines with while the day is open, so one
visitor's public and private lines are one visitor. For a day whose salt is gone (an older
log, or a proxy's), a salt of the store's own is used, deleted when the day is sealed.

Behind a proxy (nginx's ``main`` format, whose last quoted field is ``X-Forwarded-For``),
a line's client is the one the header names only when the line's host is one of
``trusted_proxies``, read as the shop reads its own requests' (``web/forwarded.py``:
from the right, past every trusted hop; a malformed entry leaves the last trusted hop).
From any other host the header is ignored: anyone can send it. The header goes no
further than that choice.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quietshop.analytics import aggregates, classify, clf, store
from quietshop.analytics.models import DailySalt
from quietshop.analytics.visitors import (
    SALT_BYTES,
    day_of,
    hmac_pads,
    salt_of_day,
    visitor_hash_sql,
)
from quietshop.db import transaction
from quietshop.web import forwarded

# Lines of a sealed day (its events are gone, its aggregates final) cannot be counted.
DAY_SEALED = "day already sealed"
FILE_CHANGED = "file changed since it was last read"

Progress = Callable[[int], None]  # bytes consumed since the last call


@dataclass
class FileResult:
    path: Path
    lines: int = 0
    events: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, clf.Rejected] = field(default_factory=dict)
    error: str | None = None


@dataclass
class IngestResult:
    files: list[FileResult]
    days_counted: list[date]
    days_sealed: list[date]

    @property
    def lines(self) -> int:
        return sum(result.lines for result in self.files)


@dataclass(frozen=True)
class Ingestion:
    """What one ingestion needs: the shop's database, the node's state and clock."""

    sessions: sessionmaker[Session]
    store_dir: Path
    node: str
    retention_days: int
    shop_host: str = ""  # referrers from it are the shop's own pages, not referrers
    # Names a path by its route, for the slowest routes (classify.RouteNames of the app's).
    route_of: Callable[[str], str] = classify.route_of
    # Hosts whose lines' X-Forwarded-For names the client (settings.trusted_proxy_list).
    trusted_proxies: tuple[str, ...] = ()


def ingest(
    ingestion: Ingestion,
    paths: Sequence[Path],
    *,
    now: datetime,
    progress: Progress | None = None,
) -> IngestResult:
    """Read ``paths`` from their positions, then count the touched days anew."""
    with store.open_store(ingestion.store_dir) as connection:
        reader = _Reader(ingestion, connection, now)
        results = [reader.read_file(path, progress) for path in paths]
        counted = aggregates.count_days(
            connection,
            ingestion.sessions,
            ingestion.node,
            store.dirty_days(connection),
            ingestion.route_of,
        )
        first_kept = day_of(now) - timedelta(days=ingestion.retention_days)
        sealed = store.seal_days_before(connection, first_kept)
    return IngestResult(results, counted, sealed)


def seal(ingestion: Ingestion, *, now: datetime) -> list[date]:
    """Only the sealing step: what ``serve`` does when it has no line to read."""
    with store.open_store(ingestion.store_dir) as connection:
        first_kept = day_of(now) - timedelta(days=ingestion.retention_days)
        return store.seal_days_before(connection, first_kept)


# DuckDB SQL over the parse's rows (clf_rows) and the lookups the reader fills.
_NEW_LOOKUPS = """
CREATE TEMP TABLE IF NOT EXISTS agents (
    user_agent VARCHAR PRIMARY KEY, bot BOOLEAN, browser VARCHAR, os VARCHAR, device VARCHAR);
CREATE OR REPLACE TEMP TABLE hosts (host VARCHAR PRIMARY KEY, country VARCHAR);
CREATE OR REPLACE TEMP TABLE pads (day DATE PRIMARY KEY, inner_pad BLOB, outer_pad BLOB);
"""
_NEW_AGENTS = """
SELECT DISTINCT user_agent FROM clf_rows
WHERE user_agent NOT IN (SELECT user_agent FROM agents)
"""
_HUMAN_HOSTS = """
SELECT DISTINCT host FROM kept WHERE host <> '-' AND NOT starts_with(host, 'v-')
"""
_HUMAN_DAYS = """
SELECT DISTINCT day FROM kept WHERE host <> '-' AND NOT starts_with(host, 'v-')
EXCEPT SELECT day FROM pads
"""
_KIND = f"""CASE
    WHEN r.path IS NULL THEN 'no request'
    WHEN a.bot THEN 'bot'
    WHEN {classify.static_sql("r.path")} THEN 'asset'
    WHEN {classify.health_sql("r.path")} THEN 'health check'
    ELSE NULL END"""
_SEALED = 'CAST(r."at" AS DATE) IN (SELECT day FROM sealed_days)'
# Every line's day and kind, counted: what is left out (and of which days), and the lines
# of sealed days. One pass; only the lines kept are copied on.
_COUNTS = f"""
SELECT CAST(r."at" AS DATE) AS day, CASE WHEN {_SEALED} THEN 'sealed' ELSE {_KIND} END, count(*)
FROM clf_rows r JOIN agents a USING (user_agent) GROUP BY ALL
"""  # noqa: S608 -- built from this module's constants, no input
_KEPT = f"""
CREATE OR REPLACE TEMP TABLE kept AS
SELECT r.*, CAST(r."at" AS DATE) AS day, a.browser, a.os, a.device
FROM clf_rows r JOIN agents a USING (user_agent)
WHERE ({_KIND}) IS NULL AND NOT {_SEALED}
"""  # noqa: S608 -- built from this module's constants, no input
# A referrer from another site, as its domain without "www."; the shop's own pages and
# no referrer are ''. A user name (and password) before an "@" is the referrer's own
# (https://ann@mail.example/): skipped, never taken for the domain.
_REFERRER = """coalesce(nullif(regexp_replace(lower(regexp_extract(c.referrer,
    '^https?://(?:[^/?#@]*@)?([^/:?#@]+)', 1)), '^www\\.', ''), $shop_host), '')"""
# The visitor of a line with an address: its day's keyed hash of address and User-Agent.
_VISITOR = visitor_hash_sql("k.inner_pad", "k.outer_pad", "c.host", "c.user_agent")
_EVENTS = f"""
INSERT INTO events
SELECT c.day, c."at",
       CASE WHEN starts_with(c.host, 'v-') THEN c.host
            WHEN c.host <> '-' THEN {_VISITOR}
       END,
       c.method, c.path, c.status,
       c.method = 'GET' AND (c.status BETWEEN 200 AND 299 OR c.status = 304)
           AND NOT starts_with(c.path, '/api/'),
       c.method = 'POST' AND c.path = '{aggregates.ORDER_PATH}' AND c.status IN (200, 201),
       {_REFERRER}, c.browser, c.os, c.device, coalesce(h.country, '{classify.UNKNOWN}'),
       c.seconds
FROM kept c
LEFT JOIN hosts h ON h.host = c.host
LEFT JOIN pads k ON k.day = c.day
"""  # noqa: S608 -- built from this module's constants, no input


_FORWARDING_HOSTS = "SELECT DISTINCT host FROM clf_rows WHERE forwarded <> ''"
_FORWARDED_PAIRS = """
SELECT DISTINCT host, forwarded FROM clf_rows WHERE forwarded <> '' AND host = ANY(?)
"""
_NEW_CLIENTS = """
CREATE OR REPLACE TEMP TABLE clients (host VARCHAR, forwarded VARCHAR, client VARCHAR)
"""
_TO_CLIENTS = """
UPDATE clf_rows SET host = c.client FROM clients c
WHERE clf_rows.host = c.host AND clf_rows.forwarded = c.forwarded
"""


def _is_trusted(host: str, proxies: tuple[str, ...]) -> bool:
    """Whether ``host`` (a line's, as written) is one of the configured proxies."""
    address = forwarded.parse_address(host)
    if address is None:
        return False
    parsed = ipaddress.ip_address(address)
    return any(
        parsed.version == network.version and parsed in network
        for network in forwarded.trusted_networks(proxies)
    )


@dataclass
class _SliceCounts:
    """What one slice's lines were, before any is written."""

    days: set[date] = field(default_factory=set)  # the days of lines not sealed
    excluded: list[tuple[date, str, int]] = field(default_factory=list)
    sealed: int = 0

    def tally(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for _, kind, count in self.excluded:
            found[kind] = found.get(kind, 0) + count
        return found


def _slice_counts(connection: duckdb.DuckDBPyConnection) -> _SliceCounts:
    counts = _SliceCounts()
    for day, kind, count in connection.execute(_COUNTS).fetchall():
        if kind == "sealed":
            counts.sealed += int(count)
            continue
        counts.days.add(day)
        if kind is not None:
            counts.excluded.append((day, kind, int(count)))
    return counts


def _insert_columns(
    connection: duckdb.DuckDBPyConnection, table: str, *columns: Sequence[object]
) -> None:
    """INSERT rows given as columns: one list parameter a column, which DuckDB takes in
    bulk (executemany runs one statement a row, about 50 us each)."""
    unnests = ", ".join("unnest(?)" for _ in columns)
    connection.execute(f"INSERT INTO {table} SELECT {unnests}", [list(c) for c in columns])


class _Reader:
    def __init__(
        self, ingestion: Ingestion, connection: duckdb.DuckDBPyConnection, now: datetime
    ) -> None:
        self.ingestion = ingestion
        self.connection = connection
        self.now = now
        self.today = day_of(now)
        self.salts: dict[date, bytes] = {}
        connection.execute(_NEW_LOOKUPS)

    def read_file(self, path: Path, progress: Progress | None) -> FileResult:
        result = FileResult(path)
        try:
            identity = store.file_identity(path)
        except store.DamagedLogError as error:
            result.error = str(error)
            return result
        except OSError as error:
            result.error = f"{type(error).__name__}: {error.strerror or error}"
            return result
        if identity is None:
            return result  # no whole line yet: nothing to read
        at = store.position(self.connection, identity)
        while True:
            try:
                parsed = clf.parse_log(self.connection, path, now=self.now, start=at)
            except clf.LogOffsetError:
                result.error = FILE_CHANGED
                return result
            except OSError as error:
                result.error = f"{type(error).__name__}: {error.strerror or error}"
                return result
            if parsed.lines_read == 0:
                result.error = parsed.read_error
                return result
            self._take_slice(parsed, identity, path, result)
            if progress is not None:
                progress(parsed.bytes_consumed)
            at = parsed.end
            if parsed.read_error is not None:
                result.error = parsed.read_error
                return result

    def _take_slice(
        self, parsed: clf.ParsedLog, identity: str, path: Path, result: FileResult
    ) -> None:
        connection = self.connection
        self._believe_proxies()
        self._classify_agents()
        counts = _slice_counts(connection)
        connection.execute(_KEPT)
        self._place_hosts()
        self._key_visitors()
        rejected = {reason.value: found for reason, found in parsed.rejected.items()}
        if counts.sealed:
            rejected[DAY_SEALED] = clf.Rejected(counts.sealed, ())
        days = set(counts.days) | ({self.today} if rejected else set())
        connection.execute("BEGIN")
        try:
            if counts.excluded:
                _insert_columns(connection, "excluded", *zip(*counts.excluded, strict=True))
            inserted = connection.execute(
                _EVENTS, {"shop_host": self.ingestion.shop_host}
            ).fetchone()
            for reason, found in rejected.items():
                connection.execute(
                    "INSERT INTO rejected VALUES (?, ?, ?)", [self.today, reason, found.count]
                )
            # Rejected lines count on the day they were read: a line's own day is unknown.
            connection.execute("INSERT OR IGNORE INTO dirty_days SELECT unnest(?)", [sorted(days)])
            store.save_position(connection, identity, path.name, parsed.end)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        result.lines += parsed.lines_read
        result.events += int(inserted[0]) if inserted else 0
        for kind, count in counts.tally().items():
            result.excluded[kind] = result.excluded.get(kind, 0) + count
        for reason, found in rejected.items():
            before = result.rejected.get(reason)
            samples = found.sample_lines if before is None else before.sample_lines
            total = found.count + (before.count if before else 0)
            result.rejected[reason] = clf.Rejected(total, samples)

    def _believe_proxies(self) -> None:
        """Each line a trusted proxy logged with an X-Forwarded-For gets the client it names
        as its host; every other line keeps its host. Once per distinct (proxy, header)."""
        proxies = self.ingestion.trusted_proxies
        if not proxies:
            return
        senders = [row[0] for row in self.connection.execute(_FORWARDING_HOSTS).fetchall()]
        trusted = [host for host in senders if _is_trusted(host, proxies)]
        if not trusted:
            return
        pairs = self.connection.execute(_FORWARDED_PAIRS, [trusted]).fetchall()
        clients = [forwarded.client_address(host, header, proxies) for host, header in pairs]
        hosts, headers = (list(column) for column in zip(*pairs, strict=True))
        self.connection.execute(_NEW_CLIENTS)
        _insert_columns(self.connection, "clients", hosts, headers, clients)
        self.connection.execute(_TO_CLIENTS)

    def _classify_agents(self) -> None:
        new = [row[0] for row in self.connection.execute(_NEW_AGENTS).fetchall()]
        if not new:
            return
        found = [classify.agent(user_agent) for user_agent in new]
        _insert_columns(
            self.connection,
            "agents",
            new,
            [agent.bot for agent in found],
            [agent.browser for agent in found],
            [agent.os for agent in found],
            [agent.device for agent in found],
        )

    def _place_hosts(self) -> None:
        self.connection.execute("DELETE FROM hosts")
        hosts = [row[0] for row in self.connection.execute(_HUMAN_HOSTS).fetchall()]
        if hosts:
            _insert_columns(self.connection, "hosts", hosts, classify.countries(hosts))

    def _key_visitors(self) -> None:
        """The HMAC keys of the days of the slice's lines that carry an address, for
        _EVENTS to hash each line's visitor in SQL (a Python call per visitor cost more
        than the rest of the slice). Kept for the run: a day's salt does not change."""
        days = [row[0] for row in self.connection.execute(_HUMAN_DAYS).fetchall()]
        if not days:
            return
        inner, outer = zip(*(hmac_pads(self._salt(day)) for day in days), strict=True)
        _insert_columns(self.connection, "pads", days, inner, outer)

    def _salt(self, day: date) -> bytes:
        """The key of ``day``'s visitor hashes (see the module's docstring)."""
        salt = self.salts.get(day)
        if salt is not None:
            return salt
        found = self.connection.execute("SELECT salt FROM salts WHERE day = ?", [day]).fetchone()
        salt = bytes(found[0]) if found else self._shop_salt(day)
        if salt is None:
            salt = os.urandom(SALT_BYTES)
            self.connection.execute("INSERT INTO salts VALUES (?, ?)", [day, salt])
        self.salts[day] = salt
        return salt

    def _shop_salt(self, day: date) -> bytes | None:
        """The shop's own salt of ``day`` while it lives; made only for today, since a
        later day's salt would close today."""
        with transaction(self.ingestion.sessions) as session:
            if day == self.today:
                return salt_of_day(session, day, self.now)
            if day > self.today:
                return None
            found = session.execute(select(DailySalt.salt).where(DailySalt.day == day))
            return found.scalar_one_or_none()
