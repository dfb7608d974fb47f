"""The access log, in Combined Log Format, written so that no line points at a person (P5).

Kept: client IP, time, method, path, status, bytes, referrer, User-Agent, and the seconds
the request took (after the User-Agent, as nginx's ``$request_time``). On a private
route's line the IP's field holds the day's visitor hash instead (``privacy.py``, with the
hasher ``app.py`` hands it), or ``-``: never the address.
Never kept: the remote-user field (always ``-``), query parameters outside the ones the
domains declared, or a declared one whose value does not validate (so never a search
text, an address or a token), the raw path of a private route (logged by its template,
``/account/orders/{number}``), or path segments that look like an email address, a long
number or a token. ``web/`` names no route itself: each domain declares its private
prefixes and its loggable parameters, and ``app.py`` puts them into one ``LogPolicy``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

# A segment with '@', a run of 6+ digits, or 16+ letters and digits without a hyphen (a token,
# not a slug's word) could name a person.
_REVEALING = re.compile(r"@|%40|\d{6,}|[A-Za-z0-9_]{16,}")
_MAX_LOGGED_PATH = 512
_MAX_LOGGED_VALUE = 80

QueryRule = Callable[[str], bool]

logger = logging.getLogger("quietshop.access_log")


def _quote(value: str) -> str:
    """A field between double quotes: no quote, backslash or control character survives."""
    if value.isprintable() and '"' not in value and "\\" not in value:
        return value  # the common case, without a pass over every character
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value)
    return cleaned.replace("\\", "\\\\").replace('"', '\\"')


def redact_path(path: str) -> str:
    if _REVEALING.search(path) is None:
        return path[:_MAX_LOGGED_PATH]  # the common case: one scan, nothing to hide
    segments = [
        "{redacted}" if _REVEALING.search(segment) else segment for segment in path.split("/")
    ]
    return "/".join(segments)[:_MAX_LOGGED_PATH]


@dataclass(frozen=True)
class LogPolicy:
    """What the log may say of a request, from what each domain declared at assembly.

    ``private_prefixes``: paths whose raw form could name someone (``/account``); they are
    logged by route template only. ``query_rules``: the only query parameters kept, each
    only when its value passes its rule (a known sort, digits for a page), so a value that
    carries an address or a number someone typed never reaches the log.
    """

    private_prefixes: tuple[str, ...] = ()
    query_rules: Mapping[str, QueryRule] = field(default_factory=dict)
    _private: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        for prefix in self.private_prefixes:
            if not prefix.startswith("/") or prefix.endswith("/"):
                raise ValueError(f"a private prefix looks like /account, not {prefix!r}")
        escaped = "|".join(re.escape(p) for p in sorted(self.private_prefixes, key=len)[::-1])
        pattern = re.compile(f"^({escaped})(?:/|$)") if escaped else None
        object.__setattr__(self, "_private", pattern)  # derived once; the policy is frozen

    def private_prefix(self, path: str) -> str | None:
        match = self._private.match(path) if self._private is not None else None
        return match.group(1) if match else None

    def query(self, query_string: str) -> str:
        if not query_string:
            return ""
        kept = []
        for name, value in parse_qsl(query_string, keep_blank_values=True):
            rule = self.query_rules.get(name)
            if rule is not None and len(value) <= _MAX_LOGGED_VALUE and rule(value):
                kept.append((name, value))
        return urlencode(kept)

    def target(self, path: str, query_string: str, route_template: str | None) -> str:
        """What the log may say of the request target."""
        prefix = self.private_prefix(path)
        if prefix is not None:
            if route_template:
                return route_template
            return prefix if path == prefix else prefix + "/{unmatched}"
        query = self.query(query_string)
        logged = redact_path(path)
        return f"{logged}?{query}" if query else logged

    def referrer(self, referrer: str) -> str:
        """Scheme, host and path only; a referrer's query string could carry anyone's search."""
        if not referrer:
            return "-"
        try:
            parts = urlsplit(referrer)
        except ValueError:
            return "-"
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return "-"
        path = self.private_prefix(parts.path) or parts.path
        return f"{parts.scheme}://{parts.netloc}{redact_path(path)}"


@lru_cache(maxsize=4)
def _timestamp(epoch_second: int) -> str:
    """CLF time for one second; a busy server formats each second once, not per line."""
    return datetime.fromtimestamp(epoch_second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def format_line(
    *,
    client_ip: str,
    when: datetime,
    method: str,
    target: str,
    http_version: str,
    status: int,
    sent_bytes: int,
    referrer: str,
    user_agent: str,
    seconds: float | None = None,
) -> str:
    """One line; ``seconds``, the time the request took, follows the User-Agent as nginx's
    ``$request_time`` does (GoAccess and other readers of ``combined`` ignore it)."""
    stamp = _timestamp(int(when.timestamp()))
    took = "" if seconds is None else f" {max(seconds, 0.0):.3f}"
    return (
        f'{client_ip} - - [{stamp}] "{_quote(method)} {_quote(target)} HTTP/{http_version}" '
        f'{status} {sent_bytes if sent_bytes else "-"} "{_quote(referrer)}" '
        f'"{_quote(user_agent[:512])}"{took}\n'
    )


# Where a line's time starts: after "host - - [" (format_line writes ident and user as "-").
_STAMP_START = " - - ["
_MINUTE_CHARS = len("02/Dec/2026:15:04")


def _line_minute(line: str) -> str | None:
    """The minute of a line format_line wrote ("02/Dec/2026:15:04"), read off the line."""
    at = line.find(_STAMP_START)
    if at < 0:
        return None
    start = at + len(_STAMP_START)
    return line[start : start + _MINUTE_CHARS]


def _open_for_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)


class AccessLogFile:
    """Appends whole lines with O_APPEND so several worker processes can share one file.

    ``serve`` renames the file once its day is over (``analytics/log_retention.py``). A
    writer notices within a minute: when a line's minute differs from the minute it last
    looked, it compares the path's inode with its own descriptor's and reopens the path if
    they differ or the path is gone. So write() stats once a minute, not once a line; the
    lines of that minute land whole in the renamed file, each with its own time, and none
    is lost. The minute is read off the line, so every caller's one-argument write (the
    middleware's, a test's ``list.append``) stays as it is.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = _open_for_append(path)
        self._looked_in_minute: str | None = None
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        minute = _line_minute(line)
        with self._lock:
            if self._fd < 0:
                return
            if minute is None or minute != self._looked_in_minute:
                self._looked_in_minute = minute
                self._follow_rename()
            os.write(self._fd, line.encode("utf-8", "replace"))

    def _follow_rename(self) -> None:
        """Reopen the path if it no longer names the file this descriptor writes."""
        mine = os.fstat(self._fd)
        try:
            on_disk = os.stat(self.path)
        except OSError:
            pass  # gone (or unreadable): open a new one
        else:
            if (on_disk.st_ino, on_disk.st_dev) == (mine.st_ino, mine.st_dev):
                return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = _open_for_append(self.path)
        except OSError:
            # Keep writing to the file we have (renamed, not lost); try again next minute.
            logger.exception("could not reopen the access log %s", self.path)
            return
        os.close(self._fd)
        self._fd = fresh

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
