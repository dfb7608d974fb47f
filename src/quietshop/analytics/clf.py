"""Combined Log Format access logs parsed in bulk by DuckDB (issue 10, the parse under ingestion).

``parse_log`` reads one file from a ``LogPosition`` and leaves one row per good line in a
temporary DuckDB table of the caller's connection, for the ingestion to aggregate with SQL.
Python only reads bytes, cuts them at line ends and decodes them (C speed, once per block of
a few MiB); every line is matched, split and typed by DuckDB's vectorised RE2, so no Python
code runs per line unless a block holds invalid UTF-8.

Lines: ``HOST IDENT USER [02/Dec/2026:15:04:05 +0000] "GET /path?q HTTP/1.1" 200 1234 "ref" "ua"``
as ``web/access_log.py`` writes them and nginx's and Apache's ``combined`` formats do. HOST is
an IPv4 or IPv6 address, a visitor hash (``v-`` and 16 hex digits) or ``-``; IDENT and USER
are any non-blank field; bytes ``-`` is 0; times in any offset are turned into UTC. A line
may end in ``\r\n`` (a log copied from Windows): the ``\r`` belongs to no field.

After the User-Agent a line may carry one more quoted field, the ``X-Forwarded-For`` header
the request came with, as nginx's default ``main`` format writes it (``combined`` plus
`` "$http_x_forwarded_for"``); then the optional seconds. The field is only read here: who
may be believed is the ingestion's question (``ingest.py``), since anyone can send it.

Positions: a parse consumes whole lines only. A last line without its newline is left for
the next parse (the writer may be halfway through it): ``end`` stops before it, and a parse
from ``end`` reads only what came after. A gzip file (known by its magic bytes, not its
name) is read as its uncompressed stream, and its offsets count uncompressed bytes: resuming
decompresses and skips the bytes before the offset, so a rotated ``.gz`` is best read whole
once. A damaged or unfinished gzip stream ends the parse at its last whole line, with
``read_error`` saying why.

Every line is either a row or a rejection: ``lines_read == rows + sum of rejected counts``.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import duckdb

MAX_LINE_BYTES = 16 * 1024
SAMPLE_LINES = 5
# One block of lines is parsed by one SQL statement: the larger, the more of it both cores
# work on (a DuckDB row group is 122,880 rows), and a process parsing a slice of one block
# peaks near 7x the block (bytes, then text, then DuckDB's lines and rows). The parse
# alone: 32 MiB gave ~400,000 lines/s and a 222 MB peak on 2 cores, 16 MiB ~360,000 lines/s
# and ~215 MB. The whole ingestion of 1,000,000 lines (with store.MEMORY_LIMIT): 32 MiB
# and 128 MB peaked at 299-302 MB, 24 MiB and 96 MB at 271-277 MB, within 10% of its time.
BLOCK_BYTES = 24 * 1024 * 1024
PIECE_BYTES = 1024 * 1024
PIECES_PER_STATEMENT = 4
# The default slice: one block (any block but the file's last reaches it).
SLICE_BYTES = BLOCK_BYTES // 2
GZIP_READ_BYTES = 64 * 1024
EARLIEST = datetime(2000, 1, 1)  # naive UTC, as the table's TIMESTAMP column
_GZIP_MAGIC = b"\x1f\x8b"
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class Reason(StrEnum):
    """Why a line is no row; the first that applies, in this order."""

    TOO_LONG = "line too long"  # over MAX_LINE_BYTES, newline not counted
    INVALID_UTF8 = "invalid UTF-8"
    # A whole host and its space, then a proper prefix of the rest of a combined line.
    TRUNCATED = "truncated"
    NOT_COMBINED = "not combined log format"
    # Before 2000, over a day after the caller's now, or no such time (31/Feb, +2500).
    ABSURD_DATE = "absurd date"


@dataclass(frozen=True)
class LogPosition:
    """Where a parse starts or stopped: ``offset`` bytes into the (uncompressed) stream,
    always at a line start, and the number of the line that starts there (1 for the first)."""

    offset: int = 0
    line: int = 1


@dataclass(frozen=True)
class Rejected:
    count: int
    sample_lines: tuple[int, ...]  # the first few line numbers, ascending


@dataclass(frozen=True)
class ParsedLog:
    """What one ``parse_log`` did. ``table`` names a TEMP table in the caller's connection:
    line_number BIGINT, "at" TIMESTAMP (UTC), host, method, path, query VARCHAR, status
    INTEGER, bytes BIGINT, referrer, user_agent, forwarded VARCHAR, seconds DOUBLE. method
    and path are NULL when the request was not ``METHOD TARGET [HTTP/x]`` (nginx logs
    ``"-"`` for a connection closed before its request); query is the target's part after
    ``?``, empty when it has none (NULL with no target); referrer, user_agent and forwarded
    (the X-Forwarded-For field of nginx's ``main`` format, as the line says it, unchecked)
    are unescaped, and empty where the log said ``-`` or has no such field; seconds is the
    request's duration where the line ends in one, else NULL."""

    table: str
    rows: int
    rejected: dict[Reason, Rejected]
    lines_read: int
    start: LogPosition
    end: LogPosition
    read_error: str | None = None

    @property
    def bytes_consumed(self) -> int:
        return self.end.offset - self.start.offset


class LogOffsetError(ValueError):
    """The start offset is past the end of the file or not at a line start: the file was
    truncated or replaced since that offset was stored."""


# ---------------------------------------------------------------- the patterns (RE2)

_HOST = r"(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*|v-[0-9a-f]{16}|-)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_QUOTED_BODY = r'(?:[^"\\]|\\.)*'
# A trailing number is the request's duration in seconds, as the shop writes it and as
# nginx's $request_time appended to its combined format does: "... "ua" 0.012".
_SECONDS = r"\d{1,9}(?:\.\d{1,6})?"
_FULL = (
    rf"^({_HOST}) \S+ \S+ \[(\d\d/{_MONTH}/\d{{4}}:\d\d:\d\d:\d\d) ([+-])(\d\d)(\d\d)\] "
    rf'"({_QUOTED_BODY})" (\d{{3}}) (\d{{1,18}}|-) "({_QUOTED_BODY})" "({_QUOTED_BODY})"'
    rf'(?: "({_QUOTED_BODY})")?(?: ({_SECONDS}))?$'
)
_FULL_GROUPS = [
    *("host", "stamp", "sign", "zh", "zm", "request", "status", "bytes", "ref", "ua", "fwd"),
    "seconds",
]
_REQUEST = r"^([A-Z]+) (\S+)(?: HTTP/\d(?:\.\d)?)?$"


