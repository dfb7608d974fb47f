"""A job that ``serve`` runs in a thread of its own, at start and then every so often:
housekeeping (orders, staff), salt destruction and log retention (analytics).

One round that raises is logged and the next one tries again: a database or file-system
hiccup must not end the job for the life of the server. Rounds read the injectable clock
themselves, so a test moves time instead of waiting for the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class PeriodicJob:
    thread: threading.Thread
    stop_event: threading.Event

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)


def start_periodic(
    name: str,
    one_round: Callable[[], Any],  # what it returns is not used
    interval_seconds: float,
    log: logging.Logger,
) -> PeriodicJob:
    """Run ``one_round`` at once and then every ``interval_seconds`` until stopped. The
    first round runs even if ``stop`` comes first, so a start never skips it."""
    stop_event = threading.Event()

    def run() -> None:
        while True:
            try:
                one_round()
            except Exception:  # tried again next round
                log.exception("%s: a round failed", name)
            if stop_event.wait(interval_seconds):
                return

    thread = threading.Thread(target=run, name=f"quietshop-{name}", daemon=True)
    thread.start()
    return PeriodicJob(thread, stop_event)
