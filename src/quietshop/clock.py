"""The one clock every service, sender and log line reads time from.

Nothing in Quietshop calls ``datetime.now()`` itself: time comes in as a ``Clock`` (any
callable returning a timezone-aware UTC ``datetime``) handed down from assembly, or as a
``now`` argument. Production passes ``system_clock``; tests pass a clock they move, so a
suite that is green today is green next year.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def to_the_minute(moment: datetime) -> datetime:
    """``moment`` without its seconds: how a personal record keeps the time of a request
    the access log also saw (P5, issue 10). A log line is stamped to the second; a record
    stamped to the minute no longer picks that one line out."""
    return moment.replace(second=0, microsecond=0)


def system_clock() -> datetime:
    """The wall clock, in UTC. The only reader of the real time in the package."""
    return datetime.now(UTC)