def _digits(count: int) -> tuple[str, str]:
    return rf"\d{{{count}}}", rf"\d{{0,{count - 1}}}"


def _literal(text: str) -> list[tuple[str, str]]:
    return [(re.escape(char), "") for char in text]


def _prefix_pattern() -> str:
    """A line cut short: a whole host and its space, then any proper prefix of the rest of
    a combined line. Each piece is (its full pattern, a pattern for any proper prefix)."""
    field_ = (r"\S+", r"\S*")
    quoted = [('"', ""), (_QUOTED_BODY, _QUOTED_BODY + r"\\?"), ('"', "")]
    pieces = [
        field_,
        *_literal(" "),
        field_,
        *_literal(" ["),
        _digits(2),
        *_literal("/"),
        (_MONTH, r"[A-Za-z]{0,2}"),
        *_literal("/"),
        _digits(4),
        *[piece for _ in range(3) for piece in (*_literal(":"), _digits(2))],
        *_literal(" "),
        (r"[+-]", ""),
        _digits(4),
        *_literal("] "),
        *quoted,
        *_literal(" "),
        _digits(3),
        *_literal(" "),
        (r"(?:\d{1,18}|-)", r"\d{0,17}"),
        *_literal(" "),
        *quoted,
        *_literal(" "),
        *quoted,
        # nginx's "main": the X-Forwarded-For field, cut short too. A complete combined
        # line is a prefix of this, but never reaches the question: it is a row.
        *_literal(" "),
        *quoted,
    ]
    nested = "$"
    for full, partial in reversed(pieces):
        nested = f"(?:{partial}$|{full}{nested})"
    return rf"^{_HOST} {nested}"


