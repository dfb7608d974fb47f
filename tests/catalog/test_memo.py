"""The catalog memo's search vocabulary: loaded once in the first request, then rebuilt in
the background after each whole-catalog change and swapped in, one rebuild at a time,
while searches keep the previous one (issue 11, item 6).

Loaders here are stand-ins held by ``threading.Event``s, so each test decides exactly
when a rebuild is under way and when it ends; nothing waits on the wall clock except as a
bound that only a broken memo would reach (``BOUND``). Time in the memo (its wait window,
its retry delay) comes from a monotonic clock the test moves by hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import pytest
from sqlalchemy.orm import Session, sessionmaker

from quietshop.catalog import service
from quietshop.catalog.memo import CatalogMemo, load_vocabulary
from quietshop.catalog.spelling import Vocabulary
from tests.catalog.factories import make_product, small_catalog

# Only a memo that deadlocks or never finishes a rebuild waits this long.
BOUND = 10.0
OLD_WORDS = "High Speed HDMI Cable"
NEW_WORDS = "High Speed HDMI Cable Toslink Optical Cable"


class Versions:
    """The catalog generation the memo reads; ``bump`` is a whole-catalog change."""

    def __init__(self) -> None:
        self.value = 1

    def __call__(self) -> int:
        return self.value

    def bump(self) -> None:
        self.value += 1


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Stands in for load_vocabulary: answers ``words``, can be held or made to fail, and
    notes every call (its session, its thread, how many ran at once)."""

    def __init__(self, words: str = OLD_WORDS) -> None:
        self.words = words
        self.hold = False
        self.fail_with: Exception | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[tuple[object, str]] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, session: Session) -> Vocabulary:
        with self._lock:
            self.calls.append((session, threading.current_thread().name))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.entered.set()
            if self.hold:
                assert self.release.wait(BOUND), "the test never released the loader"
            if self.fail_with is not None:
                raise self.fail_with
            return Vocabulary([self.words])
        finally:
            with self._lock:
                self.running -= 1


class FakeSessions:
    """The memo's own sessions: a distinct object per opening, counted."""

    def __init__(self) -> None:
        self.opened: list[object] = []

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        session = object()
        self.opened.append(session)
        yield cast(Session, session)


REQUEST_SESSION = cast(Session, object())


def memo_for(
    loader: Loader,
    versions: Versions,
    own: FakeSessions,
    *,
    retry_after: float = 5.0,
    monotonic: Monotonic | None = None,
) -> CatalogMemo:
    """A memo that never waits for its rebuilds: each test says when one ends."""
    return CatalogMemo(
        versions,
        own,
        vocabulary_loader=loader,
        fresh_wait=0.0,
        retry_after=retry_after,
        monotonic=monotonic or Monotonic(),
    )


def corrects(memo: CatalogMemo, word: str) -> str:
    return memo.vocabulary(REQUEST_SESSION).correct(word)


@pytest.fixture
def versions() -> Versions:
    return Versions()


@pytest.fixture
def loader() -> Loader:
    return Loader()


@pytest.fixture
def own() -> FakeSessions:
    return FakeSessions()


def test_the_first_load_runs_in_the_request_with_the_requests_session(
    versions: Versions, loader: Loader, own: FakeSessions
) -> None:
    memo = memo_for(loader, versions, own)
    assert corrects(memo, "hdmo") == "hdmi"
    # Nothing to answer with yet: the request loads it itself, once, in its own session.
    assert loader.calls == [(REQUEST_SESSION, threading.current_thread().name)]
    assert own.opened == [] and not memo.rebuilding
    assert memo.vocabulary(REQUEST_SESSION) is memo.vocabulary(REQUEST_SESSION)
    assert memo.loads["vocabulary"] == 1 and len(loader.calls) == 1


