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


def system_clock() -> datetime:
    """The wall clock, in UTC. The only reader of the real time in the package."""
    return datetime.now(UTC)