_PREFIX = _prefix_pattern()


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# A block's lines come as pieces of about a MiB ($pieces, each line without its newline,
# $firsts their first line numbers): DuckDB turns one huge string parameter into rows
# several times slower than a list of smaller ones.
_NEW_LINES = "CREATE OR REPLACE TEMP TABLE _clf_lines (line_number BIGINT, line VARCHAR)"
_LINES = """
INSERT INTO _clf_lines
SELECT unnest(generate_series(first, first + len(l) - 1)) AS line_number, unnest(l) AS line
FROM (SELECT first, string_split(piece, chr(10)) AS l
      FROM (SELECT unnest($firsts) AS first, unnest($pieces) AS piece))
"""

# Nearly every line is "simple": no backslash, no quote outside its three (with nginx's
# X-Forwarded-For, four) quoted fields,
# and a request of METHOD TARGET HTTP/x. RE2's DFA only says yes or no to that, and the
# fields come from cutting the line at its quotes and the request at its spaces, several
# times faster than RE2 extracting groups; RE2 extracts the fields of the rare other line.
_SIMPLE = (
    rf"^{_HOST} [^\s\"]+ [^\s\"]+ \[\d\d/{_MONTH}/\d{{4}}:\d\d:\d\d:\d\d [+-]\d{{4}}\] "
    r'"[A-Z]+ [^\s"\\]+ HTTP/\d(?:\.\d)?" \d{3} (?:\d{1,18}|-) "[^"\\]*" "[^"\\]*"'
    rf'(?: "[^"\\]*")?(?: {_SECONDS})?$'
)

# The head ("host ident user [time] ") ends in a time of fixed width. Cut at its quotes a
# line is 7 parts, or 9 with an X-Forwarded-For field; either way the last is the seconds.
_SIMPLE_FIELDS = """struct_pack(
    host := left(parts[1], strpos(parts[1], ' ') - 1),
    stamp := substr(parts[1], strlen(parts[1]) - 27, 20),
    sign := substr(parts[1], strlen(parts[1]) - 6, 1),
    zh := substr(parts[1], strlen(parts[1]) - 5, 2),
    zm := substr(parts[1], strlen(parts[1]) - 3, 2),
    request := parts[2],
    status := substr(parts[3], 2, 3),
    bytes := substr(parts[3], 6, strlen(parts[3]) - 6),
    ref := parts[4],
    ua := parts[6],
    fwd := CASE WHEN len(parts) = 9 THEN parts[8] ELSE '' END,
    seconds := ltrim(parts[-1]))"""


def _unescaped(expression: str) -> str:
    """A quoted field as it was before the writer escaped it; '-' (no value) is empty."""
    return (
        f"CASE WHEN {expression} = '-' THEN '' WHEN contains({expression}, '\\') "
        f"THEN regexp_replace({expression}, '\\\\(.)', '\\1', 'g') ELSE {expression} END"
    )


def _classified(source: str) -> str:
    """Each line of ``source`` (line_number, line) as a row's columns and its ``reason``,
    NULL for a good line. $latest is the last plausible time."""
    return f"""
WITH checked AS (
    SELECT line_number, line, regexp_full_match(line, {_sql_string(_SIMPLE)}) AS simple
    FROM {source}
), cut AS (
    SELECT *, CASE WHEN simple THEN string_split(line, '"') END AS parts FROM checked
), matched AS (
    SELECT line_number, line, simple,
           CASE WHEN simple THEN {_SIMPLE_FIELDS}
                WHEN regexp_full_match(line, {_sql_string(_FULL)})
                THEN regexp_extract(line, {_sql_string(_FULL)}, {_FULL_GROUPS!r})
           END AS m
    FROM cut
), timed AS (
    SELECT *,
           CASE WHEN TRY_CAST(m.zh AS INTEGER) <= 23 AND TRY_CAST(m.zm AS INTEGER) <= 59 THEN
               try_strptime(m.stamp, '%d/%b/%Y:%H:%M:%S')
               - to_minutes((CASE m.sign WHEN '-' THEN -1 ELSE 1 END)
                            * (m.zh::INTEGER * 60 + m.zm::INTEGER))
           END AS "at",
           CASE WHEN simple THEN struct_pack(method := split_part(m.request, ' ', 1),
                                             target := split_part(m.request, ' ', 2))
                WHEN contains(m.request, '\\')
                THEN regexp_extract(regexp_replace(m.request, '\\\\(.)', '\\1', 'g'),
                                    {_sql_string(_REQUEST)}, ['method', 'target'])
                ELSE regexp_extract(m.request, {_sql_string(_REQUEST)}, ['method', 'target'])
           END AS r
    FROM matched
)
SELECT line_number, "at", m.host,
       nullif(r.method, '') AS method,
       nullif(split_part(r.target, '?', 1), '') AS path,
       CASE WHEN r.target = '' THEN NULL
            WHEN contains(r.target, '?') THEN r.target[strpos(r.target, '?') + 1:]
            ELSE '' END AS query,
       m.status::INTEGER AS status,
       CASE m.bytes WHEN '-' THEN 0 ELSE m.bytes::BIGINT END AS bytes,
       {_unescaped("m.ref")} AS referrer,
       {_unescaped("m.ua")} AS user_agent,
       {_unescaped("m.fwd")} AS forwarded,
       TRY_CAST(nullif(m.seconds, '') AS DOUBLE) AS seconds,
       CASE
           WHEN strlen(line) > {MAX_LINE_BYTES} THEN '{Reason.TOO_LONG}'
           WHEN m IS NULL THEN
               CASE WHEN regexp_matches(line, {_sql_string(_PREFIX)})
                    THEN '{Reason.TRUNCATED}' ELSE '{Reason.NOT_COMBINED}' END
           WHEN "at" IS NULL OR "at" < TIMESTAMP '{EARLIEST.isoformat(" ")}'
                OR "at" > $latest
               THEN '{Reason.ABSURD_DATE}'
       END AS reason
FROM timed
"""  # noqa: S608 -- built from this module's constants, no input