def test_after_a_change_searches_keep_the_previous_vocabulary_until_the_new_one_is_in(
    versions: Versions, loader: Loader, own: FakeSessions
) -> None:
    memo = memo_for(loader, versions, own)
    previous = memo.vocabulary(REQUEST_SESSION)
    loader.words, loader.hold = NEW_WORDS, True
    versions.bump()
    assert memo.vocabulary_behind()

    # The rebuild is under way and held: searches answer at once with the previous words.
    assert memo.vocabulary(REQUEST_SESSION) is previous
    assert loader.entered.wait(BOUND) and memo.rebuilding
    assert corrects(memo, "toslnk") == "toslnk"  # not a catalog word yet
    assert memo.vocabulary_behind()

    loader.release.set()
    assert memo.wait_for_rebuild(BOUND)
    assert corrects(memo, "toslnk") == "toslink"
    assert not memo.rebuilding and not memo.vocabulary_behind()
    # Rebuilt in a thread of its own, in a session of its own (not the request's).
    (first_session, first_thread), (session, thread) = loader.calls
    assert first_session is REQUEST_SESSION and session is own.opened[0]
    assert thread != first_thread and thread == "catalog-vocabulary"
    assert memo.loads["vocabulary"] == 2


def test_only_one_rebuild_runs_at_a_time_whatever_the_requests_and_changes(
    versions: Versions, loader: Loader, own: FakeSessions
) -> None:
    memo = memo_for(loader, versions, own)
    previous = memo.vocabulary(REQUEST_SESSION)
    loader.hold = True
    versions.bump()
    start = threading.Barrier(8)
    answers: list[Vocabulary] = []

    def search() -> None:
        start.wait(BOUND)
        answers.append(memo.vocabulary(REQUEST_SESSION))
        versions.bump()  # changes keep coming while the rebuild runs

    threads = [threading.Thread(target=search) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND)
    assert answers == [previous] * 8
    assert len(loader.calls) == 2  # the first load, and one rebuild for all eight

    loader.release.set()
    assert memo.wait_for_rebuild(BOUND)
    # That rebuild was for the generation it started at; the catalog moved on since, so
    # the next search starts the next rebuild.
    assert memo.vocabulary_behind()
    memo.vocabulary(REQUEST_SESSION)
    assert memo.wait_for_rebuild(BOUND)
    assert len(loader.calls) == 3 and not memo.vocabulary_behind()
    assert loader.most_at_once == 1


