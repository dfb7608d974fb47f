"""Attempts per client address in a sliding window, kept in this process's memory only.

Every route that costs an argon2 hash or sends mail counts against it (sign-in,
registration, password reset, ...), so nobody can hammer one from one place. The
address lives here only for the length of the window and is never written next to an
account (P5); with several worker processes each keeps its own count.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

from quietshop.errors import TooManyAttempts

MAX_TRACKED_ADDRESSES = 100_000


class AttemptLimiter:
    """One per app. ``check`` counts an attempt or raises TooManyAttempts."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str, now: float | None = None) -> None:
        """Count an attempt; TooManyAttempts once the address used up its window.

        ``now`` is a monotonic reading (tests pass their own): a window is an interval,
        which the wall clock, stepping back and forth, would measure wrong.
        """
        moment = time.monotonic() if now is None else now
        with self._lock:
            attempts = self._attempts.setdefault(address, deque())
            self._attempts.move_to_end(address)
            while attempts and attempts[0] <= moment - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                raise TooManyAttempts(int(attempts[0] + self.window - moment) + 1)
            attempts.append(moment)
            while len(self._attempts) > MAX_TRACKED_ADDRESSES:
                self._attempts.popitem(last=False)