_ROWS_COLUMNS = """
    line_number BIGINT, "at" TIMESTAMP, host VARCHAR, method VARCHAR, path VARCHAR,
    query VARCHAR, status INTEGER, bytes BIGINT, referrer VARCHAR, user_agent VARCHAR,
    forwarded VARCHAR, seconds DOUBLE
"""
# Stands for the caller's table in the statements below (str.replace: they hold braces).
_TABLE = "__clf_rows_table__"
_ROW_NAMES = (
    'line_number, "at", host, method, path, query, status, bytes, referrer, user_agent, '
    "forwarded, seconds"
)

# Straight from the lines to the rows: no table of the block's parsed fields in between.
# Lines Python rejected (invalid UTF-8, too long) are empty here, so never rows.
_INSERT_ROWS = f"""
INSERT INTO {_TABLE}
SELECT {_ROW_NAMES} FROM ({_classified("_clf_lines")}) WHERE reason IS NULL
"""  # noqa: S608 -- the table name is checked against _TABLE_NAME

# Only when the block gave fewer rows than lines: the lines that are no row, found by
# line number ($first..$last), classified again (they are few), less $skip, the lines
# Python already rejected.
_MISSING = f"""(
    SELECT line_number, line FROM _clf_lines
    WHERE line_number NOT IN (SELECT unnest($skip::BIGINT[]))
      AND line_number NOT IN (SELECT line_number FROM {_TABLE}
                              WHERE line_number BETWEEN $first AND $last)
)"""  # noqa: S608 -- the table name is checked against _TABLE_NAME

_REJECTIONS = f"""
SELECT reason, count(*), list(line_number ORDER BY line_number)[1:$samples]
FROM ({_classified(_MISSING)}) WHERE reason IS NOT NULL GROUP BY reason
"""  # noqa: S608 -- the table name is checked against _TABLE_NAME


# ---------------------------------------------------------------- reading lines


@dataclass
class _Block:
    """``data[:size]``: whole lines, each with its newline (not sliced off, to spare a copy
    of a block), starting with line number ``first_line``; or, with ``size`` 0, one
    over-long line that was skipped without being kept."""

    data: bytes
    size: int
    first_line: int
    lines: int
    end_offset: int


