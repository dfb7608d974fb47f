"""The one clock tests use: fixed at a moment of the test's choosing, moved by hand.

No test reads the wall clock. Every service, sender and app gets this clock (or a ``now``
taken from it), so what a test sees does not depend on the day it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# An arbitrary fixed moment; tests that need "later" move the clock from here.
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class MovableClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        self.now += timedelta(seconds=seconds, **delta)
        return self.now
