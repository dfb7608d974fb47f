"""serve's periodic jobs (periodic.py): a round that fails is logged and the next one runs;
the first round runs even when the job is stopped at once; stop ends the thread."""

from __future__ import annotations

import logging
import threading

import pytest

from quietshop.periodic import start_periodic

log = logging.getLogger("tests.periodic")


def test_a_failing_round_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    second = threading.Event()

    def one_round() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the database went away")
        second.set()

    with caplog.at_level(logging.ERROR, logger="tests.periodic"):
        job = start_periodic("probe", one_round, 0.01, log)
        try:
            assert second.wait(5)
        finally:
            job.stop(timeout=5)
    assert not job.thread.is_alive()
    assert rounds[:2] == [0, 1]
    assert "probe: a round failed" in caplog.text and "the database went away" in caplog.text


def test_the_first_round_runs_even_if_stopped_at_once() -> None:
    ran = threading.Event()
    job = start_periodic("probe", ran.set, 3600, log)
    job.stop(timeout=5)
    assert ran.is_set() and not job.thread.is_alive()
    assert job.thread.name == "quietshop-probe" and job.thread.daemon