@dataclass
class _Reader:
    stream: BinaryIO
    offset: int
    next_line: int
    step: int  # bytes per read call: what a damaged gzip can lose of what it still had
    error: str | None = None

    def read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        while self.error is None and size > 0:
            try:
                chunk = self.stream.read(min(size, self.step))
            except (EOFError, OSError, zlib.error) as exc:  # an unfinished or damaged gzip
                self.error = f"{type(exc).__name__}: {exc}"
                break
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def blocks(self) -> Iterator[_Block]:
        """Blocks in file order. While a block is out, only the block refers to its bytes, so
        whoever takes them (``_pieces``) can free them."""
        pending = b""  # the start of a line whose newline has not been read yet
        while chunk := self.read(BLOCK_BYTES):
            data: bytes | None = pending + chunk
            chunk = b""  # pending + chunk is a copy (or chunk itself): hold the bytes once
            while data is not None:
                cut = data.rfind(b"\n") + 1
                pending = data[cut:]
                block = self._advance(data, cut, data.count(b"\n", 0, cut)) if cut else None
                data = None
                if block is not None:
                    yield block
                if len(pending) > MAX_LINE_BYTES:
                    data = yield from self._skip_long_line(len(pending))
                    if data is None:
                        return  # unfinished: the over-long line stays for the next parse
                    pending = b""

    def _advance(self, data: bytes, size: int, lines: int, skipped: int = 0) -> _Block:
        block = _Block(data, size, self.next_line, lines, self.offset + size + skipped)
        self.offset = block.end_offset
        self.next_line += lines
        return block

    def _skip_long_line(self, already: int) -> Generator[_Block, None, bytes | None]:
        """Drop an over-long line up to its newline without holding it; return what follows
        it in the chunk that ended it, or None when the file ends first."""
        skipped = already
        while chunk := self.read(BLOCK_BYTES):
            end = chunk.find(b"\n")
            if end >= 0:
                yield self._advance(b"", 0, 1, skipped + end + 1)
                return chunk[end + 1 :]
            skipped += len(chunk)
        return None


def _open(path: Path) -> BinaryIO:
    with path.open("rb") as peek:
        magic = peek.read(len(_GZIP_MAGIC))
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _seek(stream: BinaryIO, offset: int) -> None:
    """Put the stream at ``offset``, which must follow a newline (or be 0)."""
    if offset == 0:
        return
    if offset < 0:
        raise LogOffsetError(f"negative offset {offset}")
    try:
        stream.seek(offset - 1)
        before = stream.read(1)
    except (EOFError, OSError, zlib.error) as exc:
        raise LogOffsetError(f"cannot reach offset {offset}: {exc}") from exc
    if before != b"\n":
        raise LogOffsetError(f"offset {offset} is not at a line start (or past the end)")


# ---------------------------------------------------------------- decoding


_SURROGATE = re.compile("[\udc80-\udcff]")


def _decoded(raw: bytes, first_line: int) -> tuple[str, list[tuple[int, Reason]]]:
    """Lines as text, and those rejected here: nearly always valid UTF-8, decoded in one
    call. Otherwise each line holding an undecodable byte is emptied (its number kept, so
    SQL leaves it out) and rejected: a jump from bad line to bad line, never a Python step
    per good line."""
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "surrogateescape")
    parts: list[str] = []
    rejected: list[tuple[int, Reason]] = []
    position, line = 0, first_line
    while (bad := _SURROGATE.search(text, position)) is not None:
        start = text.rfind("\n", position, bad.start()) + 1 or position
        end = text.find("\n", bad.start())
        end = len(text) if end < 0 else end
        line += text.count("\n", position, start)
        size = len(text[start:end].encode("utf-8", "surrogateescape"))
        rejected.append((line, Reason.TOO_LONG if size > MAX_LINE_BYTES else Reason.INVALID_UTF8))
        parts.append(text[position:start])  # whole good lines, each with its newline
        position = end  # the bad line becomes empty; its newline stays
    parts.append(text[position:])
    return "".join(parts), rejected


@dataclass
class _Pieces:
    """A block as DuckDB takes it fastest: pieces of about PIECE_BYTES, cut at newlines
    (each without its last one), with each piece's first line number."""

    firsts: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    rejected: list[tuple[int, Reason]] = field(default_factory=list)


def _pieces(block: _Block) -> _Pieces:
    """The block's lines as text; the block's bytes are dropped (``data`` emptied), so a
    block never sits in memory as bytes and as text while DuckDB works on it."""
    pieces = _Pieces()
    start, line, last = 0, block.first_line, block.size - 1  # data[last] is a newline
    while start <= last:
        cut = block.data.find(b"\n", min(start + PIECE_BYTES, last), block.size)
        raw = block.data[start:cut]
        text, rejected = _decoded(raw, line)
        if "\r" in text:  # a log from Windows: "\r\n" ends its lines, "\r" is no field's
            text = text.replace("\r\n", "\n").removesuffix("\r")
        pieces.firsts.append(line)
        pieces.texts.append(text)
        pieces.rejected.extend(rejected)
        line += raw.count(b"\n") + 1
        start = cut + 1
    block.data = b""
    return pieces


