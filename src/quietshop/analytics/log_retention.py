"""What `serve` does with its own access log's files (P5, issue 10 item 6): raw lines, with
their addresses, are kept ``access_log_retention_days`` days and then deleted.

One process does it, `serve`'s parent, at start and then every minute:

1. Rotation by rename. ``access.log`` whose first line is of a day before today (UTC) is
   renamed ``access.log.YYYY-MM-DD`` after that first line's day (``.1``, ``.2``... when
   the name is taken). The workers keep appending to the renamed file until their next
   minute, then reopen ``access.log`` (``web/access_log.py``): nothing is lost, and every
   line carries its own time, so a minute of the next day in the old file is harmless.
2. Deletion. Every ``access.log.YYYY-MM-DD[.n]`` of a day before today minus the retention
   is deleted. A name that does not parse is left alone and logged once; ``access.log``
   itself is never deleted.

Both steps read the injectable clock, so a test moves time instead of waiting; a second
round in the same minute finds nothing to do.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from quietshop.clock import Clock, system_clock
from quietshop.periodic import PeriodicJob, start_periodic

log = logging.getLogger("quietshop.analytics")

ROTATION_CHECK_SECONDS = 60.0
# A Combined Log Format line is well under this; the first line is all rotation reads.
_FIRST_LINE_BYTES = 8192
# host ident authuser [02/Dec/2026:15:04:05 +0000] ...
_CLF_TIME = re.compile(
    r"^\S+ \S+ \S+ \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]"
)
# Not strptime's %b: that follows the process's locale, and the log's months are English.
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def clf_day(line: str) -> date | None:
    """The UTC day of a Combined Log Format line's time, or None if the line is not CLF."""
    match = _CLF_TIME.match(line)
    if match is None or match[2] not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, off_hours, off_minutes = match.groups()
    offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
    try:
        moment = datetime(
            int(year),
            _MONTHS[match[2]],
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(-offset if sign == "-" else offset),
        )
    except ValueError:  # 31/Feb, hour 25, an offset of a day or more
        return None
    return moment.astimezone(UTC).date()


def _first_line(path: Path) -> str | None:
    """The file's first line, or None when the file is missing or empty."""
    try:
        with path.open("rb") as file:
            head = file.read(_FIRST_LINE_BYTES)
    except FileNotFoundError:
        return None
    if not head:
        return None
    return head.split(b"\n", 1)[0].decode("utf-8", "replace")


def _free_name(directory: Path, base: str) -> Path:
    candidate = directory / base
    suffix = 0
    while os.path.lexists(candidate):
        suffix += 1
        candidate = directory / f"{base}.{suffix}"
    return candidate


@dataclass
class AccessLogRetention:
    """Rotation and deletion for one access log; keeps which oddities it already logged,
    so a stray file is reported once, not every minute."""

    path: Path
    retention_days: int
    clock: Clock = system_clock
    _reported: set[str] = field(default_factory=set, repr=False)

    def run_once(self) -> tuple[Path | None, list[Path]]:
        """One round: the name the log was rotated to (if it was), and the files deleted."""
        today = self.clock().astimezone(UTC).date()
        rotated = self.rotate(today)
        return rotated, self.delete_expired(today)

    def rotate(self, today: date) -> Path | None:
        line = _first_line(self.path)
        if line is None:
            return None
        day = clf_day(line)
        if day is None:
            self._report_once(
                f"first-line:{self.path.stat().st_ino}",
                "%s does not start with a Combined Log Format line; not rotated",
                self.path,
            )
            return None
        if day >= today:
            return None
        # One process rotates (serve's parent), so nothing takes the name between the
        # look and the rename.
        target = _free_name(self.path.parent, f"{self.path.name}.{day.isoformat()}")
        os.rename(self.path, target)
        log.info("access log of %s rotated to %s", day.isoformat(), target.name)
        return target

    def delete_expired(self, today: date) -> list[Path]:
        oldest_kept = today - timedelta(days=self.retention_days)
        rotated_name = re.compile(
            re.escape(self.path.name) + r"\.(\d{4}-\d{2}-\d{2})(?:\.\d+)?", re.ASCII
        )
        deleted = []
        for entry in sorted(self.path.parent.glob(f"{self.path.name}.*")):
            day = _rotated_day(rotated_name, entry)
            if day is None:
                self._report_once(
                    f"name:{entry.name}", "left %s alone: not a rotated access log's name", entry
                )
            elif day < oldest_kept:
                try:
                    entry.unlink()
                except FileNotFoundError:
                    continue
                except OSError:
                    log.exception("could not delete the expired access log %s", entry)
                    continue
                log.info("deleted %s (older than %d days)", entry.name, self.retention_days)
                deleted.append(entry)
        return deleted

    def _report_once(self, key: str, message: str, subject: Path) -> None:
        if key not in self._reported:
            self._reported.add(key)
            log.warning(message, subject)


def _rotated_day(pattern: re.Pattern[str], entry: Path) -> date | None:
    match = pattern.fullmatch(entry.name)
    if match is None or entry.is_dir():
        return None
    try:
        return date.fromisoformat(match[1])
    except ValueError:  # 2026-13-45
        return None


def start_log_retention(
    retention: AccessLogRetention, *, interval_seconds: float = ROTATION_CHECK_SECONDS
) -> PeriodicJob:
    """Run ``retention`` at once (at start-up) and then every ``interval_seconds``."""
    return start_periodic("log-retention", retention.run_once, interval_seconds, log)