def test_a_failing_rebuild_is_logged_keeps_search_working_and_is_retried_later(
    versions: Versions, loader: Loader, own: FakeSessions, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Monotonic()
    memo = memo_for(loader, versions, own, retry_after=5.0, monotonic=clock)
    previous = memo.vocabulary(REQUEST_SESSION)
    # A database error's message may quote the statement's values: it is not logged.
    loader.fail_with = RuntimeError("database is locked: SELECT ... 'quoted value'")
    loader.words = NEW_WORDS
    versions.bump()
    with caplog.at_level(logging.ERROR, logger="quietshop.catalog"):
        assert memo.vocabulary(REQUEST_SESSION) is previous
        assert memo.wait_for_rebuild(BOUND)
    assert "vocabulary rebuild for catalog generation 2 failed (RuntimeError)" in caplog.text
    assert "quoted value" not in caplog.text
    assert memo.vocabulary_behind() and not memo.rebuilding

    # Search goes on with the previous words; the same generation is not retried at once.
    loader.fail_with = None
    assert corrects(memo, "hdmo") == "hdmi"
    assert memo.wait_for_rebuild(BOUND) and len(loader.calls) == 2

    clock.now += 5.0  # the retry delay has passed: the next search tries again
    memo.vocabulary(REQUEST_SESSION)
    assert memo.wait_for_rebuild(BOUND)
    assert len(loader.calls) == 3 and corrects(memo, "toslnk") == "toslink"


def test_a_newer_change_retries_a_failed_rebuild_at_once(
    versions: Versions, loader: Loader, own: FakeSessions
) -> None:
    memo = memo_for(loader, versions, own, retry_after=3600.0, monotonic=Monotonic())
    memo.vocabulary(REQUEST_SESSION)
    loader.fail_with = OSError("disk I/O error")
    versions.bump()
    memo.vocabulary(REQUEST_SESSION)
    assert memo.wait_for_rebuild(BOUND) and len(loader.calls) == 2
    loader.fail_with, loader.words = None, NEW_WORDS
    versions.bump()
    memo.vocabulary(REQUEST_SESSION)
    assert memo.wait_for_rebuild(BOUND)
    assert len(loader.calls) == 3 and corrects(memo, "toslnk") == "toslink"


def test_the_search_that_starts_a_quick_rebuild_waits_for_it(
    versions: Versions, loader: Loader, own: FakeSessions
) -> None:
    # A small shop's rebuild takes milliseconds: the search that found the change answers
    # with the new words, so an owner who adds a product sees its name corrected at once.
    memo = CatalogMemo(versions, own, vocabulary_loader=loader, fresh_wait=BOUND)
    memo.vocabulary(REQUEST_SESSION)
    loader.words = NEW_WORDS
    versions.bump()
    assert corrects(memo, "toslnk") == "toslink"
    assert len(loader.calls) == 2 and not memo.rebuilding


def test_searches_after_the_wait_window_answer_at_once_with_the_previous_vocabulary(
    versions: Versions, loader: Loader, own: FakeSessions
) -> None:
    clock = Monotonic()
    memo = CatalogMemo(versions, own, vocabulary_loader=loader, fresh_wait=BOUND, monotonic=clock)
    previous = memo.vocabulary(REQUEST_SESSION)
    loader.hold = True
    versions.bump()
    first = threading.Thread(target=memo.vocabulary, args=(REQUEST_SESSION,))
    first.start()  # starts the rebuild and waits for it, up to its window
    assert loader.entered.wait(BOUND)
    clock.now += BOUND  # the window is over: later searches do not wait at all
    answers: list[Vocabulary] = []
    later = threading.Thread(target=lambda: answers.append(memo.vocabulary(REQUEST_SESSION)))
    later.start()
    later.join(BOUND / 2)
    still_waiting = later.is_alive()
    loader.release.set()
    first.join(BOUND)
    later.join(BOUND)
    assert not still_waiting and answers == [previous]


def test_each_application_keeps_its_own_memo(versions: Versions) -> None:
    shop_a, shop_b = Loader("Toslink Cable"), Loader("Crimping Tool")
    memo_a = memo_for(shop_a, versions, FakeSessions())
    memo_b = memo_for(shop_b, versions, FakeSessions())
    assert corrects(memo_a, "toslnk") == "toslink"
    assert corrects(memo_b, "toslnk") == "toslnk"  # not that shop's word
    assert len(shop_a.calls) == len(shop_b.calls) == 1


def test_without_sessions_of_its_own_the_memo_reloads_inline(
    versions: Versions, loader: Loader
) -> None:
    # Scripts and service tests hand no sessions: the caller's session reloads it.
    memo = CatalogMemo(versions, vocabulary_loader=loader)
    memo.vocabulary(REQUEST_SESSION)
    loader.words = NEW_WORDS
    versions.bump()
    assert not memo.vocabulary_behind()
    assert corrects(memo, "toslnk") == "toslink"
    assert [session for session, _ in loader.calls] == [REQUEST_SESSION] * 2


# ---------------------------------------------------------------- on the real database


def test_the_real_vocabulary_from_an_empty_catalog_then_rebuilt_in_its_own_session(
    db: Session, sessions: sessionmaker[Session]
) -> None:
    """Empty catalog: an empty vocabulary that corrects nothing. Then a catalog, and a
    change: searches stay correct while the rebuild (held) runs, then see the new words.
    (A hostile or huge query is searched with whatever vocabulary is in: test_service.)"""
    versions = Versions()
    gate = threading.Event()

    def gated(session: Session) -> Vocabulary:
        # The test's sessions share one connection: the rebuild reads only once the
        # search that started it is done with it.
        assert gate.wait(BOUND)
        return load_vocabulary(session)

    memo = CatalogMemo(versions, sessions, vocabulary_loader=gated, fresh_wait=0.0)
    gate.set()
    empty = service.search_products(db, "cable", memo=memo)
    assert (empty.total, empty.corrected) == (0, False)
    assert memo.vocabulary(db).counts == {}

    catalog = small_catalog(db)
    make_product(db, catalog.tools, name="Toslink Optical Cable")
    db.commit()
    versions.bump()
    gate.clear()
    stale = service.search_products(db, "toslnk", memo=memo)
    assert stale.total == 0 and not stale.corrected  # the previous (empty) vocabulary
    assert memo.rebuilding
    gate.set()
    assert memo.wait_for_rebuild(BOUND)
    fresh = service.search_products(db, "toslnk", memo=memo)
    assert fresh.corrected and [item.name for item in fresh.items] == ["Toslink Optical Cable"]