# ---------------------------------------------------------------- the parse


@dataclass
class _Tally:
    counts: dict[Reason, int] = field(default_factory=dict)
    samples: dict[Reason, list[int]] = field(default_factory=dict)

    def add(self, reason: Reason, count: int, lines: list[int]) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count
        # Blocks come in file order, but within one block Python's rejections come first.
        kept = self.samples.get(reason, []) + lines[:SAMPLE_LINES]
        self.samples[reason] = sorted(kept)[:SAMPLE_LINES]

    def result(self) -> dict[Reason, Rejected]:
        return {
            reason: Rejected(count, tuple(self.samples[reason]))
            for reason, count in self.counts.items()
        }


def parse_log(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    now: datetime,
    start: LogPosition = LogPosition(),  # frozen: one shared default is safe
    table: str = "clf_rows",
    max_bytes: int | None = SLICE_BYTES,
) -> ParsedLog:
    """Parse ``path`` from ``start`` into TEMP table ``table`` (replaced if it exists).

    ``max_bytes`` stops the parse after the block (BLOCK_BYTES) that reaches it, so a
    caller takes a large file in slices, each resumed from the last one's ``end``, and
    holds no more rows at once than a slice has: by default one block, which keeps the
    process's peak near 7x BLOCK_BYTES; None reads to the end of the file, holding all
    its rows at once.

    ``now`` (aware) bounds plausible times: a line later than a day after it, or before
    2000, is an absurd date. Raises ``LogOffsetError`` when ``start`` is no longer a line
    start of this file; any content of the file is rows or rejections, never an error.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not _TABLE_NAME.match(table):
        raise ValueError(f"not a plain table name: {table!r}")
    latest = now.astimezone(UTC).replace(tzinfo=None) + timedelta(days=1)
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({_ROWS_COLUMNS})")
    tally = _Tally()
    with _open(path) as stream:
        _seek(stream, start.offset)
        step = GZIP_READ_BYTES if isinstance(stream, gzip.GzipFile) else BLOCK_BYTES
        reader = _Reader(stream, start.offset, start.line, step)
        for block in reader.blocks():
            _parse_block(connection, table, block, latest, tally)
            if max_bytes is not None and reader.offset - start.offset >= max_bytes:
                break
        end = LogPosition(reader.offset, reader.next_line)
    result = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return ParsedLog(
        table=table,
        rows=int(result[0]) if result else 0,
        rejected=tally.result(),
        lines_read=end.line - start.line,
        start=start,
        end=end,
        read_error=reader.error,
    )


def _parse_block(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    block: _Block,
    latest: datetime,
    tally: _Tally,
) -> None:
    if not block.size:  # an over-long line, skipped while reading
        tally.add(Reason.TOO_LONG, 1, [block.first_line])
        return
    pieces = _pieces(block)
    for line, reason in pieces.rejected:
        tally.add(reason, 1, [line])
    connection.execute(_NEW_LINES)
    # A few pieces a statement, each dropped once DuckDB has it: DuckDB holds a statement's
    # parameter and its split lines beside the table, a whole block's would be 3 copies.
    while pieces.texts:
        connection.execute(
            _LINES,
            {
                "firsts": pieces.firsts[:PIECES_PER_STATEMENT],
                "pieces": pieces.texts[:PIECES_PER_STATEMENT],
            },
        )
        del pieces.firsts[:PIECES_PER_STATEMENT], pieces.texts[:PIECES_PER_STATEMENT]
    inserted = connection.execute(
        _INSERT_ROWS.replace(_TABLE, table), {"latest": latest}
    ).fetchone()
    if (inserted[0] if inserted else 0) < block.lines - len(pieces.rejected):
        missing = {
            "latest": latest,
            "skip": [line for line, _ in pieces.rejected],
            "first": block.first_line,
            "last": block.first_line + block.lines - 1,
            "samples": SAMPLE_LINES,
        }
        for reason, count, lines in connection.execute(
            _REJECTIONS.replace(_TABLE, table), missing
        ).fetchall():
            tally.add(Reason(reason), int(count), list(lines))
    connection.execute("DROP TABLE _clf_lines")  # before the next block is read
